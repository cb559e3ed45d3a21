// 网格 wangge web map: MapLibre GL JS over this server's own vector tiles, with "which grid am I
// in" on a click, locate-me, grid search, a layer panel and a 2D/3D switch.
//
// Everything comes from this server (tiles, glyphs, MapLibre itself), so the map works offline.
// An external raster basemap is drawn only when the server is started with --basemap-url; when
// that basemap is drawn in GCJ-02 (AMap, Tencent), our tiles and lookups are requested with
// crs=gcj02 so that everything lines up with it (see web-map/README.md).

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { buildStyle, gridFillColour, LAYER_GROUPS, DENSITY_STOPS, tileRequestTransform } from './style.js';
import { bbox, interiorPoint, wgs84ToGcj02 } from './geo.js';
import { loadTileJson, lookupQuery } from './api.js';
import { $, el, initSheet, isPhone, locateMe, reportMapErrors, revealPanel, showMessage } from './ui.js';
import { initAccount } from './account.js';
import { areaDetails, initClaims, showsUnclaimed } from './claims.js';
import { editorTakesClick, initEditor } from './editor.js';
import { initVisits, visitsTakesClick } from './visits.js';
import { initRequests, requestsTakesClick } from './requests.js';
import { initCoverage } from './coverage.js';
import { initNeeds } from './needs.js';
import { initFloors, updateFloors } from './floors.js';

const origin = window.location.origin;
/** The MapLibre map, made by start(). */
let map;

const state = {
  /** The CRS the map is drawn in: wgs84, or gcj02 under a GCJ-02 basemap. */
  crs: 'wgs84',
  mode3d: false,
  groups: Object.fromEntries(LAYER_GROUPS.map((g) => [g.key, g.on])),
  marker: null,
  lookupSeq: 0,
  /** The arguments of the last lookup, to ask again after a claim changed its answer. */
  lastLookup: null,
  grids: null,
};

async function getJson(url) {
  const res = await fetch(url);
  const body = await res.json().catch(() => null);
  if (!res.ok) {
    const error = new Error(body?.error?.message ?? `${res.status} ${res.statusText}`);
    error.status = res.status;
    throw error;
  }
  return body;
}

/**
 * "Which grid am I in" for a point, shown in the side panel.
 *
 * @param coord - [lon, lat] in `crs`
 * @param crs - wgs84 or gcj02
 * @param mapPoint - where to put the marker, in the map's CRS; null for no marker
 */
async function lookup(coord, crs, { mapPoint = null, what = '该位置' } = {}) {
  const seq = ++state.lookupSeq;
  state.lastLookup = [coord, crs, { what }];
  if (mapPoint) {
    state.marker ??= new maplibregl.Marker({ color: '#1565c0' });
    state.marker.setLngLat(mapPoint).addTo(map);
  }
  $('info-body').className = 'loading';
  $('info-body').textContent = '正在查询…';
  // On a phone the panel is a sheet under the map: open it on the answer.
  revealPanel($('info'));
  try {
    const answer = await getJson(`/api/v1/lookup?${lookupQuery(coord, crs)}`);
    if (seq !== state.lookupSeq) return; // a newer click won
    renderInfo(answer, what);
    highlight(answer.grid?.code ?? null);
  } catch (e) {
    if (seq !== state.lookupSeq) return;
    $('info-body').className = 'error';
    $('info-body').textContent = `查询失败：${e.message}`;
  }
}

