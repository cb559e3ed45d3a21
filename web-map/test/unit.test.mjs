// The page's pure modules, without a browser: geometry helpers and the MapLibre style.

import assert from 'node:assert/strict';
import test from 'node:test';
import { validateStyleMin } from '@maplibre/maplibre-gl-style-spec';
import { bbox, interiorPoint, mapPositions, outset, rings, snapPosition, wgs84ToGcj02 } from '../src/geo.js';
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

const ORIGIN = 'http://127.0.0.1:8080';
const TILE_LAYERS = ['water', 'roads', 'districts', 'streets', 'communities', 'grids', 'areas', 'buildings', 'households'];

/**
 * TileJSON of each tile layer as the server answers /tiles/{layer}.json (src/http/tiles.rs; the
 * shape is checked against the real server in server.test.mjs): `zooms` sets the source's range,
 * `layerMinzoom` a vector layer's own minzoom, `without` leaves layers out.
 */
function tilejson({ zooms = [0, 18], layerMinzoom = {}, without = [] } = {}) {
  const [minzoom, maxzoom] = zooms;
  const doc = (name) => ({
    tilejson: '3.0.0',
    name,
    scheme: 'xyz',
    tiles: [`${ORIGIN}/tiles/${name}/{z}/{x}/{y}.mvt`],
    minzoom,
    maxzoom,
    bounds: [120.37, 36.06, 120.39, 36.08],
    vector_layers: [{ id: name, minzoom: layerMinzoom[name] ?? minzoom, maxzoom, fields: {} }],
  });
  return Object.fromEntries(TILE_LAYERS.filter((n) => !without.includes(n)).map((n) => [n, doc(n)]));
}

const minzoomOf = (style, id) => style.layers.find((l) => l.id === id)?.minzoom;

test('the style is valid MapLibre style JSON, with and without a basemap', () => {
  for (const basemap of [null, { url: 'http://127.0.0.1:9/{z}/{x}/{y}.png', crs: 'gcj02', attribution: '底图' }]) {
    for (const density of [true, false]) {
      const style = buildStyle({ origin: ORIGIN, tilejson: tilejson(), crs: basemap ? 'gcj02' : 'wgs84', basemap, lat: 36.06, density });
      const errors = validateStyleMin(style);
      assert.deepEqual(errors.map((e) => e.message), []);
      assert.ok(style.glyphs.startsWith(`${ORIGIN}/glyphs/`));
      for (const source of Object.values(style.sources)) {
        const urls = [source.url, source.data, ...(source.tiles ?? [])].filter((u) => typeof u === 'string');
        for (const u of urls) if (u !== basemap?.url) assert.ok(u.startsWith(`${ORIGIN}/`), u);
      }
      if (basemap) assert.ok(style.sources.labels.data.endsWith('?crs=gcj02'));
    }
  }
});

test('every layer of the layer panel exists in the style', () => {
  const ids = new Set(buildStyle({ origin: ORIGIN, tilejson: tilejson() }).layers.map((l) => l.id));
  for (const group of LAYER_GROUPS) for (const id of group.layers) assert.ok(ids.has(id), id);
});

test('the sources take their tiles and zoom range from the TileJSON', () => {
  const style = buildStyle({ origin: ORIGIN, tilejson: tilejson({ zooms: [2, 16] }) });
  assert.deepEqual(validateStyleMin(style).map((e) => e.message), []);
  for (const name of TILE_LAYERS) {
    const { type, tiles, minzoom, maxzoom, url } = style.sources[name];
    assert.deepEqual({ type, tiles, minzoom, maxzoom, url }, { type: 'vector', tiles: [`${ORIGIN}/tiles/${name}/{z}/{x}/{y}.mvt`], minzoom: 2, maxzoom: 16, url: undefined });
  }
  // The same zooms from a server with the usual range: what the page has always drawn.
  assert.equal(buildStyle({ origin: ORIGIN, tilejson: tilejson() }).sources.grids.maxzoom, 18);
});

test('a layer the TileJSON does not offer is not drawn, and the rest still is', () => {
  const style = buildStyle({ origin: ORIGIN, tilejson: tilejson({ without: ['households', 'buildings'] }) });
  assert.deepEqual(validateStyleMin(style).map((e) => e.message), []);
  const ids = style.layers.map((l) => l.id);
  for (const gone of ['households-dots', 'households-counts', 'buildings-2d', 'buildings-3d', 'buildings-label']) assert.ok(!ids.includes(gone), gone);
  assert.equal(style.sources.households, undefined);
  for (const kept of ['grids-fill', 'grids-highlight', 'roads', 'areas-line', 'grids-label']) assert.ok(ids.includes(kept), kept);
});

