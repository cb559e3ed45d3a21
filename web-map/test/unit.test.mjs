// The page's pure modules, without a browser: geometry helpers and the MapLibre style.

import assert from 'node:assert/strict';
import test from 'node:test';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { bbox, interiorPoint, mapPositions, rings, snapPosition, wgs84ToGcj02 } from '../src/geo.js';
import { buildStyle, LAYER_GROUPS } from '../src/style.js';

test('snapPosition: a neighbour vertex within the tolerance first, else the nearest point on an edge', () => {
  // 100 pixels a degree, y downwards like the screen.
  const project = ([x, y]) => ({ x: x * 100, y: -y * 100 });
  const square = [[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]];
  // Near the corner (1, 1): the corner, even though the edge is nearer still.
  assert.deepEqual(snapPosition({ x: 104, y: -99 }, [square], project, 12), [1, 1]);
  // Near the middle of the bottom edge: the point on the edge under the pointer, in lon/lat.
  const onEdge = snapPosition({ x: 40, y: 5 }, [square], project, 12);
  assert.ok(Math.abs(onEdge[0] - 0.4) < 1e-12 && onEdge[1] === 0, `${onEdge}`);
  // Too far from everything: no snapping.
  assert.equal(snapPosition({ x: 50, y: -50 }, [square], project, 12), undefined);
  assert.equal(snapPosition({ x: 50, y: -50 }, [], project, 12), undefined);
  // The rings of a MultiPolygon with a hole, each position mapped.
  const multi = { type: 'MultiPolygon', coordinates: [[square, square.map(([x, y]) => [x / 2, y / 2])], [square]] };
  assert.equal(rings(multi).length, 3);
  assert.deepEqual(mapPositions({ type: 'Polygon', coordinates: [square] }, ([x, y]) => [x + 1, y]).coordinates[0][1], [2, 0]);
});

test('interiorPoint avoids holes and picks the larger part of a MultiPolygon', () => {
  const square = (x, y, s) => [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]];
  const withHole = { type: 'Polygon', coordinates: [square(0, 0, 10), square(3, 3, 4)] };
  // Inside the outer square, off its boundary, and neither in nor on the hole (3..7 × 3..7).
  // Whether the demo places' interior points are theirs is asked of the server's lookup
  // (test/lookup.test.mjs): the page has no inside test of its own.
  const [x, y] = interiorPoint(withHole);
  assert.ok(x > 0 && x < 10 && y > 0 && y < 10, `${x},${y}`);
  assert.ok(x < 3 || x > 7 || y < 3 || y > 7, `${x},${y} is in the hole`);
  const multi = { type: 'MultiPolygon', coordinates: [[square(0, 0, 1)], [square(5, 5, 3)]] };
  const q = interiorPoint(multi);
  assert.ok(q[0] > 5 && q[0] < 8 && q[1] > 5 && q[1] < 8, `${q}`);
  assert.deepEqual(bbox(multi), [0, 0, 8, 8]);
});

test('wgs84ToGcj02 matches the server: the README example round-trips', () => {
  // README: lon=120.3826 lat=36.0671 (WGS84) is lon=120.387733080 lat=36.067376228 in GCJ-02.
  const [lon, lat] = wgs84ToGcj02([120.3826, 36.0671]);
  assert.ok(Math.abs(lon - 120.38773308) < 1e-8, `${lon}`);
  assert.ok(Math.abs(lat - 36.067376228) < 1e-8, `${lat}`);
  // Outside the China box GCJ-02 is WGS84.
  assert.deepEqual(wgs84ToGcj02([2.35, 48.85]), [2.35, 48.85]);
});

test('the style is valid MapLibre style JSON, with and without a basemap', () => {
  for (const basemap of [null, { url: 'http://127.0.0.1:9/{z}/{x}/{y}.png', crs: 'gcj02', attribution: '底图' }]) {
    for (const density of [true, false]) {
      const style = buildStyle({ origin: 'http://127.0.0.1:8080', crs: basemap ? 'gcj02' : 'wgs84', basemap, lat: 36.06, density });
      const errors = validateStyleMin(style);
      assert.deepEqual(errors.map((e) => e.message), []);
      assert.ok(style.glyphs.startsWith('http://127.0.0.1:8080/glyphs/'));
      for (const source of Object.values(style.sources)) {
        const urls = [source.url, source.data, ...(source.tiles ?? [])].filter((u) => typeof u === 'string');
        for (const u of urls) if (u !== basemap?.url) assert.ok(u.startsWith('http://127.0.0.1:8080/'), u);
      }
      if (basemap) assert.ok(style.sources.labels.data.endsWith('?crs=gcj02'));
    }
  }
});

test('every layer of the layer panel exists in the style', () => {
  const ids = new Set(buildStyle({ origin: 'http://x' }).layers.map((l) => l.id));
  for (const group of LAYER_GROUPS) for (const id of group.layers) assert.ok(ids.has(id), id);
});
