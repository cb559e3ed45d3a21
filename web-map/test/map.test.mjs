// The web map in a real browser (Debian's Chromium, headless, WebGL through SwiftShader) against
// the real binary serving the demo street.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { interiorPoint, wgs84ToGcj02 } from '../src/geo.js';
import { demoLayer, distinctColours, launchBrowser, mapIdle, openMap, saveScreenshot, startBasemapStandIn, startServer, watch } from './helpers.mjs';

const VIEWPORT = { width: 1280, height: 800 };
const TIMEOUT = 120_000;

/** Demo grids with their community's name and an interior point computed from the polygon. */
async function demoGrids() {
  const communities = new Map((await demoLayer('communities')).features.map((f) => [f.properties.code, f.properties.name]));
  return (await demoLayer('grids')).features.map((f) => ({
    code: f.properties.code,
    name: f.properties.name,
    community: communities.get(f.properties.parent_code),
    point: interiorPoint(f.geometry),
  }));
}

/** Centres the map on [lon, lat] (map CRS) and clicks there with the mouse. */
async function clickAt(page, lngLat, zoom = 16) {
  await page.evaluate(([c, z]) => window.map.jumpTo({ center: c, zoom: z }), [lngLat, zoom]);
  await mapIdle(page);
  const { x, y } = await page.evaluate((c) => {
    const p = window.map.project(c);
    const r = window.map.getContainer().getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  }, lngLat);
  await page.mouse.click(x, y);
}

/** The text of the side panel's answer once it has one. */
async function panelAnswer(page) {
  await page.waitForSelector('#info-body.found, #info-body.outside, #info-body.error', { timeout: 30_000 });
  return page.textContent('#info-body');
}

function assertClean(log) {
  assert.deepEqual(log.errors, [], 'console errors');
  assert.deepEqual(log.csp, [], 'Content-Security-Policy violations');
  assert.deepEqual(log.failed, [], 'failed requests');
  assert.deepEqual(log.foreign, [], 'requests to other hosts');
}