test('a layer starts no lower than its vector layer in the TileJSON', () => {
  const defaults = buildStyle({ origin: ORIGIN, tilejson: tilejson() });
  // Where the TileJSON says 0, the style's own choices stand (buildings from 14, grids always).
  assert.equal(minzoomOf(defaults, 'buildings-2d'), 14);
  assert.equal(minzoomOf(defaults, 'grids-fill'), undefined);
  const raised = buildStyle({ origin: ORIGIN, tilejson: tilejson({ layerMinzoom: { buildings: 15, grids: 13, households: 10 } }) });
  assert.deepEqual(validateStyleMin(raised).map((e) => e.message), []);
  assert.equal(minzoomOf(raised, 'buildings-2d'), 15);
  assert.equal(minzoomOf(raised, 'buildings-3d'), 15);
  assert.equal(minzoomOf(raised, 'buildings-label'), 17.5); // higher already
  assert.equal(minzoomOf(raised, 'grids-fill'), 13);
  assert.equal(minzoomOf(raised, 'grids-line'), 13);
  assert.equal(minzoomOf(raised, 'households-dots'), 16);
  assert.equal(minzoomOf(raised, 'households-counts'), 10);
  // Label points come from /api/v1/labels, not the tiles: not held back.
  assert.equal(minzoomOf(raised, 'grids-label'), 14.5);
  assert.equal(minzoomOf(raised, 'communities-label'), 12);
});

test('the due walk: households at one point make one numbered stop, aged by its longest wait at the door', async () => {
  const { stopsOf, ageClass, daysSince } = await import('../src/walk.js');
  const now = Date.parse('2026-12-02T12:00:00Z');
  const h = (id, at, onSite) => ({ id, type: 'Feature', geometry: { type: 'Point', coordinates: at }, properties: { id, last_on_site_visit_at: onSite } });
  const stops = stopsOf(
    [h(1, [120.1, 36.1], '2026-11-30T12:00:00Z'), h(2, [120.1, 36.1], '2026-08-01T00:00:00Z'), h(3, [120.2, 36.1], null), h(4, [120.1, 36.1], '2026-11-20T12:00:00Z')],
    now,
  );
  // The server's order is kept: back at an earlier point later is a stop of its own.
  assert.deepEqual(stops.map((s) => [s.n, s.households.map((x) => x.id)]), [[1, [1, 2]], [2, [3]], [3, [4]]]);
  assert.equal(stops[0].days, daysSince({ last_on_site_visit_at: '2026-08-01T00:00:00Z' }, now));
  assert.equal(stops[0].age.key, 'old');
  assert.equal(stops[1].age.key, 'never');
  assert.equal(stops[2].age.key, 'recent');
  assert.equal(ageClass(31).key, 'month');
  // Only a visit at the door counts, as for the server's due date.
  assert.equal(daysSince({ last_visit_at: '2026-12-01T00:00:00Z', last_on_site_visit_at: null }, now), null);
});

test('outset grows a polygon by metres on every side, whichever way its rings turn, and shrinks its holes', () => {
  // A 20 m square near Qingdao (metres → degrees as outset measures them), with a 4 m hole.
  const [lon0, lat0] = [120.38, 36.07];
  const mx = 111_320 * Math.cos((lat0 * Math.PI) / 180);
  const my = 110_574;
  const square = (x, y, s) => [[x, y], [x + s, y], [x + s, y + s], [x, y + s], [x, y]].map(([a, b]) => [lon0 + a / mx, lat0 + b / my]);
  const metres = ([w, s, e, n]) => [(w - lon0) * mx, (s - lat0) * my, (e - lon0) * mx, (n - lat0) * my].map((v) => Math.round(v * 1000) / 1000);
  for (const turn of [(r) => r, (r) => [...r].reverse()]) {
    const grown = outset({ type: 'Polygon', coordinates: [turn(square(0, 0, 20)), turn(square(8, 8, 4))] }, 0.5);
    assert.deepEqual(metres(bbox({ type: 'Polygon', coordinates: [grown.coordinates[0]] })), [-0.5, -0.5, 20.5, 20.5]);
    assert.deepEqual(metres(bbox({ type: 'Polygon', coordinates: [grown.coordinates[1]] })), [8.5, 8.5, 11.5, 11.5]);
    assert.deepEqual(grown.coordinates[0][0], grown.coordinates[0].at(-1), 'the ring is not closed');
  }
  const multi = outset({ type: 'MultiPolygon', coordinates: [[square(0, 0, 20)], [square(30, 0, 10)]] }, 1);
  assert.equal(multi.type, 'MultiPolygon');
  assert.deepEqual(metres(bbox(multi)), [-1, -1, 41, 21]);
});

test('the 3D floors are visited, partly due or due; the needs classes of a grid', async () => {
  const { FLOOR_CLASSES, floorClass } = await import('../src/floors.js');
  const { NEEDS_CLASSES, needsColour } = await import('../src/needs.js');
  assert.equal(floorClass({ households: 4, due: 0 }), 'visited');
  assert.equal(floorClass({ households: 4, due: 1 }), 'partial');
  assert.equal(floorClass({ households: 4, due: 4 }), 'due');
  assert.equal(new Set(FLOOR_CLASSES.map((c) => c.colour)).size, 3);
  assert.deepEqual([0, 1, 2, 3, 5, 6, 40].map(needsColour), [0, 1, 1, 2, 2, 3, 3].map((i) => NEEDS_CLASSES[i][1]));
});

