// The visit diary on the map, in Chromium against the real binary with a year of invented visits
// and open needs (`--demo-diary`): a cadre's 3D floors coloured by how many of their households
// are due (GET /api/v1/households/floors), and an admin's grids filled by their open needs (the
// `needs` tiles). What the page draws is compared with the server's own answers.

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { interiorPoint } from '../src/geo.js';
import { FLOOR_CLASSES, floorClass } from '../src/floors.js';
import { needsColour, NEEDS_CLASSES } from '../src/needs.js';
import { NEED_TYPES } from '../src/walk.js';
import { addUser, apiToken, demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };
const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' };
const TIMEOUT = 180_000;
const CADRE = { name: 'zhaomin', role: 'cadre', password: 'cadre-pass-3', displayName: '赵敏' };
const ADMIN = { name: 'guanli2', role: 'admin', password: 'admin-pass-2' };

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
}

async function getJson(server, path, token) {
  const res = await fetch(server.url(path), { headers: token ? { authorization: `Bearer ${token}` } : {} });
  return { status: res.status, body: await res.json().catch(() => null) };
}

/** A visit at the household's door, recorded over the API: the household is no longer due. */
async function visit(server, token, household, needs = []) {
  const [lon, lat] = household.geometry.coordinates;
  const res = await fetch(server.url('/api/v1/visits'), {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'idempotency-key': randomUUID() },
    body: JSON.stringify({ household: household.id, visited_at: new Date().toISOString(), position: { lon, lat, accuracy_m: 5 }, notes: '', needs }),
  });
  assert.equal(res.status, 201, await res.text());
}

/** Fires a MapLibre click at [lon, lat] of the map (as a tap would, without the touch timing). */
function clickOnMap(page, lngLat) {
  return page.evaluate((c) => {
    const map = window.map;
    const point = map.project(c);
    map.fire('click', { point, lngLat: map.unproject(point), originalEvent: new MouseEvent('click') });
  }, lngLat);
}

async function signIn(page, { name, password }, tap) {
  if ((await page.getAttribute('#sheet-toggle', 'aria-expanded')) === 'false' && (await page.isVisible('#sheet-toggle'))) await tap('#sheet-toggle');
  await tap('#signin-open');
  await page.fill('#signin-name', name);
  await page.fill('#signin-password', password);
  await tap('#signin-submit');
  await page.waitForSelector('#account-user:not([hidden])');
}