describe('the web map', { timeout: 10 * TIMEOUT }, () => {
  let server;
  let browser;
  let grids;
  before(async () => {
    [server, browser, grids] = await Promise.all([startServer(), launchBrowser(), demoGrids()]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
  });

  async function newPage(options = {}) {
    const context = await browser.newContext({ viewport: VIEWPORT, locale: 'zh-CN', ...options });
    const page = await context.newPage();
    const log = await watch(context, page);
    return { context, page, log };
  }

  test('loads without errors and draws our tiles with Chinese labels', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      const colours = await distinctColours(page, { x: 340, y: 0, width: VIEWPORT.width - 340, height: VIEWPORT.height });
      assert.ok(colours > 40, `only ${colours} distinct colours on the map`);
      const rendered = await page.evaluate(() => {
        const names = (layer) => window.map.queryRenderedFeatures({ layers: [layer] }).map((f) => f.properties.name);
        return { grids: names('grids-fill'), gridLabels: names('grids-label'), communityLabels: names('communities-label') };
      });
      assert.ok(rendered.grids.length > 0, 'no grid features rendered');
      const codes = new Set(grids.map((g) => g.name));
      assert.ok(rendered.grids.every((n) => codes.has(n)));
      assert.ok(rendered.gridLabels.length >= 10, `grid labels: ${rendered.gridLabels}`);
      assert.ok(rendered.communityLabels.includes('香港花园社区'), `community labels: ${rendered.communityLabels}`);
      // Everything came from this server: tiles, glyphs, label points, MapLibre and its worker.
      for (const part of ['/tiles/grids/', '/tiles/buildings/', '/glyphs/', '/api/v1/labels', '/vendor/maplibre-gl/maplibre-gl-worker.mjs']) {
        assert.ok(log.requests.some((u) => u.includes(part) || decodeURI(u).includes(part)), `no request for ${part}`);
      }
      assertClean(log);
      await saveScreenshot(page, 'map-initial.png');
    } finally {
      await context.close();
    }
  });

  test('the page runs under its Content-Security-Policy, which refuses an injected script', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      const response = await page.goto(`${server.base}/`);
      const csp = response.headers()['content-security-policy'];
      for (const part of ["default-src 'self'", "frame-ancestors 'none'", 'worker-src', "script-src 'self' 'sha256-"]) {
        assert.ok(csp.includes(part), `${part} not in ${csp}`);
      }
      assert.equal(response.headers()['x-content-type-options'], 'nosniff');
      await mapIdle(page);
      // The import map, MapLibre and its workers, tiles and glyphs all ran without a violation.
      assertClean(log);
      // What an injected script would do is refused, and the watch sees it: so the empty
      // log.csp of every other test means something.
      const ran = await page.evaluate(async () => {
        const script = document.createElement('script');
        script.textContent = 'window.injected = true';
        document.body.append(script);
        await new Promise((resolve) => setTimeout(resolve, 200));
        return window.injected === true;
      });
      assert.equal(ran, false, 'an inline script ran');
      // The report crosses from the page to this process asynchronously.
      for (let i = 0; i < 100 && log.csp.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 20));
      assert.equal(log.csp.length, 1, `violations: ${log.csp}`);
      assert.match(log.csp[0], /^script-src-elem inline /);
    } finally {
      await context.close();
    }
  });

  test('a click anywhere shows which grid, community, street and areas it is in', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      // Three grids from the demo data: first, middle and last.
      for (const grid of [grids[0], grids[Math.floor(grids.length / 2)], grids.at(-1)]) {
        const lookup = page.waitForResponse((r) => r.url().includes('/api/v1/lookup'));
        await clickAt(page, grid.point);
        const sent = new URL((await lookup).url());
        assert.ok(Math.abs(Number(sent.searchParams.get('lon')) - grid.point[0]) < 1e-5, sent.href);
        assert.ok(Math.abs(Number(sent.searchParams.get('lat')) - grid.point[1]) < 1e-5, sent.href);
        assert.equal(sent.searchParams.get('crs'), null);
        await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), grid.name);
        const text = await panelAnswer(page);
        for (const part of [grid.name, grid.code, grid.community, '珠海路街道', '市南区', '民情责任田']) assert.ok(text.includes(part), `${part} not in: ${text}`);
        const highlighted = await page.evaluate(() => window.map.getFilter('grids-highlight'));
        assert.deepEqual(highlighted, ['==', ['get', 'code'], grid.code]);
      }
      // Outside every grid: the panel says so.
      await clickAt(page, [120.36, 36.06], 14);
      await page.waitForFunction(() => document.querySelector('#info-body')?.className === 'outside');
      assert.match(await page.textContent('#info-body'), /不在任何网格内/);
      // The README's 2D picture: most of the demo street, one grid looked up.
      const grid = grids.find((g) => g.name === '泉港路社区第一网格') ?? grids[0];
      await clickAt(page, grid.point, 15.1);
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), grid.name);
      await mapIdle(page);
      await saveScreenshot(page, 'map-2d.png', { docs: true });
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('the 3D switch tilts the map and extrudes the buildings', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      const grid = grids.find((g) => g.name.includes('第七网格')) ?? grids[0];
      await page.evaluate((c) => window.map.jumpTo({ center: c, zoom: 15.9 }), grid.point);
      await page.click('#mode-3d');
      await page.waitForFunction(() => window.map.getPitch() > 55 && !window.map.isMoving(), null, { timeout: 30_000 });
      await mapIdle(page);
      const state = await page.evaluate(() => ({
        pitch: window.map.getPitch(),
        extrusion: window.map.getLayoutProperty('buildings-3d', 'visibility'),
        flat: window.map.getLayoutProperty('buildings-2d', 'visibility'),
        extruded: window.map.queryRenderedFeatures({ layers: ['buildings-3d'] }).map((f) => f.properties.height_m),
        pressed: document.querySelector('#mode-3d').getAttribute('aria-pressed'),
      }));
      assert.ok(state.pitch > 55, `pitch ${state.pitch}`);
      assert.equal(state.extrusion, 'visible');
      assert.equal(state.flat, 'none');
      assert.equal(state.pressed, 'true');
      assert.ok(state.extruded.length > 10, `${state.extruded.length} extruded buildings`);
      assert.ok(state.extruded.every((h) => h > 0));
      // A click still answers in 3D.
      await clickAt(page, grid.point, 15.9);
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), grid.name);
      await mapIdle(page);
      await saveScreenshot(page, 'map-3d.png', { docs: true });
      await page.click('#mode-2d');
      await page.waitForFunction(() => window.map.getPitch() === 0 && !window.map.isMoving(), null, { timeout: 30_000 });
      assert.equal(await page.evaluate(() => window.map.getLayoutProperty('buildings-3d', 'visibility')), 'none');
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('search by grid code or name flies to the grid', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      const byCode = grids.at(-2);
      await page.fill('#search-input', byCode.code);
      await page.press('#search-input', 'Enter');
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), byCode.name);
      await mapIdle(page);
      const view = await page.evaluate(() => ({ zoom: window.map.getZoom(), highlight: window.map.getFilter('grids-highlight') }));
      assert.deepEqual(view.highlight, ['==', ['get', 'code'], byCode.code]);
      assert.ok(view.zoom > 15, `zoom ${view.zoom}`);
      const inView = await page.evaluate((p) => window.map.getBounds().contains(p), byCode.point);
      assert.ok(inView, 'the grid is not in view');

      // A part of a name lists every grid that has it; choosing one flies there.
      await page.fill('#search-input', '香港花园');
      await page.click('#search-button');
      await page.waitForSelector('#search-results li button');
      const listed = await page.$$eval('#search-results li button strong', (els) => els.map((e) => e.textContent));
      assert.deepEqual([...listed].sort(), grids.filter((g) => g.name.includes('香港花园')).map((g) => g.name).sort());
      const target = grids.find((g) => g.name === listed[3]);
      await page.click(`#search-results li:nth-child(4) button`);
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), target.name);

      await page.fill('#search-input', '不存在的网格');
      await page.press('#search-input', 'Enter');
      await page.waitForFunction(() => document.querySelector('#search-results')?.textContent.includes('没有找到'));
      assertClean(log);
    } finally {
      await context.close();
    }
  });

  test('locate me looks up the browser position (WGS84), and says so when it is refused', { timeout: TIMEOUT }, async () => {
    const grid = grids[5];
    const allowed = await newPage({ geolocation: { longitude: grid.point[0], latitude: grid.point[1], accuracy: 20 }, permissions: ['geolocation'] });
    try {
      await openMap(allowed.page, server.base);
      const lookup = allowed.page.waitForResponse((r) => r.url().includes('/api/v1/lookup'));
      await allowed.page.click('#locate');
      const sent = new URL((await lookup).url());
      assert.equal(sent.searchParams.get('crs'), null);
      await allowed.page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), grid.name);
      assertClean(allowed.log);
    } finally {
      await allowed.context.close();
    }
    const refused = await newPage();
    try {
      await openMap(refused.page, server.base);
      await refused.page.click('#locate');
      await refused.page.waitForFunction(() => /定位被拒绝|无法获取|定位超时/.test(document.querySelector('#message')?.textContent ?? ''), null, {
        timeout: 30_000,
      });
      assert.equal(await refused.page.getAttribute('#message', 'class'), 'warn');
      assertClean(refused.log);
    } finally {
      await refused.context.close();
    }
  });

  test('the layer panel switches layers off and on', { timeout: TIMEOUT }, async () => {
    const { context, page, log } = await newPage();
    try {
      await openMap(page, server.base);
      const visibility = (id) => page.evaluate((l) => window.map.getLayoutProperty(l, 'visibility') ?? 'visible', id);
      for (const [key, layer] of [['grids', 'grids-fill'], ['communities', 'communities-line'], ['areas', 'areas-line'], ['buildings', 'buildings-2d']]) {
        assert.equal(await visibility(layer), 'visible', layer);
        await page.uncheck(`input[data-layer="${key}"]`);
        assert.equal(await visibility(layer), 'none', layer);
        await page.check(`input[data-layer="${key}"]`);
        assert.equal(await visibility(layer), 'visible', layer);
      }
      // Households are off at first; on, they are drawn as one circle per grid at low zoom.
      assert.equal(await visibility('households-counts'), 'none');
      await page.check('input[data-layer="households"]');
      await page.evaluate(() => window.map.jumpTo({ zoom: 14.5 }));
      await mapIdle(page);
      const circles = await page.evaluate(() => window.map.queryRenderedFeatures({ layers: ['households-counts'] }).length);
      assert.ok(circles > 10, `${circles} household circles`);
      // Density: below zoom 15 the grids are coloured by households per km².
      const fill = await page.evaluate(() => window.map.getPaintProperty('grids-fill', 'fill-color'));
      assert.equal(fill[0], 'step');
      await page.uncheck('input[data-layer="density"]');
      assert.notEqual((await page.evaluate(() => window.map.getPaintProperty('grids-fill', 'fill-color')))[0], 'step');
      assert.equal(await page.isHidden('#legend'), true);
      assertClean(log);
    } finally {
      await context.close();
    }
  });
});