test('待办: the time left to a limit, and the steps each role is offered in each state', async () => {
  const { nextSteps, timeLeft } = await import('../src/requests.js');
  const now = Date.parse('2026-12-03T08:00:00Z');
  assert.equal(timeLeft('2026-12-03T10:20:00.000Z', now), '剩余 2 小时 20 分');
  assert.equal(timeLeft('2026-12-05T09:00:00.000Z', now), '剩余 2 天 1 小时');
  assert.equal(timeLeft('2026-12-03T08:12:30.000Z', now), '剩余 12 分钟');
  assert.equal(timeLeft('2026-12-03T06:30:00.000Z', now), '逾期 1 小时 30 分');
  assert.equal(timeLeft(null, now), '');

  const cadre = { id: 7, role: 'cadre' };
  const secretary = { id: 8, role: 'secretary' };
  const admin = { id: 9, role: 'admin' };
  const steps = (request, user) => nextSteps(request, user).map((s) => `${s.to}${s.fixed === undefined ? '' : `:${s.fixed}`}`);
  const reported = { state: 'reported', responsible_id: 7, assignee_id: null, handled_by: null };
  assert.deepEqual(steps(reported, cadre), ['accepted']);
  assert.deepEqual(steps({ ...reported, responsible_id: 3 }, cadre), [], 'another cadre does not accept it');
  assert.deepEqual(steps(reported, secretary), ['accepted']);
  const accepted = { ...reported, state: 'accepted' };
  assert.deepEqual(steps(accepted, cadre), [], 'a cadre does not dispatch');
  assert.deepEqual(steps(accepted, secretary), ['dispatched']);
  const dispatched = { ...accepted, state: 'dispatched', assignee_id: 7 };
  assert.deepEqual(steps(dispatched, cadre), ['handled']);
  assert.deepEqual(steps(dispatched, admin), [], 'only the assignee handles work sent to a person');
  assert.deepEqual(steps({ ...dispatched, assignee_id: null }, admin), ['handled'], 'a supervisor records for a unit');
  const handled = { ...dispatched, state: 'handled', handled_by: 7 };
  assert.deepEqual(steps(handled, cadre), []);
  assert.deepEqual(steps(handled, admin), ['verified', 'dispatched']);
  assert.deepEqual(steps({ ...handled, handled_by: 9 }, admin), [], 'whoever handled it does not check it');
  assert.deepEqual(steps({ ...handled, state: 'verified' }, secretary), ['closed:true', 'closed:false']);
  assert.deepEqual(steps({ ...handled, state: 'closed' }, admin), []);
  assert.deepEqual(steps(reported, null), []);
});

test('photos: the page refuses what the server would, and says the server refusals in Chinese', async () => {
  const { ApiError } = await import('../src/api.js');
  const { MAX_PHOTO_BYTES, PhotoRefused, photoErrorText, photoToSend } = await import('../src/photos.js');
  const jpeg = new File([new Uint8Array(1000)], 'a.jpg', { type: 'image/jpeg' });
  assert.equal(await photoToSend(jpeg), jpeg, 'a JPEG goes as it is');
  const png = new File([new Uint8Array(MAX_PHOTO_BYTES)], 'b.png', { type: 'image/png' });
  assert.equal(await photoToSend(png), png, 'exactly 12 MB is allowed');
  const large = new File([new Uint8Array(13 * 1024 * 1024)], 'c.jpg', { type: 'image/jpeg' });
  await assert.rejects(photoToSend(large), (e) => e instanceof PhotoRefused && e.message.startsWith('照片太大（13 MB），不能超过 12 MB'));
  // Without a browser to re-encode it, another format is refused.
  const text = new File(['hello'], 'd.txt', { type: 'text/plain' });
  await assert.rejects(photoToSend(text), (e) => e instanceof PhotoRefused && /只能上传 JPEG 或 PNG/.test(e.message));

  const refused = (status, code) => photoErrorText(new ApiError(status, { error: { code, message: 'x' } }));
  assert.match(refused(413, 'photo_too_large'), /^照片太大，不能超过 12 MB/);
  assert.match(refused(413, null), /^照片太大/);
  assert.match(refused(415, null), /^只能上传 JPEG 或 PNG/);
  assert.match(refused(422, 'unreadable_photo'), /^无法识别这张照片/);
  assert.match(refused(422, 'too_many_pixels'), /5000 万像素/);
  assert.match(refused(409, 'too_many_photos'), /已有 4 张/);
  assert.match(refused(403, 'forbidden'), /无权/);
  assert.match(refused(500, null), /照片上传失败（500）/);
  assert.match(photoErrorText(new TypeError('Failed to fetch')), /^网络连接失败/);
});
