// 我的走访 on a cadre's phone (390×844, touch) in Chromium against the real binary: a cadre made
// with `wangge user add` holds a responsibility area, stands in it (the browser's geolocation),
// gets the due households in walking order, records a visit at the door, and records another
// with no network, which waits on the phone and is sent once when the network is back. What
// reached the server is checked with the server's own API.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { interiorPoint } from '../src/geo.js';
import { stopsOf } from '../src/walk.js';
import { coverageColour } from '../src/coverage.js';
import { addUser, apiToken, demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };
const TIMEOUT = 180_000;
const CADRE = { name: 'liqiang', role: 'cadre', password: 'cadre-pass-2', displayName: '李强', phone: '13800000002' };

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
  assert.deepEqual(log.expectations, [], 'expected error answers that did not come');
}

async function getJson(server, path, token) {
  const res = await fetch(server.url(path), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** The visits the server has stored for a household, newest first. */
async function visitsOf(server, token, household) {
  const { status, body } = await getJson(server, `/api/v1/households/${household}/visits`, token);
  assert.equal(status, 200);
  return body.visits;
}

/** The phone's visit records (IndexedDB, outbox.js), as the page keeps them. */
function storedRecords(page) {
  return page.evaluate(
    () =>
      new Promise((resolve, reject) => {
        const open = indexedDB.open('wangge');
        open.onerror = () => reject(open.error);
        open.onsuccess = () => {
          const req = open.result.transaction('visit-outbox').objectStore('visit-outbox').getAll();
          req.onsuccess = () => resolve(req.result);
          req.onerror = () => reject(req.error);
        };
      }),
  );
}

async function signIn(page, { name, password }) {
  if ((await page.getAttribute('#sheet-toggle', 'aria-expanded')) !== 'true') await page.tap('#sheet-toggle');
  await page.tap('#signin-open');
  await page.fill('#signin-name', name);
  await page.fill('#signin-password', password);
  await page.tap('#signin-submit');
  await page.waitForSelector('#account-user:not([hidden])');
}

describe('我的走访 on a phone', { timeout: 5 * TIMEOUT }, () => {
  let server;
  let browser;
  let token;
  let area;
  let offered;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    const { paths } = (await getJson(server, '/api/v1/openapi.json')).body;
    offered = ['/api/v1/me/visits/due', '/api/v1/visits', '/api/v1/households/{id}/visits', '/api/v1/areas/{id}/claim'].every((p) => p in paths);
    if (!offered) return;
    await addUser(server, CADRE);
    token = await apiToken(server, CADRE.name, CADRE.password);
    // The cadre holds one demo area (claiming with clicks is accounts.test.mjs's business).
    area = (await demoLayer('areas')).features[2];
    const { body } = await getJson(server, '/api/v1/areas/holders', token);
    const id = body.areas.find((a) => a.code === area.properties.code).id;
    const claimed = await fetch(server.url(`/api/v1/areas/${id}/claim`), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(claimed.status, 201);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('the due walk in numbered stops, a visit at the door on site, and a visit offline sent once when back online', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no visit endpoints');
    const start = interiorPoint(area.geometry);
    const context = await browser.newContext({ ...PHONE, permissions: ['geolocation'], geolocation: { longitude: start[0], latitude: start[1], accuracy: 15 } });
    const page = await context.newPage();
    const log = await watch(context, page);
    try {
      await openMap(page, server.base);
      assert.equal(await page.isHidden('#walk-load'), true, '我的走访 shown to an anonymous visitor');
      await signIn(page, CADRE);
      assert.equal(await page.isVisible('#walk-load'), true);

      // 我的走访: the due households in the server's walking order from where the cadre stands.
      const due = page.waitForResponse((r) => r.url().includes('/api/v1/me/visits/due'));
      await page.tap('#walk-load');
      const dueUrl = new URL((await due).url());
      assert.equal(Number(dueUrl.searchParams.get('lon')), start[0], 'the walk does not start at the phone position');
      assert.equal(Number(dueUrl.searchParams.get('lat')), start[1]);
      const walk = (await getJson(server, `/api/v1/me/visits/due?lon=${start[0]}&lat=${start[1]}`, token)).body;
      assert.ok(walk.features.length > 1, 'the area has no due households');
      const stops = stopsOf(walk.features);
      await page.waitForSelector('#walk-list li.stop');
      const listed = await page.$$eval('#walk-list li.stop', (items) => items.map((li) => li.querySelector('.stop-n').textContent));
      assert.deepEqual(listed, stops.map((s) => String(s.n)));
      assert.match(await page.textContent('#walk-summary'), new RegExp(`${walk.features.length} 户 · ${stops.length} 处 · 步行约`));
      assert.equal(await page.isVisible('#walk-legend'), true);
      assert.match(await page.textContent('#walk-legend'), /从未入户/);

      // On the map: the numbered stops and the line through them.
      await mapIdle(page);
      const drawn = await page.evaluate(() => ({
        stops: window.map.queryRenderedFeatures({ layers: ['walk-stops'] }).map((f) => f.properties.n),
        numbers: window.map.queryRenderedFeatures({ layers: ['walk-stops-label'] }).map((f) => f.properties.n),
        line: window.map.queryRenderedFeatures({ layers: ['walk-line'] }).length,
      }));
      assert.deepEqual([...new Set(drawn.stops)].sort((a, b) => a - b), stops.map((s) => s.n));
      assert.ok(drawn.numbers.includes(1), `stop 1 has no number: ${drawn.numbers}`);
      assert.ok(drawn.line > 0, 'no walking line');
      await saveScreenshot(page, 'phone-walk.png');

      // At the door of the first stop's first household, a visit with a need: on site.
      const [first, second] = stops[0].households;
      assert.ok(second, 'the first stop has one household only');
      await context.setGeolocation({ longitude: stops[0].coordinates[0], latitude: stops[0].coordinates[1], accuracy: 8 });
      await page.tap(`#walk-list li[data-household="${first.id}"] button.visit`);
      await page.waitForSelector('#visit-form:not([hidden])');
      assert.match(await page.textContent('#visit-household'), new RegExp(first.head_name));
      await page.waitForFunction(() => document.querySelector('#visit-position').textContent.includes('精度约 8 米'));
      await page.fill('#visit-notes', '老人身体尚好，需要智能手环');
      await page.check('#visit-needs input[value="wristband"]');
      const posted = page.waitForResponse((r) => r.url().endsWith('/api/v1/visits'));
      await page.tap('#visit-save');
      const answer = await posted;
      assert.equal(answer.status(), 201);
      assert.ok(answer.request().headers()['idempotency-key'], 'no Idempotency-Key');
      await page.waitForSelector('#visit-result:not([hidden])');
      assert.equal(await page.getAttribute('#visit-result', 'data-on-site'), 'true');
      assert.match(await page.textContent('#visit-result'), /^已保存：在现场（距离 \d+ 米）$/);
      const stored = await visitsOf(server, token, first.id);
      assert.equal(stored.length, 1);
      assert.equal(stored[0].on_site, true);
      assert.equal(stored[0].notes, '老人身体尚好，需要智能手环');
      assert.deepEqual(stored[0].needs.map((n) => n.type), ['wristband']);
      assert.equal(stored[0].accuracy_m, 8);
      await saveScreenshot(page, 'phone-visit-on-site.png');
      await page.tap('#visit-cancel');
      assert.match(await page.textContent(`#walk-list li[data-household="${first.id}"]`), /已走访 · 在现场/);

      // No network: the second household's visit stays on the phone, nothing reaches the server.
      const before = (await visitsOf(server, token, second.id)).length;
      await context.setOffline(true);
      await page.tap(`#walk-list li[data-household="${second.id}"] button.visit`);
      await page.waitForFunction(() => document.querySelector('#visit-position').textContent.includes('精度约 8 米'));
      await page.fill('#visit-notes', '家中无人应答，留下联系卡');
      await page.check('#visit-needs input[value="extinguisher"]');
      await page.check('#visit-needs input[value="other"]');
      await page.fill('#visit-other-note', '楼道灯不亮');
      await page.tap('#visit-save');
      await page.waitForSelector('#visit-result.queued');
      assert.match(await page.textContent('#visit-result'), /已保存在本机，联网后自动发送/);
      await page.waitForSelector(`#outbox-list li.queued[data-household="${second.id}"]`);
      const queued = (await storedRecords(page)).filter((r) => r.household === second.id);
      assert.equal(queued.length, 1);
      assert.equal(queued[0].status, 'queued');
      assert.ok(queued[0].key.length >= 16, 'no idempotency key kept with the record');
      assert.deepEqual(queued[0].body.needs, [{ type: 'extinguisher' }, { type: 'other', note: '楼道灯不亮' }]);
      assert.equal((await visitsOf(server, token, second.id)).length, before, 'the offline visit reached the server');
      await saveScreenshot(page, 'phone-visit-queued.png');

      // Back online: sent by itself, with the key it was made with, exactly once.
      const sent = page.waitForResponse((r) => r.url().endsWith('/api/v1/visits'));
      await context.setOffline(false);
      const resent = await sent;
      assert.equal(resent.status(), 201);
      assert.equal(resent.request().headers()['idempotency-key'], queued[0].key);
      await page.waitForSelector(`#outbox-list li.sent[data-household="${second.id}"]`);
      assert.match(await page.textContent(`#outbox-list li.sent[data-household="${second.id}"]`), /已发送 · (不)?在现场/);
      const after = await visitsOf(server, token, second.id);
      assert.equal(after.length, before + 1);
      assert.equal(after[0].notes, '家中无人应答，留下联系卡');
      assert.deepEqual(after[0].needs.map((n) => n.type).sort(), ['extinguisher', 'other']);
      assert.equal(after[0].needs.find((n) => n.type === 'other').note, '楼道灯不亮');

      // A reload sends what waits (nothing now): still one visit; the phone kept only a receipt.
      await openMap(page, server.base);
      await page.waitForSelector(`#outbox-list li.sent[data-household="${second.id}"]`, { state: 'attached' });
      assert.equal((await visitsOf(server, token, second.id)).length, before + 1, 'the visit was sent twice');
      const receipt = (await storedRecords(page)).find((r) => r.key === queued[0].key);
      assert.equal(receipt.status, 'sent');
      assert.equal(receipt.body, undefined, 'the notes stayed on the phone after sending');
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('an admin fills the grids by visit coverage, with a legend', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no visit endpoints');
    const admin = { name: 'guanli', role: 'admin', password: 'admin-pass-1' };
    await addUser(server, admin);
    const adminToken = await apiToken(server, admin.name, admin.password);
    // Every household of the smallest grid visited at the door (an admin may record any visit):
    // that grid is fully covered, and the grids nobody visited are not.
    const { rows } = (await getJson(server, '/api/v1/stats/coverage?level=grid&days=30', adminToken)).body;
    const grid = rows.filter((r) => r.households > 0).sort((a, b) => a.households - b.households)[0];
    const { features } = (await getJson(server, `/api/v1/households?grid=${grid.id}&limit=500`, adminToken)).body;
    assert.equal(features.length, grid.households);
    for (const f of features) {
      const [lon, lat] = f.geometry.coordinates;
      const res = await fetch(server.url('/api/v1/visits'), {
        method: 'POST',
        headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
        body: JSON.stringify({ household: f.id, visited_at: new Date().toISOString(), position: { lon, lat, accuracy_m: 5 }, notes: '' }),
      });
      assert.equal(res.status, 201, await res.text());
    }
    const after = (await getJson(server, '/api/v1/stats/coverage?level=grid&days=30', adminToken)).body.rows;
    assert.equal(after.find((r) => r.id === grid.id).coverage, 1);
    const uncovered = after.find((r) => r.households > 0 && r.visited === 0);

    const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    const page = await context.newPage();
    const log = await watch(context, page);
    try {
      await openMap(page, server.base);
      assert.equal(await page.isHidden('#coverage'), true, 'coverage offered to an anonymous visitor');
      await page.click('#signin-open');
      await page.fill('#signin-name', admin.name);
      await page.fill('#signin-password', admin.password);
      await page.click('#signin-submit');
      await page.waitForSelector('#coverage:not([hidden])');
      assert.equal(await page.isHidden('#walk-load'), true, '我的走访 offered to an admin');
      const stats = page.waitForResponse((r) => r.url().includes('/api/v1/stats/coverage'));
      await page.check('#coverage-toggle');
      assert.equal((await stats).status(), 200);
      await page.waitForSelector('#coverage-legend:not([hidden])');
      assert.match(await page.textContent('#coverage-legend'), /20% 以下.*80% 以上/);
      const sum = (key) => after.reduce((n, r) => n + r[key], 0);
      assert.equal(await page.textContent('#coverage-summary'), `近 30 天入户 ${sum('visited')} / ${sum('households')} 户`);
      await mapIdle(page);
      // The colour MapLibre drew each grid in (evaluated for that feature) is its coverage class.
      const drawn = await page.evaluate(() =>
        Object.fromEntries(
          window.map.queryRenderedFeatures({ layers: ['coverage-fill'] }).map((f) => {
            const c = f.layer.paint['fill-color'];
            const hex = (v) => Math.round(v * 255).toString(16).padStart(2, '0');
            return [f.properties.code, `#${hex(c.r)}${hex(c.g)}${hex(c.b)}`];
          }),
        ),
      );
      assert.equal(drawn[grid.code], coverageColour(1));
      assert.equal(drawn[uncovered.code], coverageColour(0));
      assert.notEqual(coverageColour(1), coverageColour(0));
      await saveScreenshot(page, 'coverage.png');
      await page.uncheck('#coverage-toggle');
      assert.equal(await page.evaluate(() => Boolean(window.map.getLayer('coverage-fill'))), false);
      assertClean(log);
    } finally {
      await context.close();
    }
  });
});