describe('under a GCJ-02 basemap', { timeout: 4 * TIMEOUT }, () => {
  let tiles;
  let server;
  let browser;
  before(async () => {
    tiles = await startBasemapStandIn();
    [server, browser] = await Promise.all([
      startServer({ args: ['--basemap-url', tiles.url, '--basemap-crs', 'gcj02', '--basemap-attribution', '© 测试底图'] }),
      launchBrowser(),
    ]);
  });
  after(async () => {
    await browser?.close();
    await server?.stop();
    tiles?.close();
  });

  test('our tiles and lookups are asked for in GCJ-02, and a click still finds its grid', { timeout: TIMEOUT }, async () => {
    const context = await browser.newContext({ viewport: VIEWPORT });
    const page = await context.newPage();
    const log = await watch(context, page);
    try {
      await openMap(page, server.base);
      assert.ok(tiles.requests() > 0, 'the basemap was not drawn');
      const ours = log.requests.filter((u) => u.startsWith(`${server.base}/tiles/`));
      assert.ok(ours.length > 0);
      for (const u of ours) assert.equal(new URL(u).searchParams.get('crs'), 'gcj02', u);
      assert.ok(log.requests.some((u) => u.startsWith(`${server.base}/api/v1/labels?crs=gcj02`)));
      assert.equal(await page.evaluate(() => window.map.getLayoutProperty('basemap', 'visibility')), 'visible');
      assert.match(await page.textContent('.maplibregl-ctrl-attrib'), /测试底图/);
      // Click where the grid is on a GCJ-02 map: the lookup goes out as GCJ-02 and comes back to
      // the grid of the WGS84 point.
      const grid = (await demoLayer('grids')).features[3];
      const lookup = page.waitForResponse((r) => r.url().includes('/api/v1/lookup'));
      await clickAt(page, wgs84ToGcj02(interiorPoint(grid.geometry)));
      assert.equal(new URL((await lookup).url()).searchParams.get('crs'), 'gcj02');
      await page.waitForFunction((name) => document.querySelector('#info-body')?.textContent.includes(name), grid.properties.name);
      await saveScreenshot(page, 'map-gcj02.png');
      assertClean(log);
    } finally {
      await context.close();
    }
  });
});
