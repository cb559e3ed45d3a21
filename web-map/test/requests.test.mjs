// 社情民意 in Chromium against the real binary: a resident reports a problem from the phone page
// (/report, no login), and the people who answer for the spot take it through every step on the
// main map's 待办 (立案, 派遣, 处置, 核查, 结案) until the resident, following the ticket number,
// reads that it was solved. Photos go with it: the resident's of the problem (Open311's media),
// the cadre's of the work done (needed for 处置完成), seen small before 核查 and on the ticket.
// Accounts are made with `wangge user add`; what reached the server is checked with its own API.

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
const PHOTOS = /^\/api\/v1\/requests\/\d+\/photos$/;

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

/** A PNG of `width` × `height` drawn by the browser: a stand-in for a phone's photo. */
async function pngOf(page, width, height, colour) {
  const base64 = await page.evaluate(
    async ([w, h, c]) => {
      const canvas = new OffscreenCanvas(w, h);
      const ctx = canvas.getContext('2d');
      ctx.fillStyle = c;
      ctx.fillRect(0, 0, w, h);
      ctx.fillStyle = '#ffffff';
      ctx.fillRect(w / 4, h / 4, w / 2, h / 2);
      const bytes = new Uint8Array(await (await canvas.convertToBlob({ type: 'image/png' })).arrayBuffer());
      let text = '';
      for (const b of bytes) text += String.fromCharCode(b);
      return btoa(text);
    },
    [width, height, colour],
  );
  return Buffer.from(base64, 'base64');
}

/** Waits until an image of the page has been decoded, and gives its natural size. */
async function imageLoaded(page, selector) {
  await page.waitForFunction((s) => document.querySelector(s)?.complete && document.querySelector(s).naturalWidth > 0, selector);
  return page.$eval(selector, (img) => ({ width: img.naturalWidth, height: img.naturalHeight, src: img.getAttribute('src') }));
}

