// Signing in on the web map, a planner editing and a cadre claiming, in Chromium against the real
// binary: accounts are made with `wangge user add` in the server's database, every change goes
// through the real API, and the tests check what the server then answers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bbox, interiorPoint, positions } from '../src/geo.js';
import { addUser, apiToken, demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const VIEWPORT = { width: 1280, height: 800 };
const TIMEOUT = 120_000;
const PLANNER = { name: 'guihua', role: 'planner', password: 'planner-pass-1' };
const CADRE = { name: 'zhangwei', role: 'cadre', password: 'cadre-pass-1', displayName: '张伟', phone: '13800000001' };

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
  assert.deepEqual(log.expectations, [], 'expected error answers that did not come');
}

/** Screen coordinates (page pixels) of [lon, lat] on the map. */
function screenPoint(page, lngLat) {
  return page.evaluate((c) => {
    const p = window.map.project(c);
    const r = window.map.getContainer().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, lngLat);
}

async function signIn(page, { name, password }) {
  await page.click('#signin-open');
  await page.fill('#signin-name', name);
  await page.fill('#signin-password', password);
  await page.click('#signin-submit');
  await page.waitForSelector('#account-user:not([hidden])');
}

async function getJson(server, path, token) {
  const res = await fetch(server.url(path), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, etag: res.headers.get('etag'), body: await res.json().catch(() => null) };
}

/**
 * What the server under test documents in its OpenAPI: planner editing and claims were built on
 * branches of their own, and a test of a page feature whose endpoints the binary does not have
 * yet is skipped with the reason, not failed; with the endpoints it runs in full.
 */
async function offered(server) {
  const { paths } = (await getJson(server, '/api/v1/openapi.json')).body;
  const all = (list) => list.every((p) => p in paths);
  return {
    editing: all(['/api/v1/grids', '/api/v1/grids/{id}', '/api/v1/grids/validate', '/api/v1/grids/{id}/split', '/api/v1/grids/merge', '/api/v1/grids/{id}/history']),
    claims: all(['/api/v1/areas/{id}/claim', '/api/v1/areas/{id}/release', '/api/v1/areas/holders', '/api/v1/me/areas']),
  };
}

describe('accounts on the web map', { timeout: 10 * TIMEOUT }, () => {
  let server;
  let browser;
  let has;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    await addUser(server, PLANNER);
    has = await offered(server);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function newPage() {
    const context = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN' });
    const page = await context.newPage();
    const log = await watch(context, page);
    return { context, page, log };
  }

  test('sign in shows who is signed in and the role; a wrong password is refused; sign out revokes', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      assert.equal(await page.isHidden('#editor'), true);
      assert.equal(await page.isHidden('#my-areas'), true);

      // The 401 of a wrong password is part of this test: declared, so that it (and Chromium's
      // console line about it) is not taken for a failure, and asserted to have happened.
      log.expect(/^\/api\/v1\/auth\/login$/, 401);
      await page.click('#signin-open');
      await page.fill('#signin-name', PLANNER.name);
      await page.fill('#signin-password', 'wrong password');
      await page.click('#signin-submit');
      await page.waitForSelector('#signin-error:not([hidden])');
      assert.match(await page.textContent('#signin-error'), /名称或密码错误/);
      assert.deepEqual(log.expected, ['/api/v1/auth/login: HTTP 401']);

      await page.fill('#signin-password', PLANNER.password);
      await page.click('#signin-submit');
      await page.waitForSelector('#account-user:not([hidden])');
      assert.equal(await page.textContent('#account-name'), PLANNER.name);
      assert.equal(await page.textContent('#account-role'), '规划员');
      assert.equal(await page.isVisible('#editor'), true);
      const token = await page.evaluate(() => JSON.parse(sessionStorage.getItem('wangge.session')).token);
      assert.equal((await getJson(server, '/api/v1/me', token)).body.name, PLANNER.name);
      await saveScreenshot(page, 'signed-in-planner.png');

      // A reload keeps the session (same tab).
      await openMap(page, server.base);
      await page.waitForSelector('#account-user:not([hidden])');
      assert.equal(await page.isVisible('#editor'), true);

      const logout = page.waitForResponse((r) => r.url().endsWith('/api/v1/auth/logout'));
      await page.click('#signout');
      assert.equal((await logout).status(), 204);
      await page.waitForSelector('#account-anonymous:not([hidden])');
      assert.equal(await page.isHidden('#editor'), true);
      assert.equal(await page.evaluate(() => sessionStorage.getItem('wangge.session')), null);
      assert.equal((await getJson(server, '/api/v1/me', token)).status, 401, 'the token still works after sign-out');
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  /** Moves the camera and waits for the map to settle. */
  async function view(page, center, zoom) {
    await page.evaluate(([c, z]) => window.map.jumpTo({ center: c, zoom: z }), [center, zoom]);
    await mapIdle(page);
  }

  // The demo grids cover their communities without gaps, so the new grid goes where one was:
  // the planner deletes 海门路社区第一网格 and draws it again, vertex by vertex, a few pixels off
  // each one; snapping to the neighbours and the community boundary must put every vertex back
  // exactly, or the server finds a gap, an overlap or a part outside the community.
  const REDRAWN = '370202010006001';

  test('a planner draws a grid with snapping, fills the form, saves it, and the server serves it back', { timeout: TIMEOUT }, async (t) => {
    if (!has.editing) return t.skip('this binary has no planner editing endpoints');
    const { context, page, log } = await newPage();
    try {
      const old = (await demoLayer('grids')).features.find((f) => f.properties.code === REDRAWN);
      const vertices = old.geometry.coordinates[0].slice(0, -1);
      const middle = interiorPoint(old.geometry);
      await openMap(page, server.base);
      await signIn(page, PLANNER);
      await view(page, middle, 17);

      // Choose it with a click and delete it (the page asks first).
      await page.click('#edit-pick');
      const at = await screenPoint(page, middle);
      await page.mouse.click(at.x, at.y);
      await page.waitForFunction((code) => document.querySelector('#edit-selection').textContent.includes(code), REDRAWN);
      page.once('dialog', (d) => d.accept());
      await page.click('#edit-delete');
      await page.waitForFunction(() => document.querySelector('#message').textContent.includes('已删除'));
      assert.equal((await getJson(server, `/api/v1/lookup?lon=${middle[0]}&lat=${middle[1]}`)).body.grid, null);

      await page.click('#edit-new');
      await page.waitForFunction(() => document.querySelector('#edit-status').textContent.includes('依次点击'));
      const offsets = [[4, -3], [-3, 4], [3, 3], [-4, -2]];
      for (const [i, v] of vertices.entries()) {
        const p = await screenPoint(page, v);
        const [dx, dy] = offsets[i % offsets.length];
        await page.mouse.move(p.x + dx - 8, p.y + dy - 8);
        await page.mouse.move(p.x + dx, p.y + dy, { steps: 4 });
        await page.mouse.click(p.x + dx, p.y + dy);
      }
      // Close the ring on its first point.
      const first = await screenPoint(page, vertices[0]);
      await page.mouse.move(first.x, first.y, { steps: 4 });
      await page.mouse.click(first.x, first.y);
      await page.waitForFunction(() => document.querySelector('#edit-status').textContent.includes('已闭合'));
      await page.fill('#edit-code', '370202010006099');
      await page.fill('#edit-name', '海门路社区新网格');
      await page.fill('#edit-parent', old.properties.parent_code);
      await saveScreenshot(page, 'planner-drawing.png');
      const created = page.waitForResponse((r) => r.url().endsWith('/api/v1/grids') && r.request().method() === 'POST');
      await page.click('#edit-save');
      const answer = await created;
      assert.equal(answer.status(), 201, await answer.text());
      const feature = await answer.json();
      assert.ok(feature.reassigned.households > 0, JSON.stringify(feature.reassigned));
      await page.waitForFunction(() => document.querySelector('#message').textContent.includes('已保存'));

      // The server serves it back: by id, with every vertex where it was, and to a lookup.
      const got = await getJson(server, `/api/v1/grids/${feature.properties.id}`);
      assert.equal(got.status, 200);
      assert.equal(got.body.properties.code, '370202010006099');
      assert.equal(got.body.properties.parent_code, old.properties.parent_code);
      const saved = positions(got.body.geometry);
      assert.equal(saved.length, vertices.length + 1);
      for (const v of vertices) {
        assert.ok(saved.some(([x, y]) => Math.abs(x - v[0]) < 1e-9 && Math.abs(y - v[1]) < 1e-9), `${v} not snapped: ${JSON.stringify(saved)}`);
      }
      const lookup = await getJson(server, `/api/v1/lookup?lon=${middle[0]}&lat=${middle[1]}`);
      assert.equal(lookup.body.grid?.code, '370202010006099');
      // ...and the map draws it from the new tiles.
      await page.waitForFunction(
        () => window.map.queryRenderedFeatures({ layers: ['grids-fill'] }).some((f) => f.properties.name === '海门路社区新网格'),
        null,
        { timeout: 30_000 },
      );
      await mapIdle(page);
      await saveScreenshot(page, 'planner-saved.png');
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('an edit that overlaps a neighbour is shown in red and listed, and nothing is saved', { timeout: TIMEOUT }, async (t) => {
    if (!has.editing) return t.skip('this binary has no planner editing endpoints');
    const { context, page, log } = await newPage();
    const writes = [];
    page.on('request', (r) => {
      if (r.method() === 'PATCH' || (r.method() === 'POST' && /\/api\/v1\/grids(\/\d+)?$/.test(new URL(r.url()).pathname))) writes.push(r.url());
    });
    try {
      // Two demo grids sharing a vertex V: V of the first is dragged a third of the way into the
      // second.
      const grids = (await demoLayer('grids')).features;
      const key = ([x, y]) => `${x},${y}`;
      let pair = null;
      const others = grids.filter((f) => f.properties.code !== REDRAWN);
      for (const g of others) {
        for (const n of others) {
          if (g === n || pair) continue;
          const theirs = new Set(n.geometry.coordinates[0].map(key));
          const v = g.geometry.coordinates[0].slice(1).find((p) => theirs.has(key(p)));
          if (v) pair = { g, n, v };
        }
      }
      const { g, n, v } = pair;
      const inside = interiorPoint(n.geometry);
      const to = [v[0] + (inside[0] - v[0]) / 3, v[1] + (inside[1] - v[1]) / 3];
      const ids = {};
      for (const f of [g, n]) {
        const lookup = await getJson(server, `/api/v1/lookup?lon=${interiorPoint(f.geometry)[0]}&lat=${interiorPoint(f.geometry)[1]}`);
        ids[f.properties.code] = lookup.body.grid.id;
      }
      const before = await Promise.all([g, n].map((f) => getJson(server, `/api/v1/grids/${ids[f.properties.code]}`)));

      await openMap(page, server.base);
      await signIn(page, PLANNER);
      await view(page, v, 17);
      // Choose the grid with a click, then edit its boundary.
      await page.click('#edit-pick');
      const gPoint = interiorPoint(g.geometry);
      const gScreen = await screenPoint(page, gPoint);
      const inView = gScreen.x > 340 && gScreen.x < VIEWPORT.width && gScreen.y > 0 && gScreen.y < VIEWPORT.height;
      if (!inView) await view(page, [(gPoint[0] + v[0]) / 2, (gPoint[1] + v[1]) / 2], 16.5);
      const pick = await screenPoint(page, gPoint);
      await page.mouse.click(pick.x, pick.y);
      await page.waitForFunction((code) => document.querySelector('#edit-selection').textContent.includes(code), g.properties.code);
      assert.equal(await page.inputValue('#edit-name'), g.properties.name);
      await page.click('#edit-geometry');
      await page.waitForFunction(() => document.querySelector('#edit-status').textContent.includes('拖动顶点'));
      const from = await screenPoint(page, v);
      const target = await screenPoint(page, to);
      await page.mouse.move(from.x, from.y, { steps: 3 });
      await page.mouse.down();
      await page.mouse.move(target.x, target.y, { steps: 12 });
      await page.mouse.up();

      const validated = page.waitForResponse((r) => r.url().includes('/api/v1/grids/validate'));
      await page.click('#edit-save');
      const check = await (await validated).json();
      assert.equal(check.valid, false);
      await page.waitForSelector('#edit-problems li[data-code="overlap"]');
      const listed = await page.textContent('#edit-problems');
      assert.match(listed, /与相邻要素重叠/);
      assert.ok(listed.includes(n.properties.name), listed);
      assert.match(await page.textContent('#edit-status'), /未保存/);
      await mapIdle(page);
      const red = await page.evaluate(() => window.map.queryRenderedFeatures({ layers: ['edit-problems-fill'] }).length);
      assert.ok(red > 0, 'the overlap is not drawn');
      await saveScreenshot(page, 'planner-overlap.png');

      // Nothing was written: no write request, both versions as before.
      assert.deepEqual(writes, []);
      const after = await Promise.all([g, n].map((f) => getJson(server, `/api/v1/grids/${ids[f.properties.code]}`)));
      assert.deepEqual(after.map((r) => r.etag), before.map((r) => r.etag));
      assert.deepEqual(after[0].body.geometry, before[0].body.geometry);
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('a cadre sees the unclaimed areas, claims one with clicks, finds it in 我的责任田, and the lookup answers the holder', { timeout: TIMEOUT }, async (t) => {
    if (!has.claims) return t.skip('this binary has no claims endpoints');
    await addUser(server, CADRE);
    const { context, page, log } = await newPage();
    try {
      const area = (await demoLayer('areas')).features[2];
      const point = interiorPoint(area.geometry);
      await openMap(page, server.base);
      assert.equal(await page.evaluate(() => window.map.getLayoutProperty('areas-unclaimed', 'visibility')), 'none');
      await signIn(page, CADRE);
      assert.equal(await page.textContent('#account-name'), '张伟');
      assert.equal(await page.textContent('#account-role'), '街道干部');
      await page.waitForFunction(() => document.querySelector('#my-areas-list').textContent.includes('还没有认领'));
      assert.equal(await page.isHidden('#editor'), true);

      // The unclaimed areas are filled (the `claimed` property of the tiles).
      await view(page, point, 16);
      const unclaimed = () => page.evaluate(() => window.map.queryRenderedFeatures({ layers: ['areas-unclaimed'] }).map((f) => f.properties.name));
      assert.equal(await page.evaluate(() => window.map.getLayoutProperty('areas-unclaimed', 'visibility')), 'visible');
      assert.ok((await unclaimed()).includes(area.properties.name), `${await unclaimed()}`);
      assert.match(await page.textContent('#unclaimed-count'), /未认领 \d+ 块/);

      // Click the area, then 认领 under it in the answer.
      const at = await screenPoint(page, point);
      await page.mouse.click(at.x, at.y);
      const item = `#info-body li[data-area]:has-text("${area.properties.name}")`;
      await page.waitForSelector(`${item} button.claim`);
      assert.match(await page.textContent(item), /未认领/);
      const claimed = page.waitForResponse((r) => r.url().endsWith('/claim'));
      await page.click(`${item} button.claim`);
      assert.equal((await claimed).status(), 201);

      // 我的责任田 lists it with its households; the answer names the holder; the fill is gone.
      await page.waitForFunction((name) => document.querySelector('#my-areas-list').textContent.includes(name), area.properties.name);
      assert.match(await page.textContent('#my-areas-list'), /\d+ 户/);
      await page.waitForFunction((name) => [...document.querySelectorAll('#info-body li[data-area]')].some((li) => li.textContent.includes(name) && li.textContent.includes('责任人：张伟')), area.properties.name);
      await page.waitForFunction(
        (name) => !window.map.queryRenderedFeatures({ layers: ['areas-unclaimed'] }).some((f) => f.properties.name === name),
        area.properties.name,
        { timeout: 30_000 },
      );
      await mapIdle(page);
      await saveScreenshot(page, 'cadre-claimed.png');

      // The server answers the holder to anyone's lookup, and lists the area as the cadre's.
      const lookup = await getJson(server, `/api/v1/lookup?lon=${point[0]}&lat=${point[1]}`);
      const answered = lookup.body.areas.find((a) => a.code === area.properties.code);
      assert.equal(answered.holder && 'name' in answered.holder, false, 'no login name in an anonymous answer');
      assert.equal(answered.holder?.display_name, '张伟');
      assert.equal(answered.holder?.phone, CADRE.phone);
      const token = await apiToken(server, CADRE.name, CADRE.password);
      const mine = await getJson(server, '/api/v1/me/areas', token);
      assert.deepEqual(mine.body.areas.map((a) => a.code), [area.properties.code]);

      // Released from 我的责任田, it is unclaimed again.
      const released = page.waitForResponse((r) => r.url().endsWith('/release'));
      await page.click('#my-areas-list button.release');
      assert.equal((await released).status(), 200);
      await page.waitForFunction(() => document.querySelector('#my-areas-list').textContent.includes('还没有认领'));
      const again = await getJson(server, `/api/v1/lookup?lon=${point[0]}&lat=${point[1]}`);
      assert.equal(again.body.areas.find((a) => a.code === area.properties.code).holder, null);
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('a planner splits a grid by a line, merges the parts back, reads the history, and is told when someone saved first', { timeout: TIMEOUT }, async (t) => {
    if (!has.editing) return t.skip('this binary has no planner editing endpoints');
    const other = { name: 'guihua2', role: 'planner', password: 'planner-pass-2' };
    await addUser(server, other);
    const { context, page, log } = await newPage();
    try {
      const grid = (await demoLayer('grids')).features.find((f) => f.properties.code === '370202010005003');
      const newCode = `${grid.properties.parent_code}099`;
      const [w, s, e, n] = bbox(grid.geometry);
      const y = (s + n) / 2;
      const margin = (e - w) / 6;
      await openMap(page, server.base);
      await signIn(page, PLANNER);
      await page.evaluate((b) => window.map.fitBounds(b, { padding: 120, duration: 0 }), [[w, s], [e, n]]);
      await mapIdle(page);
      await page.click('#edit-pick');
      const at = await screenPoint(page, interiorPoint(grid.geometry));
      await page.mouse.click(at.x, at.y);
      await page.waitForFunction((code) => document.querySelector('#edit-selection').textContent.includes(code), grid.properties.code);

      // 分割: a line across it, the last point clicked twice to finish.
      await page.click('#edit-split');
      const ends = [await screenPoint(page, [w - margin, y]), await screenPoint(page, [e + margin, y])];
      for (const p of [...ends, ends[1]]) {
        await page.mouse.move(p.x - 6, p.y - 6);
        await page.mouse.move(p.x, p.y, { steps: 4 });
        await page.mouse.click(p.x, p.y);
      }
      await page.waitForFunction(() => document.querySelector('#edit-status').textContent.includes('分割线已画好'));
      await page.fill('#split-code', newCode);
      await page.fill('#split-name', `${grid.properties.name}南部`);
      const splitAnswer = page.waitForResponse((r) => r.url().includes('/split'));
      await page.click('#split-save');
      const splitResponse = await splitAnswer;
      assert.equal(splitResponse.status(), 200, await splitResponse.text());
      const split = await splitResponse.json();
      await page.waitForFunction(() => document.querySelector('#message').textContent.includes('已分割'));
      const codes = [split.kept.properties.code, split.created.properties.code];
      assert.deepEqual(codes.sort(), [grid.properties.code, newCode].sort());
      const points = [split.kept, split.created].map((f) => interiorPoint(f.geometry));
      const lookedUp = async () =>
        Promise.all(points.map(async ([lon, lat]) => (await getJson(server, `/api/v1/lookup?lon=${lon}&lat=${lat}`)).body.grid?.code));
      assert.deepEqual(await lookedUp(), [split.kept.properties.code, split.created.properties.code]);
      await mapIdle(page);
      await saveScreenshot(page, 'planner-split.png');

      // 合并: both parts are chosen after the split.
      assert.equal(await page.locator('#edit-selection li').count(), 2);
      const mergeAnswer = page.waitForResponse((r) => r.url().endsWith('/api/v1/grids/merge'));
      await page.click('#edit-merge');
      const mergeResponse = await mergeAnswer;
      assert.equal(mergeResponse.status(), 200, await mergeResponse.text());
      const merged = await mergeResponse.json();
      await page.waitForFunction(() => document.querySelector('#message').textContent.includes('已合并'));
      assert.deepEqual(await lookedUp(), [split.kept.properties.code, split.kept.properties.code]);

      // 历史: every version of the grid; the first one is drawn in orange.
      await page.click('#edit-history');
      await page.waitForSelector('#history-list .history-version');
      const versions = await page.$$eval('#history-list .history-version', (b) => b.map((x) => x.textContent));
      assert.equal(versions.length, 3, versions.join(' | '));
      assert.match(versions[1], /分割/);
      assert.match(versions[2], /合并.*当前/);
      await page.click('#history-list li:first-child .history-version');
      await mapIdle(page);
      const orange = await page.evaluate(() => window.map.queryRenderedFeatures({ layers: ['edit-history-line'] }).length);
      assert.ok(orange > 0, 'the old version is not drawn');
      await saveScreenshot(page, 'planner-history.png');

      // Someone else renames it first: this page's save is refused (412) and says so. The 412 is
      // provoked on purpose, so it is declared (see helpers.mjs watch()).
      const id = merged.merged.properties.id;
      const token = await apiToken(server, other.name, other.password);
      const current = await getJson(server, `/api/v1/grids/${id}`);
      const patched = await fetch(server.url(`/api/v1/grids/${id}`), {
        method: 'PATCH',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'if-match': current.etag },
        body: JSON.stringify({ type: 'Feature', geometry: null, properties: { name: '别人改的名字' } }),
      });
      assert.equal(patched.status, 200);
      log.expect(/^\/api\/v1\/grids\/\d+$/, 412);
      await page.fill('#edit-name', '我改的名字');
      await page.click('#edit-save');
      await page.waitForFunction(() => document.querySelector('#message').textContent.includes('已被他人修改'));
      assert.deepEqual(log.expected, [`/api/v1/grids/${id}: HTTP 412`]);
      assert.equal(await page.inputValue('#edit-name'), '别人改的名字');
      assert.equal((await getJson(server, `/api/v1/grids/${id}`)).body.properties.name, '别人改的名字');
      assertClean(log);
    } finally {
      await context.close();
    }
  });
});
