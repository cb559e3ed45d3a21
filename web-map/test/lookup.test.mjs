// "Which grid is this point in" has one answer: the server's (src/spatial/owner.rs: a point on a
// shared edge belongs to the grid to its east, on an east–west edge to the one to its north). The
// page has no inside test of its own, so this checks, at some three hundred points, that what the
// page shows and outlines for a click is GET /api/v1/lookup's answer for exactly that point, at
// points of every kind: vertices of the grids (most are shared by two or three grids), middles
// of edges, the point the page asks about for a searched place, and random points over the
// street. The server's answers at all of them (about a thousand) also show its boundary rule.
// Under a GCJ-02 basemap some of the same points go in as GCJ-02, and the page's forward
// conversion (src/geo.js) is checked against the server's.

import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { bbox, interiorPoint, positions, wgs84ToGcj02 } from '../src/geo.js';
import { launchBrowser, openMap, startBasemapStandIn, startServer, watch } from './helpers.mjs';

const TIMEOUT = 300_000;
const RANDOM_POINTS = 60;

async function getJson(server, path) {
  const res = await fetch(server.url(path));
  assert.equal(res.status, 200, path);
  return res.json();
}

/** A collection of the server's OGC API, all of it (WGS84). */
const items = (server, collection) => getJson(server, `/ogc/collections/${collection}/items?limit=10000`).then((fc) => fc.features);

/** Repeatable pseudo-random numbers in [0, 1) (mulberry32), so that a failure can be replayed. */
function random(seed) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The test points, WGS84, each with what it is: the vertices of the grids (shared ones once), the
 * middle of every edge, the interior point of every grid, and random points over `extent`.
 */