describe('the visit diary on the map', { timeout: 4 * TIMEOUT }, () => {
  let server;
  let browser;
  let paths;
  let tileLayers;
  before(async () => {
    [server, browser] = await Promise.all([startServer({ args: ['--demo-diary'] }), launchBrowser()]);
    paths = (await getJson(server, '/api/v1/openapi.json')).body.paths;
    tileLayers = (await getJson(server, '/tiles')).body.layers.map((l) => l.name);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  test('a cadre sees the floors of their households in 3D, coloured by how many are due, until signing out', { timeout: TIMEOUT }, async (t) => {
    if (!('/api/v1/households/floors' in paths)) return t.skip('this binary has no floors endpoint');
    await addUser(server, CADRE);
    const token = await apiToken(server, CADRE.name, CADRE.password);
    // The demo diary's cadres hold six of the eight areas; this cadre claims one nobody holds,
    // whose households nobody has visited: every floor starts all due.
    const { areas } = (await getJson(server, '/api/v1/areas/holders', token)).body;
    const free = areas.find((a) => !a.holder);
    assert.ok(free, 'every demo area is held');
    const claimed = await fetch(server.url(`/api/v1/areas/${free.id}/claim`), { method: 'POST', headers: { authorization: `Bearer ${token}` } });
    assert.equal(claimed.status, 201);
    const { features: households } = (await getJson(server, `/api/v1/households?area=${free.id}&limit=500`, token)).body;
    assert.ok(households.length > 0);

    // One building, three states: a floor visited completely, a floor visited in part, the rest due.
    const byFloor = new Map();
    for (const h of households) {
      const { building_code: code, floor } = h.properties;
      if (!code) continue;
      const key = `${code}|${Math.max(1, floor ?? 1)}`;
      byFloor.set(key, [...(byFloor.get(key) ?? []), h]);
    }
    // Of those that have them, the building nearest the middle of the area: the view around it
    // is full of the area's buildings (the README's picture).
    const middle = interiorPoint((await demoLayer('areas')).features.find((f) => f.properties.code === free.code).geometry);
    const away = (code) => {
      const [lon, lat] = byFloor.get([...byFloor.keys()].find((k) => k.startsWith(`${code}|`)))[0].geometry.coordinates;
      return Math.hypot(lon - middle[0], lat - middle[1]);
    };
    const buildingCode = [...new Set([...byFloor.keys()].map((k) => k.split('|')[0]))]
      .filter((code) => {
        const floors = [...byFloor.entries()].filter(([k]) => k.startsWith(`${code}|`));
        return floors.length >= 3 && floors.some(([, hs]) => hs.length >= 2);
      })
      .sort((a, b) => away(a) - away(b))[0];
    assert.ok(buildingCode, 'no building of the area has three floors with households');
    const floors = [...byFloor.entries()].filter(([k]) => k.startsWith(`${buildingCode}|`));
    const partial = floors.find(([, hs]) => hs.length >= 2);
    const visited = floors.find((f) => f !== partial);
    for (const h of visited[1]) await visit(server, token, h);
    await visit(server, token, partial[1][0]);

    const all = (await getJson(server, '/api/v1/households/floors', token)).body;
    const expected = new Map(all.features.map((f) => [`${f.properties.building_code}|${f.properties.floor}`, f.properties]));
    const ofBuilding = all.features.filter((f) => f.properties.building_code === buildingCode);
    assert.equal(floorClass(expected.get(visited[0])), 'visited');
    assert.equal(floorClass(expected.get(partial[0])), 'partial');
    assert.ok(ofBuilding.some((f) => floorClass(f.properties) === 'due'), 'no floor of the building is due');
    for (const f of all.features) {
      const p = f.properties;
      assert.equal(p.base_m, (p.floor - 1) * 3);
      assert.equal(p.height_m, p.floor * 3);
    }

    const context = await browser.newContext(PHONE);
    const page = await context.newPage();
    const log = await watch(context, page);
    const tap = (selector) => page.tap(selector);
    const floorRequests = () => log.requests.filter((u) => u.includes('/api/v1/households/floors'));
    try {
      await openMap(page, server.base);
      const centre = interiorPoint(ofBuilding[0].geometry);
      // Anonymous in 3D: buildings, no floors, and nothing asked.
      await tap('#sheet-toggle');
      await tap('#mode-3d');
      await page.waitForFunction(() => window.map.getPitch() > 55 && !window.map.isMoving(), null, { timeout: 30_000 });
      await page.evaluate((c) => window.map.jumpTo({ center: c, zoom: 17.2 }), centre);
      await mapIdle(page);
      await page.waitForTimeout(600); // longer than the page waits after a move
      assert.deepEqual(floorRequests(), [], 'floors asked for by an anonymous visitor');
      assert.equal(await page.evaluate(() => Boolean(window.map.getLayer('floors-3d'))), false);

      // Signed in as the cadre, still in 3D: the floors of the view come at once.
      const answered = page.waitForResponse((r) => r.url().includes('/api/v1/households/floors'));
      await signIn(page, CADRE, tap);
      const response = await answered;
      assert.equal(response.status(), 200);
      assert.match(response.request().headers().authorization ?? '', /^Bearer \w+$/, 'floors asked for without the token');
      // Folded, the sheet gives the map the screen; the map moves, and the page asks again. Once
      // the map rests, the floors drawn are the answer to the page's last question.
      await tap('#sheet-toggle');
      // MapLibre follows its container's new size a frame or more later (a ResizeObserver).
      await page.waitForFunction(() => {
        const map = window.map;
        return map.getContainer().clientHeight > 0.8 * window.innerHeight && map.getCanvas().clientHeight === map.getContainer().clientHeight;
      });
      await page.evaluate((c) => window.map.jumpTo({ center: c, zoom: 17.2, bearing: -15 }), centre);
      // Settled twice in a row on the same question and its answer.
      let asked;
      let seen = null;
      for (let tries = 0; ; tries++) {
        await mapIdle(page);
        await page.waitForTimeout(500); // longer than the page waits after a move
        asked = new URL(floorRequests().at(-1)).searchParams.get('bbox');
        const now = `${floorRequests().length} ${asked} ${await page.getAttribute('#floors-legend', 'data-bbox')}`;
        if (now === seen && now.endsWith(`${asked} ${asked}`)) break;
        seen = now;
        assert.ok(tries < 60, `the floors drawn are not for the last question: ${now}`);
      }
      await mapIdle(page);
      // The same question from the test: the page drew what the server answers for it.
      const answer = (await getJson(server, `/api/v1/households/floors?bbox=${asked}`, token)).body;
      assert.match(await page.textContent('#floors-legend .status'), new RegExp(`^本视图 ${answer.features.length} 层`));
      // The bbox asked for holds the view (WGS84: this map has no GCJ-02 basemap).
      const view = await page.evaluate(() => window.map.getBounds().toArray().flat());
      const box = asked.split(',').map(Number);
      assert.ok(box[0] <= view[0] && box[1] <= view[1] && box[2] >= view[2] && box[3] >= view[3], `bbox ${box} does not hold the view ${view}`);
      const drawn = await page.evaluate(() => {
        // The colour MapLibre evaluated for the feature ({r, g, b} from 0 to 1) as #rrggbb.
        const toHex = (c) => `#${[c.r, c.g, c.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
        const source = window.map.querySourceFeatures('floors').map((f) => f.properties);
        const rendered = window.map.queryRenderedFeatures({ layers: ['floors-3d'] }).map((f) => ({ ...f.properties, colour: toHex(f.layer.paint['fill-extrusion-color']) }));
        return { source, rendered };
      });
      const key = (p) => `${p.building_code}|${p.floor}`;
      const inAnswer = new Map(answer.features.map((f) => [key(f.properties), f.properties]));
      assert.ok(drawn.rendered.length > 0, 'no floor rendered');
      for (const p of [...drawn.source, ...drawn.rendered]) {
        const want = inAnswer.get(key(p));
        assert.ok(want, `floor ${key(p)} drawn but not in the answer`);
        for (const k of ['building_id', 'households', 'due', 'base_m', 'height_m']) assert.equal(p[k], want[k], `${key(p)} ${k}`);
      }
      const colourOf = (k) => FLOOR_CLASSES.find((c) => c.key === k).colour;
      for (const p of drawn.rendered) assert.equal(p.colour, colourOf(floorClass(p)), `floor ${key(p)} (${p.due} of ${p.households} due)`);
      // Every floor of the building in the middle is drawn, in its class; all three classes are.
      const renderedKeys = new Set(drawn.rendered.map(key));
      for (const f of ofBuilding) assert.ok(renderedKeys.has(key(f.properties)), `floor ${key(f.properties)} not rendered`);
      assert.deepEqual(new Set(drawn.rendered.map((p) => floorClass(p))), new Set(['visited', 'partial', 'due']));
      // The buildings are still drawn around the floors, those without the cadre's households too.
      const buildings = await page.evaluate(() => new Set(window.map.queryRenderedFeatures({ layers: ['buildings-3d'] }).map((f) => f.properties.code)).size);
      const withFloors = new Set(drawn.rendered.map((p) => p.building_code)).size;
      assert.ok(buildings > withFloors, `${buildings} buildings drawn, ${withFloors} with floors`);
      assert.equal(await page.isVisible('#floors-legend'), true);
      assert.match(await page.textContent('#floors-legend'), /已走访.*部分待访.*待走访/);
      await saveScreenshot(page, 'map-floors-3d.png', { docs: true });

      // 2D takes them away, 3D brings them back.
      await tap('#sheet-toggle');
      await tap('#mode-2d');
      assert.equal(await page.evaluate(() => Boolean(window.map.getLayer('floors-3d'))), false);
      assert.equal(await page.isHidden('#floors-legend'), true);
      await tap('#mode-3d');
      await page.waitForFunction(() => Boolean(window.map.getLayer('floors-3d')) && window.map.querySourceFeatures('floors').length > 0, null, { timeout: 30_000 });

      // Signing out removes the floors, their source and the legend.
      await tap('#signout');
      await page.waitForSelector('#account-anonymous:not([hidden])');
      const left = await page.evaluate(() => ({ layer: Boolean(window.map.getLayer('floors-3d')), source: Boolean(window.map.getSource('floors')), legend: Boolean(document.querySelector('#floors-legend')) }));
      assert.deepEqual(left, { layer: false, source: false, legend: false });
      const before = floorRequests().length;
      await page.evaluate(() => window.map.panBy([60, 0], { duration: 0 }));
      await page.waitForTimeout(600);
      assert.equal(floorRequests().length, before, 'floors asked for after signing out');
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('an admin fills the grids by their open needs, with a legend, and a click lists them by type', { timeout: TIMEOUT }, async (t) => {
    if (!tileLayers.includes('needs')) return t.skip('this binary has no needs tiles');
    await addUser(server, ADMIN);
    const token = await apiToken(server, ADMIN.name, ADMIN.password);
    const openOf = (row) => Object.values(row.open).reduce((n, v) => n + v, 0);
    // Needs found at a visit the test records (an admin may record any) come on the tiles at
    // once: the grid with the fewest open needs gets three more.
    const before = (await getJson(server, '/api/v1/stats/needs?level=grid', token)).body.rows;
    const target = before.reduce((a, b) => (openOf(b) < openOf(a) ? b : a));
    const [household] = (await getJson(server, `/api/v1/households?grid=${target.id}&limit=1`, token)).body.features;
    await visit(server, token, household, [{ type: 'wristband' }, { type: 'door_bolt' }, { type: 'other', note: '楼道灯不亮' }]);
    const { rows } = (await getJson(server, '/api/v1/stats/needs?level=grid', token)).body;
    const mine = rows.find((r) => r.id === target.id);
    assert.equal(openOf(mine), openOf(target) + 3);
    const grids = new Map((await demoLayer('grids')).features.map((f) => [f.properties.code, f]));

    const context = await browser.newContext(DESKTOP);
    const page = await context.newPage();
    const log = await watch(context, page);
    try {
      await openMap(page, server.base);
      assert.equal(await page.isHidden('#needs'), true, '需求分布 offered to an anonymous visitor');
      await signIn(page, ADMIN, (s) => page.click(s));
      await page.waitForSelector('#needs:not([hidden])');
      await page.check('#needs-toggle');
      await page.waitForSelector('#needs-legend:not([hidden])');
      assert.match(await page.textContent('#needs-legend'), new RegExp(NEEDS_CLASSES.map(([, , label]) => label).join('.*')));
      await mapIdle(page);
      assert.ok(log.requests.some((u) => new URL(u).pathname.startsWith('/tiles/needs/')), 'no needs tile asked for');

      // Every grid is drawn in the class of its tile's `open`.
      const drawn = await page.evaluate(() => {
        const toHex = (c) => `#${[c.r, c.g, c.b].map((v) => Math.round(v * 255).toString(16).padStart(2, '0')).join('')}`;
        return window.map.queryRenderedFeatures({ layers: ['needs-fill'] }).map((f) => ({ ...f.properties, colour: toHex(f.layer.paint['fill-color']) }));
      });
      assert.deepEqual([...new Set(drawn.map((g) => g.code))].sort(), [...grids.keys()].sort(), 'not every grid drawn');
      for (const g of drawn) {
        const sum = NEED_TYPES.reduce((n, [type]) => n + g[type], 0);
        assert.equal(g.open, sum, `${g.code}: open is not the sum of the types`);
        assert.equal(g.colour, needsColour(g.open), `${g.code}: ${g.open} open`);
      }
      assert.ok(new Set(drawn.map((g) => g.colour)).size >= 2, 'every grid in one class');
      await saveScreenshot(page, 'map-needs.png');

      // A click on the grid of the test's visit lists its open needs by type, in Chinese, as its
      // tile has them (and as the statistics count them).
      await clickOnMap(page, interiorPoint(grids.get(mine.code).geometry));
      await page.waitForSelector(`#needs-detail[data-grid="${mine.code}"]`);
      const tile = drawn.find((g) => g.code === mine.code);
      assert.match(await page.textContent('#needs-detail'), new RegExp(`${mine.name}.*未满足需求 ${tile.open} 项`));
      const listed = await page.$$eval('#needs-detail li', (items) => items.map((li) => [li.dataset.type, li.textContent]));
      const want = NEED_TYPES.filter(([type]) => tile[type] > 0).map(([type, label]) => [type, `${label}${tile[type]} 项`]);
      assert.deepEqual(listed, want);
      for (const type of ['wristband', 'door_bolt', 'other']) assert.ok(listed.some(([t]) => t === type), `${type} not listed`);
      // The lookup still answers the click.
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), mine.name);

      // 走访覆盖率 also fills the grids: switching it on switches the needs off.
      await page.check('#coverage-toggle');
      assert.equal(await page.isChecked('#needs-toggle'), false);
      await page.waitForFunction(() => !window.map.getLayer('needs-fill') && Boolean(window.map.getLayer('coverage-fill')));
      assert.equal(await page.isHidden('#needs-legend'), true);
      assertClean(log);

      // The tiles say what the server's statistics say, grid by grid and type by type (the
      // demo diary's needs included).
      for (const g of drawn) {
        const row = rows.find((r) => r.code === g.code);
        const counts = Object.fromEntries(NEED_TYPES.map(([type]) => [type, g[type]]));
        assert.deepEqual(counts, Object.fromEntries(NEED_TYPES.map(([type]) => [type, row.open[type] ?? 0])), `the needs tile of ${g.code} is not /api/v1/stats/needs`);
      }
    } finally {
      await context.close();
    }
  });
});

