// 党建信息屏 (/screen) in Chromium against the real binary: a community's figures at 3840×2160
// and at 390×844 equal the server's own summary (GET /api/v1/stats/summary) figure by figure; a
// request reported while the page is open reaches its live feed and its figures over the event
// stream, without a reload; a click on the map switches the screen to the grid there.
//
// A little data goes in over the API first, so that the figures are not all zero: a resident's
// request (Open311, no login), a visit at a door by a cadre who holds the area (先锋榜, coverage)
// and a complete activity of a branch with its three photos (出勤率, the group photo).

import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { addUser, apiToken, launchBrowser, mapIdle, pngImage, saveScreenshot, startServer, watch } from './helpers.mjs';

const BIG = { width: 3840, height: 2160 };
const PHONE = { width: 390, height: 844 };
const TIMEOUT = 240_000;
const ADMIN = { name: 'pingmu', role: 'admin', password: 'screen-pass-1', displayName: '信息屏' };
const CADRE = { name: 'liujun', role: 'cadre', password: 'cadre-pass-7', displayName: '刘军' };
/** The demo community the screen opens on (香港花园社区), a grid of it for the report, one to click. */
const COMMUNITY = '370202010003';
const REPORT_GRID = '370202010003001';
const CLICK_GRID = '370202010003005';
/** The figures the screen must show, by their key in the summary. */
const REQUIRED = [
  'households',
  'members',
  'coverage',
  'open_requests',
  'requests.overdue',
  'requests.closing_rate',
  'requests.on_time_rate',
  'requests.to_door.median_min',
  'attendance_rate',
];

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
}

/** A call to the server: {status, body}; `json` is sent as JSON, `body` as it is. */
async function call(server, path, { method = 'GET', token, json, body, type } = {}) {
  const headers = {};
  if (token) headers.authorization = `Bearer ${token}`;
  if (json !== undefined) headers['content-type'] = 'application/json';
  if (type) headers['content-type'] = type;
  if (method === 'POST' && path === '/api/v1/visits') headers['idempotency-key'] = randomUUID();
  const res = await fetch(server.url(path), { method, headers, body: json !== undefined ? JSON.stringify(json) : body });
  const text = await res.text();
  let parsed = null;
  try {
    parsed = text ? JSON.parse(text) : null;
  } catch {
    parsed = text;
  }
  return { status: res.status, body: parsed };
}

/** A resident's report over Open311 (a form, no login): the request's id. */
async function report(server, [lon, lat], description) {
  const form = new URLSearchParams({
    service_code: 'repair',
    'attribute[appliance]': 'water_heater',
    lat: String(lat),
    long: String(lon),
    description,
    last_name: '孙',
    phone: '13905320077',
  });
  const { status, body } = await call(server, '/open311/v2/requests.json', { method: 'POST', body: form });
  assert.equal(status, 201, JSON.stringify(body));
  return Number(body[0].service_request_id);
}

/** A share as the screen writes it: one decimal, <0.1 for a share that is not nil but rounds to 0. */
function percent(rate) {
  const shown = Math.round(rate * 1000) / 10;
  if (shown === 0 && rate > 0) return '<0.1';
  if (shown === 100 && rate < 1) return '>99.9';
  return String(shown);
}

/** The value of a dotted key (`requests.to_door.median_min`) of the summary. */
const valueAt = (obj, key) => key.split('.').reduce((o, k) => o?.[k], obj);

/** Every figure of the page against `summary`: the raw value, and the text people read. */
async function assertFigures(page, summary) {
  const shown = await page.$$eval('#figures [data-figure]', (nodes) => nodes.map((n) => ({ key: n.dataset.figure, value: n.dataset.value, text: n.textContent })));
  const keys = shown.map((f) => f.key);
  for (const key of REQUIRED) assert.ok(keys.includes(key), `no figure ${key}`);
  for (const { key, value, text } of shown) {
    const want = valueAt(summary, key);
    assert.ok(want === null || typeof want === 'number', `${key} is not a figure of the summary: ${JSON.stringify(want)}`);
    assert.equal(value, want === null ? '' : String(want), `data-value of ${key}`);
    if (want === null) assert.equal(text, '—', `${key} without a value`);
    else if (/rate|coverage/.test(key)) assert.equal(text, `${percent(want)}%`, `${key} as a percentage`);
    else if (!key.endsWith('_min')) assert.equal(text.replace(/,/g, ''), String(want), `${key} as a count`);
  }
}