function testPoints(grids, extent) {
  const points = new Map();
  const add = (p, kind) => points.has(String(p)) || points.set(String(p), { p, kind });
  for (const g of grids) {
    const polygons = g.geometry.type === 'Polygon' ? [g.geometry.coordinates] : g.geometry.coordinates;
    for (const ring of polygons.flat()) {
      for (let i = 0; i + 1 < ring.length; i++) {
        const [a, b] = [ring[i], ring[i + 1]];
        add(a, 'vertex');
        // Every vertex (the boundary rule is checked on each grid's own), every third edge's
        // middle: CI's time.
        if (i % 3 === 0) add([(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], 'edge');
      }
    }
    add(interiorPoint(g.geometry), 'interior');
  }
  const next = random(12);
  const [w, s, e, n] = extent;
  for (let i = 0; i < RANDOM_POINTS; i++) add([w + (e - w) * next(), s + (n - s) * next()], 'random');
  return [...points.values()];
}

/** GET /api/v1/lookup for each point, a few at a time. */
async function serverLookups(server, points, crs) {
  const answers = [];
  for (let i = 0; i < points.length; i += 16) {
    const batch = points.slice(i, i + 16).map(([lon, lat]) => {
      const q = new URLSearchParams({ lon: String(lon), lat: String(lat), ...(crs === 'wgs84' ? {} : { crs }) });
      return getJson(server, `/api/v1/lookup?${q}`);
    });
    answers.push(...(await Promise.all(batch)));
  }
  return answers;
}

/**
 * Clicks each point on the page (a MapLibre click event at exactly that position, in the map's
 * CRS) and reads back what the page then shows: the codes in the panel, the coordinate line and
 * the outlined grid; with the lookup request the page sent for it.
 */
async function pageAnswers(page, points) {
  const sent = [];
  page.on('request', (r) => r.url().includes('/api/v1/lookup') && sent.push(new URL(r.url())));
  const shown = await page.evaluate(async (pts) => {
    const body = document.querySelector('#info-body');
    const out = [];
    for (const [lng, lat] of pts) {
      window.map.fire('click', { lngLat: { lng, lat }, originalEvent: new MouseEvent('click') });
      // The page marks the panel as loading at once, then puts the server's answer in it.
      while (body.className === 'loading') await new Promise((resolve) => setTimeout(resolve, 1));
      const rows = Object.fromEntries([...body.querySelectorAll('dt')].map((dt) => [dt.textContent, dt.nextElementSibling]));
      const codes = (k) => [...rows[k].querySelectorAll('code')].map((c) => c.textContent);
      out.push({
        state: body.className,
        grid: codes('网格')[0] ?? null,
        community: codes('社区')[0] ?? null,
        street: codes('街道')[0] ?? null,
        district: codes('区')[0] ?? null,
        areas: codes('民情责任田').sort(),
        coordinate: rows['坐标'].textContent,
        outlined: window.map.getFilter('grids-highlight')[2],
      });
    }
    return out;
  }, points);
  return { shown, sent };
}

/** What the page must show for a server answer. */
function expected(answer) {
  return {
    state: answer.grid ? 'found' : 'outside',
    grid: answer.grid?.code ?? null,
    community: answer.community?.code ?? null,
    street: answer.street?.code ?? null,
    district: answer.district?.code ?? null,
    areas: answer.areas.map((a) => a.code).sort(),
    coordinate: `${answer.point.lon.toFixed(6)}, ${answer.point.lat.toFixed(6)}（WGS84）`,
    outlined: answer.grid?.code ?? '',
  };
}

/** Clicks every point on a fresh page and compares it, point by point, with the server. */
async function assertPageIsServer(browser, server, points, crs) {
  const answers = await serverLookups(server, points, crs);
  // A small window: each answer redraws the outlined grid, and SwiftShader draws pixel by pixel.
  const context = await browser.newContext({ viewport: { width: 800, height: 500 } });
  const page = await context.newPage();
  const log = await watch(context, page);
  try {
    await openMap(page, server.base);
    const { shown, sent } = await pageAnswers(page, points);
    assert.equal(sent.length, points.length);
    const wrong = [];
    points.forEach((p, i) => {
      const q = sent[i].searchParams;
      const asked = [Number(q.get('lon')), Number(q.get('lat'))];
      if (asked[0] !== p[0] || asked[1] !== p[1] || (q.get('crs') ?? 'wgs84') !== crs) wrong.push({ point: p, asked: sent[i].search });
      try {
        assert.deepEqual(shown[i], expected(answers[i]));
      } catch {
        wrong.push({ point: p, page: shown[i], server: expected(answers[i]) });
      }
    });
    assert.deepEqual(wrong.slice(0, 5), [], `${wrong.length} of ${points.length} points differ from the server`);
    assert.deepEqual([log.errors, log.failed, log.foreign, log.csp], [[], [], [], []]);
  } finally {
    await context.close();
  }
  return answers;
}

describe('the page answers as the server\'s lookup', { timeout: 3 * TIMEOUT }, () => {
  let server;
  let gcjServer;
  let basemap;
  let browser;
  let grids;
  let points;
  before(async () => {
    basemap = await startBasemapStandIn();
    [server, gcjServer, browser] = await Promise.all([
      startServer(),
      startServer({ args: ['--basemap-url', basemap.url, '--basemap-crs', 'gcj02'] }),
      launchBrowser(),
    ]);
    grids = await items(server, 'grids');
    const [street] = await items(server, 'streets');
    points = testPoints(grids, bbox(street.geometry));
  });
  after(async () => {
    await browser?.close();
    await Promise.all([server?.stop(), gcjServer?.stop()]);
    basemap?.close();
  });

  test('the point the page looks up for a searched place is in that place', async () => {
    // Search (搜索网格) flies to a grid and asks the server about interiorPoint of its polygon.
    for (const [collection, kind] of [['grids', 'grid'], ['communities', 'community'], ['streets', 'street'], ['areas', 'areas']]) {
      const features = await items(server, collection);
      const answers = await serverLookups(server, features.map((f) => interiorPoint(f.geometry)), 'wgs84');
      features.forEach((f, i) => {
        const found = kind === 'areas' ? answers[i].areas.map((a) => a.code) : [answers[i][kind]?.code];
        assert.ok(found.includes(f.properties.code), `${f.properties.name}: ${JSON.stringify(answers[i])}`);
      });
    }
  });

  test('a click shows and outlines what GET /api/v1/lookup answers for exactly that point', { timeout: TIMEOUT }, async () => {
    const count = (kind) => points.filter((x) => x.kind === kind).length;
    assert.ok(count('vertex') > 300 && count('edge') > 100 && count('random') === RANDOM_POINTS, 'too few points');
    // The server answers for every point; the page is clicked at every third (each kind among
    // them): that it shows exactly the server's answer needs no more points, and each click
    // redraws the map in software, which is CI's time.
    const answers = await serverLookups(server, points.map((x) => x.p), 'wgs84');
    const clicked = points.filter((_, i) => i % 3 === 0);
    for (const kind of ['vertex', 'edge', 'interior', 'random']) assert.ok(clicked.some((x) => x.kind === kind), kind);
    await assertPageIsServer(browser, server, clicked.map((x) => x.p), 'wgs84');
    // The points reach every grid and outside all of them, and they test the boundary rule: no
    // grid owns its top vertex (nor, on a shared vertex, any it lends to the grid north-east).
    const owners = new Set(answers.map((a) => a.grid?.code ?? null));
    for (const g of grids) assert.ok(owners.has(g.properties.code), g.properties.code);
    assert.ok(owners.has(null), 'no point outside every grid');
    const ownerOf = new Map(points.map((x, i) => [String(x.p), answers[i].grid?.code]));
    const lending = grids.filter((g) => positions(g.geometry).some((v) => ownerOf.get(String(v)) !== g.properties.code));
    assert.equal(lending.length, grids.length);
  });

  test('under a GCJ-02 basemap a click in GCJ-02 shows the lookup of that GCJ-02 point', { timeout: TIMEOUT }, async () => {
    // The page converts forward only (a GPS position, the API's geometry); the server's labels
    // come in both datums, so its forward conversion can be compared with the page's.
    const [wgs, gcj] = await Promise.all([getJson(gcjServer, '/api/v1/labels'), getJson(gcjServer, '/api/v1/labels?crs=gcj02')]);
    const server84 = new Map(wgs.features.map((f) => [f.id, f.geometry.coordinates]));
    assert.ok(gcj.features.length > 40);
    for (const f of gcj.features) {
      const ours = wgs84ToGcj02(server84.get(f.id));
      const [dx, dy] = [ours[0] - f.geometry.coordinates[0], ours[1] - f.geometry.coordinates[1]];
      assert.ok(Math.hypot(dx, dy) < 1e-11, `${f.properties.name}: ${ours} against the server's ${f.geometry.coordinates}`);
    }
    // The boundary rule was checked point by point in WGS84 above; here the datum is what is under
    // test, so every sixth point (each kind among them) is enough and keeps CI's time.
    const sample = points.filter((_, i) => i % 6 === 0);
    for (const kind of ['vertex', 'edge', 'interior', 'random']) assert.ok(sample.some((x) => x.kind === kind), kind);
    const gcjPoints = sample.map((x) => wgs84ToGcj02(x.p));
    const answers = await assertPageIsServer(browser, gcjServer, gcjPoints, 'gcj02');
    // The server's inverse takes the page's forward conversion back to where it started
    // (within 1e-8°, a millimetre).
    sample.forEach(({ p }, i) => {
      const { lon, lat } = answers[i].point;
      assert.ok(Math.hypot(lon - p[0], lat - p[1]) < 1e-8, `${p} came back as ${lon},${lat}`);
    });
  });
});
