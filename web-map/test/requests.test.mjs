// 社情民意 in Chromium against the real binary: a resident reports a problem from the phone page
// (/report, no login), and the people who answer for the spot take it through every step on the
// main map's 待办 (立案, 派遣, 处置, 核查, 结案) until the resident, following the ticket number,
// reads that it was solved. Accounts are made with `wangge user add`; what reached the server is
// checked with its own API.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { interiorPoint } from '../src/geo.js';
import { addUser, apiToken, demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };
const DESKTOP = { viewport: { width: 1280, height: 800 }, locale: 'zh-CN' };
const TIMEOUT = 240_000;
const CADRE = { name: 'wangli', role: 'cadre', password: 'cadre-pass-3', displayName: '王丽', phone: '13800000003' };
const SECRETARY = { name: 'zhaoshuji', role: 'secretary', password: 'secretary-pass-1', displayName: '赵书记', community: '370202010001' };
const ADMIN = { name: 'guanliyuan', role: 'admin', password: 'admin-pass-1' };
/** The demo area the cadre holds, and the spot of the report inside it (community 370202010001). */
const AREA = '370202010-Q01';
const TRANSITIONS = /^\/api\/v1\/requests\/\d+\/transitions$/;

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

/** Page coordinates of [lon, lat] (WGS84: the demo serves no basemap) on the page's map. */
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

/** The 待办 item of a request, once the list shows it in `state`. */
async function itemIn(page, id, state) {
  const selector = `#requests-list li[data-request="${id}"][data-state="${state}"]`;
  await page.waitForSelector(selector);
  return selector;
}

/** Opens the residents' page and waits for its map. */
async function openReport(page, base, path = '/report') {
  await page.goto(`${base}${path}`);
  await mapIdle(page);
  await page.waitForSelector('#report-services label.chip');
}