/** Waits until the page shows the figures of `unit` (`community:5`), read after `version`. */
async function figuresOf(page, unit, version = 0) {
  await page.waitForFunction(
    ([u, v]) => {
      const f = document.querySelector('#figures');
      return f.dataset.state === 'ready' && f.dataset.unit === u && Number(f.dataset.version) > v;
    },
    [unit, version],
    { polling: 100 },
  );
}

describe('党建信息屏: figures, live requests and units picked on the map', { timeout: 4 * TIMEOUT }, () => {
  let server;
  let browser;
  let offered;
  let token;
  let places;
  let firstRequest;
  let branch;
  let activity;
  let context;
  let page;
  let log;

  const summary = async (level, id) => {
    const { status, body } = await call(server, `/api/v1/stats/summary?level=${level}&id=${id}`, { token });
    assert.equal(status, 200, JSON.stringify(body));
    return body;
  };

  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    const { paths } = (await call(server, '/api/v1/openapi.json')).body;
    offered = ['/api/v1/stats/summary', '/api/v1/me/events', '/api/v1/communities/{id}/feed'].every((p) => p in paths) && (await call(server, '/screen')).status === 200;
    if (!offered) return;
    await addUser(server, ADMIN);
    await addUser(server, CADRE);
    token = await apiToken(server, ADMIN.name, ADMIN.password);
    const cadreToken = await apiToken(server, CADRE.name, CADRE.password);
    places = new Map((await call(server, '/api/v1/labels')).body.features.map((f) => [f.properties.code, { id: f.id, name: f.properties.name, point: f.geometry.coordinates }]));
    const community = places.get(COMMUNITY);

    // A resident's request in the first grid: an open one, 结案率 0, no time to the door yet.
    firstRequest = await report(server, places.get(REPORT_GRID).point, '楼道里的热水器漏水');

    // A cadre holds an area of the community and visits one of its households at the door.
    const { features: households } = (await call(server, `/api/v1/households?community=${community.id}&limit=50`, { token })).body;
    const household = households.find((h) => h.properties.area_ids?.length);
    assert.ok(household, 'no household of the community lies in an area');
    const claim = await call(server, `/api/v1/areas/${household.properties.area_ids[0]}/claim`, { method: 'POST', token: cadreToken });
    assert.equal(claim.status, 201, JSON.stringify(claim.body));
    const [lon, lat] = household.geometry.coordinates;
    const visit = await call(server, '/api/v1/visits', {
      method: 'POST',
      token: cadreToken,
      json: { household: household.id, visited_at: new Date().toISOString(), position: { lon, lat, accuracy_m: 5 }, notes: '', needs: [] },
    });
    assert.equal(visit.status, 201, JSON.stringify(visit.body));

    // A complete activity of the branch serving the first grid: 3 of every 4 members there.
    branch = (await call(server, `/api/v1/branches?community_id=${community.id}`)).body.branches.find((b) => b.grid_codes.includes(REPORT_GRID));
    const { members } = (await call(server, `/api/v1/branches/${branch.id}/members`, { token })).body;
    const attendance = members
      .filter((m) => m.status !== 'transferred')
      .map((m, i) => (i % 4 === 3 ? { member: m.id, status: 'absent', reason: '外出务工' } : { member: m.id, status: i % 5 ? 'present' : 'online' }));
    const recorded = await call(server, '/api/v1/activities', {
      method: 'POST',
      token,
      json: { type: 'theme_day', theme: '主题党日：楼院清洁', held_at: new Date(Date.now() - 60_000).toISOString(), place: { lon: places.get(REPORT_GRID).point[0], lat: places.get(REPORT_GRID).point[1] }, attendance, branch_id: branch.id },
    });
    assert.equal(recorded.status, 201, JSON.stringify(recorded.body));
    activity = recorded.body;
    for (const kind of ['group', 'sign_in', 'minutes']) {
      const put = await call(server, `/api/v1/activities/${activity.id}/photos/${kind}`, { method: 'PUT', token, body: pngImage(320, 240), type: 'image/png' });
      assert.equal(put.status, 201, JSON.stringify(put.body));
      if (kind === 'group') activity.group = put.body;
    }

    context = await browser.newContext({ viewport: BIG, locale: 'zh-CN' });
    page = await context.newPage();
    log = await watch(context, page);
  });

  after(async () => {
    await context?.close();
    await browser?.close();
    await server?.stop();
  });

  test('at 3840×2160: the sign-in, then every figure of the community as the server counts it', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no screen');
    const community = places.get(COMMUNITY);
    await page.goto(server.url(`/screen?level=community&id=${community.id}`));
    // Nothing but the sign-in until someone signs in: the same form as the main map's.
    await page.waitForSelector('#signin-form:not([hidden])');
    assert.equal(await page.evaluate(() => document.body.classList.contains('signed-out')), true);
    await page.fill('#signin-name', ADMIN.name);
    await page.fill('#signin-password', ADMIN.password);
    await page.click('#signin-submit');
    await page.waitForSelector('#account-user:not([hidden])');
    assert.equal(await page.textContent('#account-name'), ADMIN.displayName);

    await figuresOf(page, `community:${community.id}`);
    const want = await summary('community', community.id);
    assert.ok(want.households > 0 && want.members > 0 && want.open_requests === 1 && want.visited === 1 && want.activities === 1, JSON.stringify(want));
    await assertFigures(page, want);
    assert.equal(await page.textContent('#unit-name'), community.name);
    assert.match(await page.title(), new RegExp(`^${community.name}`));
    assert.equal(await page.getAttribute('#levels [data-level="community"]', 'aria-pressed'), 'true');
    assert.equal(await page.isDisabled('#levels [data-level="grid"]'), true, 'a grid offered before one was picked');

    // 先锋榜: the cadre by display name; the branch with its quarter's rate.
    await page.waitForSelector('#pioneers-list li[data-user]');
    assert.match(await page.textContent('#pioneers-list li:first-child'), new RegExp(`${CADRE.displayName}.*入户 1`));
    await page.waitForSelector(`#branches-list li[data-branch="${branch.code}"]`);
    const rate = percent(activity.attendance_rate);
    assert.match(await page.textContent('#branches-list li:first-child'), new RegExp(`${branch.name}.*${rate}%.*1 次活动`));
    // The group photo, small (its public thumbnail), and the open request first in the feed.
    const img = `#activities-list figure[data-activity="${activity.id}"] img`;
    await page.waitForFunction((s) => document.querySelector(s)?.complete && document.querySelector(s).naturalWidth > 0, img);
    assert.equal(await page.getAttribute(img, 'src'), activity.group.thumbnail_url);
    await page.waitForSelector(`#live-list li[data-request="${firstRequest}"]`);
    assert.equal(await page.getAttribute('#heat-count', 'data-count'), '1');

    await mapIdle(page);
    const drawn = await page.evaluate(() => ({
      pitch: window.map.getPitch(),
      extruded: window.map.getLayoutProperty('buildings-3d', 'visibility'),
      heat: window.map.getSource('screen-heat')?._data?.features?.length ?? null,
      outlined: JSON.stringify(window.map.getFilter('screen-unit-community')),
    }));
    assert.ok(drawn.pitch >= 40, `not tilted: ${drawn.pitch}`);
    assert.equal(drawn.extruded, 'visible');
    assert.match(drawn.outlined, new RegExp(COMMUNITY));
    await saveScreenshot(page, 'screen-4k.png');
    assertClean(log);
  });

  test('at 390×844: the figures fit the phone, the map under them', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no screen');
    const fits = Number(await page.getAttribute('#stage', 'data-fits'));
    await page.setViewportSize(PHONE);
    // The map follows its smaller box and fits the community again.
    await page.waitForFunction((n) => Number(document.querySelector('#stage').dataset.fits) > n && window.map.getContainer().clientWidth <= 390, fits, { polling: 100 });
    await mapIdle(page);
    const boxes = await page.$$eval('#figures [data-figure]', (nodes) => nodes.map((n) => ({ key: n.dataset.figure, ...n.getBoundingClientRect().toJSON() })));
    for (const b of boxes) {
      assert.ok(b.left >= 0 && b.right <= PHONE.width, `${b.key} overflows: ${b.left}…${b.right}`);
      assert.ok(b.width > 0 && b.height > 0, `${b.key} is not shown`);
    }
    assert.ok((await page.evaluate(() => document.documentElement.scrollWidth)) <= PHONE.width, 'the page scrolls sideways');
    const map = await page.locator('#screen-map').boundingBox();
    const figures = await page.locator('#figures').boundingBox();
    assert.ok(await page.isVisible('#screen-map canvas'));
    assert.ok(map.width >= PHONE.width - 40 && map.height >= 250, `map ${JSON.stringify(map)}`);
    assert.ok(map.y >= figures.y + figures.height && map.y < PHONE.height, `map ${JSON.stringify(map)} under the figures ${JSON.stringify(figures)}`);
    // The panels come under the map.
    const panel = await page.locator('#pioneers').boundingBox();
    assert.ok(panel.y >= map.y + map.height, 'a panel over the map');
    await saveScreenshot(page, 'screen-phone.png');
    assertClean(log);
  });

  test('a request reported while the screen is open reaches its feed and figures without a reload', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no screen');
    const community = places.get(COMMUNITY);
    await page.waitForSelector('#live-status[data-state="open"]');
    const before = Number(await page.getAttribute('[data-figure="open_requests"]', 'data-value'));
    const version = Number(await page.getAttribute('#figures', 'data-version'));
    const id = await report(server, places.get(CLICK_GRID).point, '单元门禁坏了，老人进不了门');
    const item = `#live-list li[data-request="${id}"]`;
    await page.waitForSelector(item, { timeout: 10_000 });
    const text = await page.textContent(item);
    assert.match(text, /家庭维修/);
    assert.match(text, /新上报/);
    assert.doesNotMatch(text, /13905320077|孙/, 'the reporter is shown on the screen');
    assert.equal(await page.locator('#live-list li').first().getAttribute('data-request'), String(id), 'not first in the feed');
    await page.waitForSelector(`[data-figure="open_requests"][data-value="${before + 1}"]`, { timeout: 10_000 });
    await figuresOf(page, `community:${community.id}`, version);
    await assertFigures(page, await summary('community', community.id));
    const documents = log.requests.filter((u) => new URL(u).pathname === '/screen');
    assert.equal(documents.length, 1, 'the page was loaded again');
    assertClean(log);
  });

  test('a click on the map switches the screen to the grid there, and 社区 back', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no screen');
    const grid = places.get(CLICK_GRID);
    const community = places.get(COMMUNITY);
    await page.evaluate(([lng, lat]) => {
      const map = window.map;
      map.fire('click', { lngLat: { lng, lat }, point: map.project([lng, lat]), originalEvent: new MouseEvent('click') });
    }, grid.point);
    await page.waitForFunction((id) => new URL(window.location.href).searchParams.get('level') === 'grid' && new URL(window.location.href).searchParams.get('id') === String(id), grid.id);
    await figuresOf(page, `grid:${grid.id}`);
    const want = await summary('grid', grid.id);
    assert.equal(want.open_requests, 1, 'the second report is not in the clicked grid');
    await assertFigures(page, want);
    assert.equal(await page.textContent('#unit-name'), grid.name);
    assert.match(await page.title(), new RegExp(`^${grid.name}`));
    assert.equal(await page.getAttribute('#levels [data-level="grid"]', 'aria-pressed'), 'true');
    assert.match(await page.evaluate(() => JSON.stringify(window.map.getFilter('screen-unit-grid'))), new RegExp(CLICK_GRID));

    // 社区: the community of that grid, the grid still one button away.
    await page.click('#levels [data-level="community"]');
    await figuresOf(page, `community:${community.id}`);
    assert.equal(new URL(page.url()).searchParams.get('level'), 'community');
    assert.equal(new URL(page.url()).searchParams.get('id'), String(community.id));
    assert.equal(await page.isEnabled('#levels [data-level="grid"]'), true);
    await assertFigures(page, await summary('community', community.id));
    assertClean(log);
  });
});