function renderInfo(answer, what) {
  const unit = (u) => (u ? [el('strong', {}, u.name), el('code', {}, u.code)] : el('span', { class: 'none' }, '无'));
  const rows = [
    ['网格', unit(answer.grid)],
    ['社区', unit(answer.community)],
    ['街道', unit(answer.street)],
    ['区', unit(answer.district)],
    [
      '民情责任田',
      answer.areas?.length
        ? el('ul', {}, answer.areas.map((a) => el('li', { 'data-area': a.id }, el('strong', {}, a.name), el('code', {}, a.code), areaDetails(a))))
        : el('span', { class: 'none' }, '无'),
    ],
    ['坐标', el('span', { class: 'coord' }, `${answer.point.lon.toFixed(6)}, ${answer.point.lat.toFixed(6)}（WGS84）`)],
  ];
  const body = $('info-body');
  body.className = answer.grid ? 'found' : 'outside';
  body.replaceChildren(
    answer.grid ? '' : el('p', { class: 'none' }, `${what}不在任何网格内。`),
    el('dl', {}, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v)])),
  );
}

function highlight(code) {
  map.setFilter('grids-highlight', ['==', ['get', 'code'], code ?? '']);
}

// ---- the layer panel (图层) and the 2D/3D switch ----

function applyLayers() {
  // Called at sign-in too, possibly before the style has loaded ('load' calls it again).
  if (!map?.getLayer('grids-fill')) return;
  const visible = (id) => {
    const group = LAYER_GROUPS.find((g) => g.layers.includes(id));
    if (!state.groups[group.key]) return false;
    if (id === 'buildings-2d') return !state.mode3d;
    if (id === 'buildings-3d') return state.mode3d;
    if (id === 'areas-unclaimed') return showsUnclaimed();
    return true;
  };
  for (const group of LAYER_GROUPS) {
    for (const id of group.layers) {
      if (map.getLayer(id)) map.setLayoutProperty(id, 'visibility', visible(id) ? 'visible' : 'none');
    }
  }
  if (map.getLayer('basemap')) map.setLayoutProperty('basemap', 'visibility', state.groups.basemap ? 'visible' : 'none');
  map.setPaintProperty('grids-fill', 'fill-color', gridFillColour(state.groups.density));
  $('legend').hidden = !(state.groups.density && state.groups.grids);
  // The floors' visit state goes with the extruded buildings (3D, 楼栋 on).
  updateFloors();
}

function buildLayerPanel(hasBasemap) {
  const groups = [...LAYER_GROUPS];
  if (hasBasemap) {
    groups.push({ key: 'basemap', label: '外部底图' });
    state.groups.basemap = true;
  }
  $('layers').replaceChildren(
    ...groups.map((g) =>
      el(
        'li',
        {},
        el(
          'label',
          {},
          el('input', {
            type: 'checkbox',
            'data-layer': g.key,
            ...(state.groups[g.key] ? { checked: '' } : {}),
            onchange: (e) => {
              state.groups[g.key] = e.target.checked;
              applyLayers();
            },
          }),
          el('span', { class: `swatch swatch-${g.key}`, 'aria-hidden': 'true' }),
          g.label,
        ),
      ),
    ),
  );
}

function buildLegend() {
  const stops = DENSITY_STOPS.map(([, c]) => c).join(', ');
  // Set through the CSSOM: the server's Content-Security-Policy refuses style attributes.
  const bar = el('div', { class: 'bar' });
  bar.style.background = `linear-gradient(to right, ${stops})`;
  $('legend-density').replaceChildren(
    bar,
    el('div', { class: 'ticks' }, DENSITY_STOPS.map(([v]) => el('span', {}, v >= 1000 ? `${v / 1000}千` : `${v}`))),
  );
}

function setMode(three) {
  state.mode3d = three;
  $('mode-2d').setAttribute('aria-pressed', String(!three));
  $('mode-3d').setAttribute('aria-pressed', String(three));
  applyLayers();
  if (three) map.easeTo({ pitch: 60, bearing: map.getBearing() || -25, zoom: Math.max(map.getZoom(), 15.5), duration: 900 });
  else map.easeTo({ pitch: 0, bearing: 0, duration: 700 });
}

/**
 * Draws the places again after a write: the tiles of these layers (the server answers the new
 * data under the same URLs, revalidated by ETag), the label points, and the search list.
 */