/** The parts of a multipart post as the browser sent them: text parts as strings, files as {filename, type}. */
function formParts(request) {
  const type = request.headers()['content-type'] ?? '';
  const boundary = /boundary=(.+)$/.exec(type)?.[1];
  assert.ok(type.startsWith('multipart/form-data') && boundary, `not a multipart post: ${type}`);
  const parts = {};
  for (const chunk of (request.postDataBuffer() ?? Buffer.alloc(0)).toString('latin1').split(`--${boundary}`).slice(1, -1)) {
    const [head, ...body] = chunk.split('\r\n\r\n');
    const name = /name="([^"]+)"/.exec(head)[1];
    const filename = /filename="([^"]*)"/.exec(head)?.[1];
    const value = Buffer.from(body.join('\r\n\r\n').replace(/\r\n$/, ''), 'latin1');
    parts[name] = filename === undefined ? value.toString('utf8') : { filename, type: /content-type: *(\S+)/i.exec(head)?.[1] };
  }
  return parts;
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

      // A photo from the camera: JPEG or PNG up to 12 MB, said next to the button; a larger one
      // is refused in the page before anything is sent.
      const photoInput = '#report-photo input[type="file"]';
      assert.equal(await resident.page.getAttribute(photoInput, 'accept'), 'image/jpeg,image/png');
      assert.equal(await resident.page.getAttribute(photoInput, 'capture'), 'environment');
      assert.match(await resident.page.textContent('#report-photo'), /添加照片.*JPEG 或 PNG 格式，不超过 12\sMB/);
      await resident.page.setInputFiles(photoInput, { name: 'huge.jpg', mimeType: 'image/jpeg', buffer: Buffer.alloc(12 * 1024 * 1024 + 1, 0xff) });
      await resident.page.waitForSelector('#report-photo .photo-error:not([hidden])');
      assert.equal(await resident.page.textContent('#report-photo .photo-error'), '照片太大（12.1 MB），不能超过 12 MB，请换一张或压缩后再试。');
      assert.equal(await resident.page.isHidden('#report-photo .photo-preview'), true);
      const problemPhoto = await pngOf(resident.page, 640, 480, '#b5542c');
      await resident.page.setInputFiles(photoInput, { name: 'heater.png', mimeType: 'image/png', buffer: problemPhoto });
      await resident.page.waitForSelector('#report-photo .photo-preview:not([hidden])');
      assert.deepEqual((await imageLoaded(resident.page, '#report-photo .photo-preview img')).width, 640);
      assert.equal(await resident.page.isHidden('#report-photo .photo-error'), true);

      const posted = resident.page.waitForResponse((r) => r.url().endsWith('/open311/v2/requests.json') && r.request().method() === 'POST');
      await resident.page.tap('#report-submit');
      const answer = await posted;
      assert.equal(answer.status(), 201);
      // With a photo the report is a multipart form: the same fields, the photo as `media`.
      const sent = formParts(answer.request());
      assert.deepEqual(
        [sent.service_code, sent['attribute[appliance]'], sent.description, sent.last_name, sent.phone, sent.media?.filename, sent.media?.type],
        ['repair', 'water_heater', '热水器坏了，两天没有热水，家里有老人', '王女士', '13905320001', 'heater.png', 'image/png'],
      );
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
      assert.deepEqual(stored.photos.map((p) => [p.kind, p.width, p.height]), [['report', 640, 480]]);

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
      // The resident's photo, small (its thumbnail), a link to the public copy.
      const reportThumb = await imageLoaded(cadre.page, `${item} .request-photos a[data-kind="report"] img`);
      assert.equal(reportThumb.src, stored.photos[0].thumbnail_url);
      assert.equal(await cadre.page.getAttribute(`${item} .request-photos a[data-kind="report"]`, 'href'), stored.photos[0].url);
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

      // ---- the cadre handles it: a photo of the work done is needed (said in the page, nothing
      // sent), an unreadable one is refused (422, said), then a photo goes up and the step is
      // refused for its missing note (422, said), then the note is given and the photo not sent again ----
      await cadre.page.click('#requests-refresh');
      item = await itemIn(cadre.page, ticket, 'dispatched');
      const cadrePosts = [];
      cadre.page.on('request', (r) => {
        const path = new URL(r.url()).pathname;
        if (r.method() === 'POST' && (TRANSITIONS.test(path) || PHOTOS.test(path))) cadrePosts.push(path.split('/').pop());
      });
      await cadre.page.click(`${item} button[data-to="handled"]`);
      const afterInput = `${item} .step-form .photo-picker input[type="file"]`;
      assert.equal(await cadre.page.getAttribute(afterInput, 'accept'), 'image/*');
      assert.equal(await cadre.page.getAttribute(afterInput, 'capture'), 'environment');
      await cadre.page.click(`${item} .step-form button[type="submit"]`);
      await cadre.page.waitForSelector(`${item} .photo-error:not([hidden])`);
      assert.equal(await cadre.page.textContent(`${item} .photo-error`), '请先拍摄或选择一张处置后的照片，再确认处置完成。');
      assert.deepEqual(cadrePosts, [], '处置完成 without a photo was sent');

      // The server reads the bytes, whatever the file says it is: not an image (415), an image cut
      // short (422 unreadable_photo).
      const afterPhoto = await pngOf(cadre.page, 800, 600, '#2c7fb5');
      const refusals = [
        ['notes.png', Buffer.from('not a photo at all'), 415, '只能上传 JPEG 或 PNG 格式的照片，请换一张。'],
        ['cut.png', afterPhoto.subarray(0, afterPhoto.length >> 1), 422, '无法识别这张照片（文件可能已损坏或不是图片），请换一张。'],
      ];
      for (const [name, buffer, status, said] of refusals) {
        cadre.log.expect(PHOTOS, status);
        await cadre.page.setInputFiles(afterInput, { name, mimeType: 'image/png', buffer });
        await cadre.page.waitForSelector(`${item} .photo-preview:not([hidden])`);
        await cadre.page.click(`${item} .step-form button[type="submit"]`);
        await cadre.page.waitForFunction(([s, text]) => document.querySelector(s)?.textContent === text, [`${item} .photo-error`, said]);
      }
      assert.deepEqual(cadrePosts, ['photos', 'photos'], 'a refused photo was followed by the step');

      await cadre.page.setInputFiles(afterInput, { name: 'fixed.png', mimeType: 'image/png', buffer: afterPhoto });
      await cadre.page.waitForSelector(`${item} .photo-preview:not([hidden])`);
      assert.equal(await cadre.page.isHidden(`${item} .photo-error`), true);
      // Back from the camera app the page is visible again and reads 待办 again: the open form
      // and its photo stay.
      const reread = cadre.page.waitForResponse((r) => r.url().endsWith('/api/v1/me/requests'));
      await cadre.page.evaluate(() => document.dispatchEvent(new Event('visibilitychange')));
      await reread;
      await cadre.page.waitForTimeout(100);
      assert.equal(await cadre.page.isVisible(`${item} .photo-preview img`), true, 'the chosen photo was lost when the list was read again');
      cadre.log.expect(TRANSITIONS, 422);
      const upload = cadre.page.waitForResponse((r) => PHOTOS.test(new URL(r.url()).pathname) && r.request().method() === 'POST');
      await cadre.page.click(`${item} .step-form button[type="submit"]`);
      const uploaded = await upload;
      assert.equal(uploaded.status(), 201);
      assert.equal(uploaded.request().headers()['content-type'], 'image/png');
      assert.equal((await uploaded.json()).kind, 'after');
      await cadre.page.waitForSelector(`${item} .step-error:not([hidden])`);
      assert.match(await cadre.page.textContent(`${item} .step-error`), /^信息不完整或不正确：.*note/);
      await cadre.page.fill(`${item} textarea[name="note"]`, '已上门更换热水器温控阀，恢复供热水');
      await cadre.page.click(`${item} .step-form button[type="submit"]`);
      await itemIn(cadre.page, ticket, 'handled');
      assert.deepEqual(cadrePosts, ['photos', 'photos', 'photos', 'transitions', 'transitions'], 'the after-photo was sent again');
      stored = (await getJson(server, `/api/v1/requests/${ticket}`, tokens.cadre)).body;
      assert.deepEqual(stored.photos.map((p) => [p.kind, p.width, p.height]), [['report', 640, 480], ['after', 800, 600]]);
      assert.equal(await cadre.page.isVisible(`#requests-list li[data-request="${ticket}"] button[data-to="verified"]`), false, 'the handler is offered 核查');

      // ---- an admin checks the work ----
      const admin = await newPage(DESKTOP);
      pages.push(admin);
      await openMap(admin.page, server.base);
      await signIn(admin.page, ADMIN);
      item = await itemIn(admin.page, ticket, 'handled');
      // The work done, small, before 核查.
      const afterThumb = await imageLoaded(admin.page, `${item} .request-photos a[data-kind="after"] img`);
      assert.equal(afterThumb.src, stored.photos[1].thumbnail_url);
      assert.ok(afterThumb.width <= 320 && afterThumb.width > 0, `a thumbnail ${afterThumb.width} wide`);
      assert.match(await admin.page.textContent(`${item} .request-photos`), /反映时.*处置后/);
      await saveScreenshot(admin.page, 'requests-after-photo.png');
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
      // The photo the resident sent, thumbnail-sized: the public copy Open311's media_url names.
      const media = (await getJson(server, `/open311/v2/requests/${ticket}.json`)).body[0].media_url;
      assert.equal(media, `/api/v1/requests/${ticket}/photo`);
      const shownPhoto = await imageLoaded(resident.page, '#track-result .ticket-photo img');
      assert.deepEqual([shownPhoto.src, shownPhoto.width, shownPhoto.height], [media, 640, 480]);
      const box = await resident.page.$eval('#track-result .ticket-photo img', (img) => img.getBoundingClientRect().width);
      assert.ok(box <= 160, `the photo is shown ${box} px wide`);
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
