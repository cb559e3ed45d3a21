// Signing in on the web map, a planner editing and a cadre claiming, in Chromium against the real
// binary: accounts are made with `wangge user add` in the server's database, every change goes
// through the real API, and the tests check what the server then answers.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { contains, interiorPoint } from '../src/geo.js';
import { addUser, apiToken, demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const VIEWPORT = { width: 1280, height: 800 };
const TIMEOUT = 120_000;
const PLANNER = { name: 'guihua', role: 'planner', password: 'planner-pass-1' };
const CADRE = { name: 'zhangwei', role: 'cadre', password: 'cadre-pass-1' };

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
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

describe('accounts on the web map', { timeout: 10 * TIMEOUT }, () => {
  let server;
  let browser;
  before(async () => {
    [server, browser] = await Promise.all([startServer(), launchBrowser()]);
    await addUser(server, PLANNER);
    await addUser(server, CADRE);
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
});