function refreshData(layers) {
  for (const id of layers) {
    const source = map.getSource(id);
    if (source?.tiles) source.setTiles(source.tiles);
  }
  const labels = map.getSource('labels');
  labels?.setData(`${origin}/api/v1/labels${state.crs === 'wgs84' ? '' : `?crs=${state.crs}`}`);
  state.grids = null;
}

/** Asks the last lookup again (its answer changed), without moving the marker. */
function relookup() {
  return state.lastLookup ? lookup(...state.lastLookup) : Promise.resolve();
}

// ---- locate me (定位) ----

function locate() {
  locateMe(map, state.crs, '点击地图查询', (wgs84, mapPoint) =>
    lookup(wgs84, 'wgs84', { mapPoint, what: '您的位置' }),
  );
}

// ---- search by grid code or name (搜索网格) ----

/**
 * Every grid as {code, name, parent_code, geometry, crs}: from the OGC API (WGS84) once, or, if
 * that is not available, from the grid tiles loaded so far (in the map's CRS).
 */
async function allGrids() {
  if (state.grids) return state.grids;
  try {
    const fc = await getJson('/ogc/collections/grids/items?limit=10000');
    state.grids = fc.features.map((f) => ({ ...f.properties, geometry: f.geometry, crs: 'wgs84' }));
    return state.grids;
  } catch (e) {
    console.warn(`grid search falls back to the loaded tiles: ${e.message}`);
    return gridsFromTiles();
  }
}

function gridsFromTiles() {
  const byCode = new Map();
  for (const f of map.querySourceFeatures('grids', { sourceLayer: 'grids' })) {
    const code = f.properties.code;
    const polys = f.geometry.type === 'Polygon' ? [f.geometry.coordinates] : f.geometry.coordinates;
    const entry = byCode.get(code) ?? { ...f.properties, geometry: { type: 'MultiPolygon', coordinates: [] }, crs: state.crs };
    entry.geometry.coordinates.push(...polys);
    byCode.set(code, entry);
  }
  return [...byCode.values()];
}

async function search(query) {
  const q = query.trim();
  const list = $('search-results');
  if (!q) {
    list.hidden = true;
    return;
  }
  let matches = [];
  try {
    if (/^[\w-]+$/.test(q)) {
      // A code: the OGC API filters on it exactly.
      const fc = await getJson(`/ogc/collections/grids/items?code=${encodeURIComponent(q)}&limit=1`);
      matches = fc.features.map((f) => ({ ...f.properties, geometry: f.geometry, crs: 'wgs84' }));
    }
  } catch {
    // not ready or not a code: fall through to the full list
  }
  if (!matches.length) {
    const grids = await allGrids();
    matches = grids.filter((g) => g.code === q);
    if (!matches.length) matches = grids.filter((g) => g.name?.includes(q) || g.code?.startsWith(q));
  }
  matches.sort((a, b) => a.code.localeCompare(b.code));
  list.hidden = false;
  if (!matches.length) {
    list.replaceChildren(el('li', { class: 'none' }, `没有找到与“${q}”匹配的网格`));
    return;
  }
  list.replaceChildren(
    ...matches.slice(0, 30).map((g) =>
      el('li', {}, el('button', { type: 'button', onclick: () => goToGrid(g) }, el('strong', {}, g.name), el('code', {}, g.code))),
    ),
  );
  if (matches.length === 1) goToGrid(matches[0]);
}

function goToGrid(grid) {
  const toMap = (p) => (grid.crs === 'wgs84' && state.crs === 'gcj02' ? wgs84ToGcj02(p) : p);
  const [w, s, e, n] = bbox(grid.geometry);
  map.fitBounds([toMap([w, s]), toMap([e, n])], { padding: 80, maxZoom: 17.5, duration: 1200 });
  highlight(grid.code);
  state.marker?.remove();
  lookup(interiorPoint(grid.geometry), grid.crs, { what: '该网格' });
}

// ---- start ----

/**
 * The padding around the data when the map opens: a little on a phone, where every pixel of a
 * 390-pixel-wide screen is needed for the grids; on a desktop 24 pixels, which keeps the demo
 * street at the zoom where the grids' names are drawn (14.5).
 */
