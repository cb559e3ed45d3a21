// The web map on a phone's screen (390×844 CSS pixels, as an iPhone 12–15 or a mid-range
// Android) in Chromium against the real binary: the first view shows the grids, and the panel is a
// sheet under the map that never covers it.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { interiorPoint } from '../src/geo.js';
import { demoLayer, launchBrowser, mapIdle, openMap, saveScreenshot, startServer, watch } from './helpers.mjs';

const PHONE = { viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true, locale: 'zh-CN' };
const TIMEOUT = 120_000;

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
}

/** The page rectangles of the map and the panel, and whether the sheet is open. */
function layout(page) {
  return page.evaluate(() => {
    const rect = (id) => {
      const r = document.getElementById(id).getBoundingClientRect();
      return { top: r.top, bottom: r.bottom, left: r.left, right: r.right, height: r.height };
    };
    return { map: rect('mapview'), panel: rect('panel'), open: document.getElementById('sheet-toggle').getAttribute('aria-expanded') === 'true' };
  });
}

/** The codes of the grids MapLibre has drawn in the current view. */
function renderedGrids(page) {
  return page.evaluate(() => [...new Set(window.map.queryRenderedFeatures({ layers: ['grids-fill'] }).map((f) => f.properties.code))]);
}

describe('the web map on a phone', { timeout: 10 * TIMEOUT }, () => {
  let server;
  let browser;
  let grids;
  let bounds;
  before(async () => {
    [server, browser, grids] = await Promise.all([startServer(), launchBrowser(), demoLayer('grids')]);
    bounds = (await (await fetch(server.url('/tiles/grids.json'))).json()).bounds;
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

  /** Whether the map's view holds the whole extent of the grids (TileJSON bounds). */
  const holdsData = (page) =>
    page.evaluate((b) => {
      const v = window.map.getBounds();
      return v.getWest() <= b[0] && v.getSouth() <= b[1] && v.getEast() >= b[2] && v.getNorth() >= b[3];
    }, bounds);

  test('at 390×844 the first view fits every grid, the panel folded under the map', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage(PHONE);
    try {
      await openMap(page, server.base);
      // Every demo grid is drawn in the first view, with no move by the user.
      const codes = await renderedGrids(page);
      assert.ok(codes.length > 0, 'no grid rendered in the first view');
      assert.deepEqual(codes.sort(), grids.features.map((f) => f.properties.code).sort());
      assert.equal(await holdsData(page), true, 'the view does not hold the extent of the grids');

      // The sheet starts folded: the map has most of the screen and nothing covers it.
      const folded = await layout(page);
      assert.equal(folded.open, false);
      assert.ok(folded.panel.top >= folded.map.bottom - 1, `the panel covers the map: ${JSON.stringify(folded)}`);
      assert.ok(folded.map.height >= 0.8 * PHONE.viewport.height, `the map is only ${folded.map.height} px high`);
      assert.equal(await page.isVisible('#sheet-toggle'), true);
      assert.equal(await page.isHidden('#search'), true);
      await saveScreenshot(page, 'phone-first-view.png');

      // A tap on a grid asks which grid it is; the sheet opens on the answer, under the map.
      const grid = grids.features[0];
      const at = await page.evaluate((c) => {
        const p = window.map.project(c);
        const r = window.map.getContainer().getBoundingClientRect();
        return { x: r.left + p.x, y: r.top + p.y };
      }, interiorPoint(grid.geometry));
      await page.touchscreen.tap(at.x, at.y);
      await page.waitForSelector('#info-body.found', { timeout: 30_000 });
      assert.match(await page.textContent('#info-body'), new RegExp(grid.properties.code));
      const opened = await layout(page);
      assert.equal(opened.open, true);
      assert.ok(opened.panel.top >= opened.map.bottom - 1, `the open panel covers the map: ${JSON.stringify(opened)}`);
      assert.equal(await page.isVisible('#info'), true);
      await mapIdle(page);
      assert.ok((await renderedGrids(page)).length > 0, 'no grid left in view with the sheet open');
      await saveScreenshot(page, 'phone-sheet-open.png');

      // Folded again by its handle.
      await page.tap('#sheet-toggle');
      assert.equal((await layout(page)).open, false);
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('a desktop window opens on the data too, with the panel beside the map', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage({ viewport: { width: 1280, height: 800 }, locale: 'zh-CN' });
    try {
      await openMap(page, server.base);
      assert.equal(await holdsData(page), true);
      assert.equal((await renderedGrids(page)).length, grids.features.length);
      const { map, panel } = await layout(page);
      assert.ok(panel.right <= map.left + 1, 'the panel covers the map');
      assert.equal(await page.isHidden('#sheet-toggle'), true);
      assert.equal(await page.isVisible('#search'), true);
      assertClean(log);
    } finally {
      await context.close();
    }
  });
});