describe('社情民意: residents report, staff answer', { timeout: 6 * TIMEOUT }, () => {
  let server;
  let browser;
  let offered;
  let tokens;
  let cadreId;
  let spot;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    const { paths } = (await getJson(server, '/api/v1/openapi.json')).body;
    offered = ['/open311/v2/requests.json', '/open311/v2/requests/{id}.json', '/api/v1/me/requests', '/api/v1/requests/{id}/transitions'].every((p) => p in paths);
    if (!offered) return;
    for (const user of [CADRE, SECRETARY, ADMIN]) await addUser(server, user);
    tokens = {
      cadre: await apiToken(server, CADRE.name, CADRE.password),
      secretary: await apiToken(server, SECRETARY.name, SECRETARY.password),
      admin: await apiToken(server, ADMIN.name, ADMIN.password),
    };
    cadreId = (await getJson(server, '/api/v1/me', tokens.cadre)).body.id;
    // The cadre holds the area (claiming with clicks is accounts.test.mjs's business).
    const area = (await demoLayer('areas')).features.find((f) => f.properties.code === AREA);
    spot = interiorPoint(area.geometry);
    const { body } = await getJson(server, '/api/v1/areas/holders');
    const id = body.areas.find((a) => a.code === AREA).id;
    const claimed = await fetch(server.url(`/api/v1/areas/${id}/claim`), { method: 'POST', headers: { authorization: `Bearer ${tokens.cadre}` } });
    assert.equal(claimed.status, 201);
    const where = (await getJson(server, `/api/v1/lookup?lon=${spot[0]}&lat=${spot[1]}`)).body;
    assert.equal(where.community?.code, SECRETARY.community, 'the spot is not in the secretary community');
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function newPage(options) {
    const context = await browser.newContext(options);
    const page = await context.newPage();
    const log = await watch(context, page);
    return { context, page, log };
  }

  test('a report from the phone page goes through 立案, 派遣, 处置, 核查 and 结案, and the resident reads that it was solved', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no requests endpoints');
    const pages = [];
    try {
      // ---- the resident, on a phone, without an account ----
      const resident = await newPage(PHONE);
      pages.push(resident);
      await openReport(resident.page, server.base);
      assert.equal(await resident.page.isVisible('#signin-open'), false, 'the residents page asks for a login');
      const at = await screenPoint(resident.page, spot);
      await resident.page.touchscreen.tap(at.x, at.y);
      await resident.page.waitForSelector('#report-place.found');
      const place = await resident.page.textContent('#report-place');
      assert.match(place, /珠海路街道民情责任田01/);
      assert.match(place, new RegExp(CADRE.displayName));
      await resident.page.tap('#report-services label.chip:has-text("家庭维修")');
      // Repair asks which appliance (a required list of one answer).
      await resident.page.waitForSelector('[data-attribute="appliance"] label.chip');
      assert.match(await resident.page.textContent('[data-attribute="appliance"] legend'), /需要维修的是什么.*必填/);
      await resident.page.tap('[data-attribute="appliance"] label.chip:has-text("热水器")');
      await resident.page.fill('#report-description', '热水器坏了，两天没有热水，家里有老人');
      assert.equal(await resident.page.textContent('#report-count'), '18');
      await resident.page.fill('#report-name', '王女士');
      await resident.page.fill('#report-phone', '13905320001');
      const posted = resident.page.waitForResponse((r) => r.url().endsWith('/open311/v2/requests.json') && r.request().method() === 'POST');
      await resident.page.tap('#report-submit');
      const answer = await posted;
      assert.equal(answer.status(), 201);
      const sent = answer.request().postDataJSON();
      assert.equal(sent.crs, 'wgs84');
      // Where the finger landed (a whole pixel away from the spot at most), in WGS84 degrees.
      assert.ok(Math.abs(sent.long - spot[0]) < 1e-4 && Math.abs(sent.lat - spot[1]) < 1e-4, `sent ${sent.long}, ${sent.lat}`);
      await resident.page.waitForSelector('#report-done:not([hidden])');
      const ticket = (await resident.page.textContent('#report-ticket')).trim();
      assert.match(ticket, /^\d+$/);
      const notice = await resident.page.textContent('#report-notice');
      assert.match(notice, /^已转交珠海路街道民情责任田01，将于 .+ 前立案$/);
      assert.doesNotMatch(notice, /T\d\d:\d\d/, 'the notice shows the raw UTC time');
      await saveScreenshot(resident.page, 'report-ticket.png');

      // As the server stored it: the category, the answer, the reporter, waiting on the cadre.
      let stored = (await getJson(server, `/api/v1/requests/${ticket}`, tokens.cadre)).body;
      assert.equal(stored.category, 'repair');
      assert.deepEqual(stored.attributes, { appliance: 'water_heater' });
      assert.deepEqual(stored.reporter, { name: '王女士', phone: '13905320001', email: null });
      assert.equal(stored.state, 'reported');
      assert.equal(stored.responsible_id, cadreId);

      // ---- the secretary of the community opens 待办 first (the list goes stale below) ----
      const secretary = await newPage(DESKTOP);
      pages.push(secretary);
      await openMap(secretary.page, server.base);
      await signIn(secretary.page, SECRETARY);
      const staleItem = await itemIn(secretary.page, ticket, 'reported');

      // ---- the cadre who holds the area sees it in 待办, on the map too, and accepts it ----
      const cadre = await newPage(DESKTOP);
      pages.push(cadre);
      await openMap(cadre.page, server.base);
      assert.equal(await cadre.page.isHidden('#requests'), true, '待办 shown to an anonymous visitor');
      await signIn(cadre.page, CADRE);
      let item = await itemIn(cadre.page, ticket, 'reported');
      const text = await cadre.page.textContent(item);
      for (const part of ['家庭维修', '待立案', '热水器坏了', '王女士', '13905320001']) assert.ok(text.includes(part), `${part} missing from ${text}`);
      assert.match(text, /剩余 \d+ (小时|分钟)/);
      assert.equal(await cadre.page.isVisible(`${item} .overdue-badge`), false, 'a new request marked 逾期');
      await mapIdle(cadre.page);
      const drawn = await cadre.page.evaluate(() => window.map.querySourceFeatures('requests').map((f) => f.properties.id));
      assert.ok(drawn.includes(Number(ticket)), `the request is not on the map: ${drawn}`);
      await cadre.page.click(`${item} button[data-to="accepted"]`);
      item = await itemIn(cadre.page, ticket, 'accepted');
      assert.equal(await cadre.page.isVisible(`${item} button[data-to="dispatched"]`), false, 'a cadre is offered 派遣');
      assert.equal((await getJson(server, `/api/v1/requests/${ticket}`, tokens.cadre)).body.state, 'accepted');

      // ---- the secretary's stale 受理立案 is refused (409) and said; then 派遣 to the cadre ----
      secretary.log.expect(TRANSITIONS, 409);
      await secretary.page.click(`${staleItem} button[data-to="accepted"]`);
      await secretary.page.waitForSelector('#requests-status.error');
      assert.match(await secretary.page.textContent("#requests-status"), /诉求状态已经变化.*is accepted/);
      item = await itemIn(secretary.page, ticket, 'accepted');
      await secretary.page.click(`${item} button[data-to="dispatched"]`);
      await secretary.page.selectOption(`${item} select[name="person"]`, String(cadreId));
      await secretary.page.fill(`${item} textarea[name="note"]`, '请尽快上门');
      await secretary.page.click(`${item} .step-form button[type="submit"]`);
      await itemIn(secretary.page, ticket, 'dispatched');
      stored = (await getJson(server, `/api/v1/requests/${ticket}`, tokens.secretary)).body;
      assert.equal(stored.state, 'dispatched');
      assert.equal(stored.assignee_id, cadreId);

      // The heatmap of open requests, from the public list, for a secretary.
      assert.equal(await secretary.page.isVisible('#requests-heat'), true);
      await secretary.page.check('#requests-heat-toggle');
      await secretary.page.waitForSelector('#requests-heat-summary[data-count]');
      const open = (await getJson(server, '/open311/v2/requests.json?status=open')).body;
      assert.equal(await secretary.page.getAttribute('#requests-heat-summary', 'data-count'), String(open.length));
      assert.equal(await secretary.page.evaluate(() => window.map.getLayer('requests-heat')?.type), 'heatmap');
      await secretary.page.uncheck('#requests-heat-toggle');
      assert.equal(await secretary.page.evaluate(() => Boolean(window.map.getLayer('requests-heat'))), false);
      assert.equal(await cadre.page.isVisible('#requests-heat'), false, 'a cadre is offered the heatmap');

      // ---- the cadre handles it: a note is needed (422, said), then given ----
      await cadre.page.click('#requests-refresh');
      item = await itemIn(cadre.page, ticket, 'dispatched');
      await cadre.page.click(`${item} button[data-to="handled"]`);
      cadre.log.expect(TRANSITIONS, 422);
      await cadre.page.click(`${item} .step-form button[type="submit"]`);
      await cadre.page.waitForSelector(`${item} .step-error:not([hidden])`);
      assert.match(await cadre.page.textContent(`${item} .step-error`), /^信息不完整或不正确：.*note/);
      await cadre.page.fill(`${item} textarea[name="note"]`, '已上门更换热水器温控阀，恢复供热水');
      await cadre.page.click(`${item} .step-form button[type="submit"]`);
      await itemIn(cadre.page, ticket, 'handled');
      assert.equal(await cadre.page.isVisible(`#requests-list li[data-request="${ticket}"] button[data-to="verified"]`), false, 'the handler is offered 核查');

      // ---- an admin checks the work ----
      const admin = await newPage(DESKTOP);
      pages.push(admin);
      await openMap(admin.page, server.base);
      await signIn(admin.page, ADMIN);
      item = await itemIn(admin.page, ticket, 'handled');
      await admin.page.click(`${item} button[data-to="verified"]`);
      await itemIn(admin.page, ticket, 'verified');

      // ---- the secretary closes it as solved: it leaves 待办 ----
      await secretary.page.click('#requests-refresh');
      item = await itemIn(secretary.page, ticket, 'verified');
      await secretary.page.click(`${item} button[data-to="closed"][data-fixed="true"]`);
      await secretary.page.waitForSelector(`#requests-list li[data-request="${ticket}"]`, { state: 'detached' });
      stored = (await getJson(server, `/api/v1/requests/${ticket}`, tokens.admin)).body;
      assert.equal(stored.state, 'closed');
      assert.equal(stored.fixed, true);
      assert.deepEqual(
        stored.events.map((e) => e.to),
        ['reported', 'accepted', 'dispatched', 'handled', 'verified', 'closed'],
      );

      // ---- the resident follows the ticket ----
      await resident.page.tap('#report-follow');
      await resident.page.waitForSelector(`#track-result .ticket-status[data-ticket="${ticket}"]`);
      const status = await resident.page.textContent('#track-result');
      assert.match(status, /已结案：问题已解决/);
      assert.match(status, /已办结/);
      assert.match(status, /珠海路街道民情责任田01/);
      // The phone remembers the ticket, so a later visit finds it without the number.
      const later = await resident.context.newPage();
      await later.goto(`${server.base}/report`);
      await later.waitForSelector(`#track-list button[data-ticket="${ticket}"]`);
      await later.tap(`#track-list button[data-ticket="${ticket}"]`);
      await later.waitForSelector(`#track-result .ticket-status.closed[data-ticket="${ticket}"]`);
      await saveScreenshot(resident.page, 'report-closed.png');
      for (const p of pages) assertClean(p.log);
    } finally {
      for (const p of pages) await p.context.close();
    }
  });

  test('a spot outside every grid is said at the tap and refused (outside_grids) in Chinese', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no requests endpoints');
    const { context, page, log } = await newPage(PHONE);
    try {
      await openReport(page, server.base);
      // Nothing chosen yet: the page says what is missing, nothing is sent.
      await page.tap('#report-submit');
      assert.match(await page.textContent('#report-error'), /请先在地图上点选问题所在位置/);

      // West of the demo street's grids: a spot no grid holds.
      const { bounds } = (await getJson(server, '/tiles/grids.json')).body;
      const outside = [bounds[0] - 0.004, (bounds[1] + bounds[3]) / 2];
      assert.equal((await getJson(server, `/api/v1/lookup?lon=${outside[0]}&lat=${outside[1]}`)).body.grid, null);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.evaluate((c) => window.map.jumpTo({ center: c, zoom: 16 }), outside);
      await mapIdle(page);
      const at = await screenPoint(page, outside);
      await page.touchscreen.tap(at.x, at.y);
      await page.waitForSelector('#report-place.outside');
      assert.match(await page.textContent('#report-place'), /不在任何网格内/);

      await page.tap('#report-services label.chip:has-text("环境卫生")');
      await page.fill('#report-description', '路边有垃圾');
      log.expect('/open311/v2/requests.json', 422);
      const posted = page.waitForResponse((r) => r.url().endsWith('/open311/v2/requests.json') && r.request().method() === 'POST');
      await page.tap('#report-submit');
      const answer = await posted;
      assert.equal(answer.status(), 422);
      assert.equal((await answer.json()).error.code, 'outside_grids');
      await page.waitForSelector('#report-error:not([hidden])');
      assert.equal(await page.textContent('#report-error'), '该位置不在任何网格内，没有负责受理的网格员。请在地图上网格范围内重新选择位置。');
      assert.equal(await page.isHidden('#report-done'), true);
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('a report from the phone position is sent as WGS84, and the resident page shows nothing personal of other reports', { timeout: TIMEOUT }, async (t) => {
    if (!offered) return t.skip('this binary has no requests endpoints');
    // Another resident reports from where they stand, with their name and phone.
    const grid = (await demoLayer('grids')).features.find((f) => f.properties.code === '370202010002001');
    const [lon, lat] = interiorPoint(grid.geometry);
    const other = await newPage({ ...PHONE, permissions: ['geolocation'], geolocation: { longitude: lon, latitude: lat, accuracy: 12 } });
    const mine = await newPage(PHONE);
    try {
      await openReport(other.page, server.base);
      await other.page.tap('#report-locate');
      await other.page.waitForSelector('#report-place.found');
      await other.page.tap('#report-services label.chip:has-text("环境卫生")');
      await other.page.fill('#report-description', '楼道里堆满杂物，消防通道不通');
      await other.page.fill('#report-name', '李四');
      await other.page.fill('#report-phone', '13912345678');
      const posted = other.page.waitForResponse((r) => r.url().endsWith('/open311/v2/requests.json') && r.request().method() === 'POST');
      await other.page.tap('#report-submit');
      const answer = await posted;
      assert.equal(answer.status(), 201);
      const sent = answer.request().postDataJSON();
      assert.deepEqual([sent.crs, sent.long, sent.lat], ['wgs84', lon, lat], 'the phone position is not sent as the browser gave it');
      await other.page.waitForSelector('#report-done:not([hidden])');
      const theirs = (await other.page.textContent('#report-ticket')).trim();
      assertClean(other.log);

      // This resident looks that ticket up (a number is easy to guess): its progress, nobody's name.
      const bodies = [];
      mine.page.on('response', async (r) => {
        if (new URL(r.url()).pathname.startsWith('/open311/')) bodies.push(await r.text().catch(() => ''));
      });
      await openReport(mine.page, server.base);
      assert.equal(await mine.page.isHidden('#track-mine'), true, 'a fresh phone lists tickets');
      await mine.page.fill('#track-ticket', theirs);
      await mine.page.tap('#track-submit');
      await mine.page.waitForSelector(`#track-result .ticket-status[data-ticket="${theirs}"]`);
      const shown = await mine.page.textContent('#track-result');
      assert.match(shown, /已收到，等待立案/);
      assert.match(shown, /环境卫生/);
      const page = await mine.page.textContent('body');
      for (const personal of ['李四', '13912345678']) {
        assert.ok(!page.includes(personal), `the page shows ${personal}`);
        assert.ok(!bodies.some((b) => b.includes(personal)), `an answer to the page carries ${personal}`);
      }
      assert.ok(bodies.length >= 2, 'the page read no Open311 answers');

      // A number nobody has: said in Chinese.
      mine.log.expect(/^\/open311\/v2\/requests\/\d+\.json$/, 404);
      await mine.page.fill('#track-ticket', '999999');
      await mine.page.tap('#track-submit');
      await mine.page.waitForSelector('#track-result p.error');
      assert.equal(await mine.page.textContent('#track-result'), '没有找到受理编号为 999999 的诉求，请核对编号。');
      assertClean(mine.log);
    } finally {
      await other.context.close();
      await mine.context.close();
    }
  });
});

describe('社情民意: too many reports from one address', { timeout: 2 * TIMEOUT }, () => {
  test('the page says in Chinese how long to wait (429 rate_limited, Retry-After)', { timeout: TIMEOUT }, async (t) => {
    const server = await startServer({ args: ['--open311-posts-per-minute', '1'] });
    const browser = await launchBrowser();
    try {
      const { paths } = (await getJson(server, '/api/v1/openapi.json')).body;
      if (!('/open311/v2/requests.json' in paths)) return t.skip('this binary has no Open311 endpoints');
      const grid = (await demoLayer('grids')).features[0];
      const [lon, lat] = interiorPoint(grid.geometry);
      // This address's one report of the minute, sent before the page's.
      const first = await fetch(server.url('/open311/v2/requests.json'), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ service_code: 'other', lat, long: lon, description: '第一件' }),
      });
      assert.equal(first.status, 201);
      const context = await browser.newContext({ ...PHONE, permissions: ['geolocation'], geolocation: { longitude: lon, latitude: lat, accuracy: 10 } });
      const page = await context.newPage();
      const log = await watch(context, page);
      await openReport(page, server.base);
      await page.tap('#report-locate');
      await page.waitForSelector('#report-place.found');
      await page.tap('#report-services label.chip:has-text("其他")');
      await page.fill('#report-description', '第二件');
      log.expect('/open311/v2/requests.json', 429);
      await page.tap('#report-submit');
      await page.waitForSelector('#report-error:not([hidden])');
      assert.match(await page.textContent('#report-error'), /^提交过于频繁，请 \d+ 秒后再试。$/);
      assert.equal(await page.isHidden('#report-done'), true);
      assertClean(log);
      await context.close();
    } finally {
      await browser.close();
      await server.stop();
    }
  });
});