function fitPadding() {
  return isPhone() ? 12 : 24;
}

async function start() {
  let config = { map_crs: 'wgs84', basemap: null };
  try {
    config = await getJson('/api/v1/web-config');
  } catch (e) {
    showMessage(`读取地图配置失败：${e.message}`, 'error');
  }
  state.crs = config.map_crs;
  // Before the map exists: on a phone the sheet starts folded, and the map is made at the size
  // it will have, so that the first view fits the data on that screen.
  initSheet();
  // Like every request to /tiles/… (transformRequest below), in the map's CRS.
  const tilejson = await loadTileJson(state.crs);
  const b = tilejson.grids?.bounds;
  const hasData = b && b[2] - b[0] < 5 && b[3] - b[1] < 5;
  const lat = hasData ? (b[1] + b[3]) / 2 : 36;

  map = new maplibregl.Map({
    container: 'mapview',
    style: buildStyle({ origin, tilejson, crs: state.crs, basemap: config.basemap, lat }),
    // The first view is the data's extent (the grids' TileJSON bounds, in the map's CRS), fitted
    // again once the style has loaded (below): a centre and zoom fixed in advance would open a
    // phone on empty land or sea.
    ...(hasData ? { bounds: b, fitBoundsOptions: { padding: fitPadding() } } : { center: [105, 35], zoom: 3 }),
    maxPitch: 70,
    attributionControl: { compact: false, customAttribution: '网格 wangge' },
    // Our tiles follow the basemap's CRS (crs=gcj02 under a GCJ-02 basemap).
    transformRequest: tileRequestTransform(origin, state.crs),
  });
  window.map = map; // for the browser tests and the console
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');

  buildLayerPanel(Boolean(config.basemap));
  buildLegend();
  map.on('load', applyLayers);
  if (hasData) {
    // The panel's layout may have settled after the map was made (fonts, a phone's toolbar):
    // fit once more with padding for the screen, unless the user has already moved the map.
    let moved = false;
    map.on('movestart', (e) => (moved ||= Boolean(e.originalEvent)));
    map.once('load', () => moved || map.fitBounds(b, { padding: fitPadding(), duration: 0 }));
  }
  initAccount();
  initClaims({ refreshData, relookup, applyLayers });
  initEditor({ map, crs: state.crs, refreshData, highlight });
  initVisits({ map, crs: state.crs });
  initRequests({ map, crs: state.crs });
  initCoverage({ map });
  initFloors({ map, crs: state.crs, wanted: () => state.mode3d && state.groups.buildings });
  map.on('click', (e) => editorTakesClick(e) || visitsTakesClick(e) || requestsTakesClick(e) || lookup([e.lngLat.lng, e.lngLat.lat], state.crs, { mapPoint: [e.lngLat.lng, e.lngLat.lat] }));
  // After the lookup's click handler: on a phone the grid's needs are the part of the panel
  // brought into view last, so they are what the sheet shows.
  initNeeds({ map, tilejson: tilejson.needs });
  map.on('mouseenter', 'grids-fill', () => (map.getCanvas().style.cursor = 'pointer'));
  map.on('mouseleave', 'grids-fill', () => (map.getCanvas().style.cursor = ''));
  reportMapErrors(map);

  $('mode-2d').addEventListener('click', () => setMode(false));
  $('mode-3d').addEventListener('click', () => setMode(true));
  $('locate').addEventListener('click', locate);
  $('search').addEventListener('submit', (e) => {
    e.preventDefault();
    search($('search-input').value).catch((err) => showMessage(`搜索失败：${err.message}`, 'error'));
  });
  if (!hasData) showMessage('数据库中还没有网格数据：请先导入（wangge import）或以 --demo 启动。', 'warn');
}

start().catch((e) => {
  console.error(e);
  showMessage(`地图启动失败：${e.message}`, 'error');
});
