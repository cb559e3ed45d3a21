// 楼层走访状态 in the 3D view, for those who see households (cadres, branch secretaries,
// admins): every floor of a building with households the user may see, extruded from its base to
// its top and coloured by how many of them are due a visit (GET /api/v1/households/floors?bbox=).
// Counts only, no names. Loaded for the part of the map in view, again after every move, only in
// 3D and from zoom 15, where single buildings can be told apart.

import { api, ApiError, hasRole } from './api.js';
import { mapPositions, outset, wgs84ToGcj02 } from './geo.js';
import { el } from './ui.js';

/** The state of a floor, with its colour and its name in the legend. */
export const FLOOR_CLASSES = [
  { key: 'visited', label: '已走访', colour: '#1a9850' },
  { key: 'partial', label: '部分待访', colour: '#f5a623' },
  { key: 'due', label: '待走访', colour: '#d7301f' },
];

/** Below this zoom no floor is asked for (nor drawn). */
export const FLOORS_MIN_ZOOM = 15;

/** The class key of a floor's properties: every household visited, some due, or all due. */
export function floorClass({ households, due }) {
  if (due === 0) return 'visited';
  return due < households ? 'partial' : 'due';
}

const colourOf = (key) => FLOOR_CLASSES.find((c) => c.key === key).colour;

/** The same rule as floorClass, for MapLibre to evaluate per feature. */
const FLOOR_COLOUR = [
  'case',
  ['==', ['get', 'due'], 0], colourOf('visited'),
  ['<', ['get', 'due'], ['get', 'households']], colourOf('partial'),
  colourOf('due'),
];

const SOURCE = 'floors';
export const FLOORS_LAYER = 'floors-3d';
/**
 * How far a floor's slab stands outside its building's walls, in metres: the regular buildings
 * (buildings-3d) are still drawn under it, so that a building with no household the user sees
 * stays in view and the storeys without households show as the building; a slab on the very
 * faces of the building's extrusion would flicker against them (z-fighting).
 */
const OUTSET_M = 0.4;
/** A thin line of the building between storeys, so that each floor reads as one. */
const STOREY_GAP_M = 0.35;
/** How long the map must rest before the floors of the new view are asked for. */
const DEBOUNCE_MS = 350;
const ROLES = ['cadre', 'secretary', 'admin'];

/** {map, crs, wanted: () => whether 3D with buildings is on} from main.js. */
let ctx;
const state = {
  timer: null,
  /** Answers to older requests are dropped. */
  seq: 0,
  /** A 403 (a secretary without a community) is not asked again until the session changes. */
  refused: false,
  legend: null,
  legendControl: null,
};

export function initFloors(context) {
  ctx = context;
  state.legend = el(
    'div',
    { class: 'maplibregl-ctrl floors-legend', id: 'floors-legend' },
    el('div', { class: 'title' }, '楼层走访状态'),
    el(
      'div',
      { class: 'age-legend' },
      FLOOR_CLASSES.map((c) => {
        const dot = el('span', { class: 'dot square', 'aria-hidden': 'true' });
        dot.style.background = c.colour; // the CSP refuses style attributes, not the CSSOM
        return el('span', { class: 'age', 'data-class': c.key }, dot, c.label);
      }),
    ),
    el('div', { class: 'status', role: 'status' }),
  );
  ctx.map.on('moveend', () => schedule());
  // Signed in or out, another role: shown, reloaded or taken away at once.
  window.addEventListener('wangge:session', () => {
    state.refused = false;
    updateFloors();
  });
  // A visit just recorded changes its floor's colour.
  window.addEventListener('wangge:visit', () => schedule());
}

/** Shows, reloads or removes the floors for the mode, the role and the view; main.js calls it. */
export function updateFloors() {
  clearTimeout(state.timer);
  state.timer = null;
  load().catch((e) => console.error(`floors: ${e.message}`));
}

function schedule() {
  clearTimeout(state.timer);
  state.timer = setTimeout(updateFloors, DEBOUNCE_MS);
}

function active() {
  return Boolean(ctx?.wanted()) && hasRole(...ROLES) && !state.refused;
}

async function load() {
  const seq = ++state.seq;
  if (!active()) {
    remove();
    return;
  }
  const { map } = ctx;
  if (!map.isStyleLoaded()) await new Promise((resolve) => map.once('idle', resolve));
  if (seq !== state.seq) return;
  showLegend();
  if (map.getZoom() < FLOORS_MIN_ZOOM) {
    draw(null);
    status(`放大到 ${FLOORS_MIN_ZOOM} 级以上显示`);
    return;
  }
  const asked = viewBbox().join(',');
  let body;
  try {
    ({ body } = await api(`/api/v1/households/floors?bbox=${asked}`));
  } catch (e) {
    if (seq !== state.seq) return;
    if (e instanceof ApiError && e.status === 403) {
      state.refused = true;
      remove();
    } else if (e instanceof ApiError && e.code === 'too_many') {
      draw(null);
      status('范围内住户过多，请放大地图');
    } else if (!(e instanceof ApiError && e.status === 401)) {
      // Offline or a server error: what was drawn stays, and the next move asks again.
      status(`读取失败：${e.message}`);
    }
    return;
  }
  if (seq !== state.seq || !active()) return;
  draw(body);
  // Which view the floors drawn are (the tests wait for the answer to the last question).
  state.legend.dataset.bbox = asked;
  const counts = Object.fromEntries(FLOOR_CLASSES.map((c) => [c.key, 0]));
  for (const f of body.features) counts[floorClass(f.properties)] += 1;
  status(body.features.length ? `本视图 ${body.features.length} 层：${FLOOR_CLASSES.map((c) => `${c.label} ${counts[c.key]}`).join('，')}` : '本视图内没有您负责的住户');
}

/**
 * The view's [west, south, east, north] in WGS84 (the API's), a little larger than the screen so
 * that a building at the edge is whole. Under a GCJ-02 basemap the map's corners are moved back by
 * the GCJ-02 offset at the centre: a metre off at most over a view, far less than the margin.
 */
function viewBbox() {
  const { map } = ctx;
  const b = map.getBounds();
  let [w, s, e, n] = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()];
  const [padX, padY] = [(e - w) * 0.05, (n - s) * 0.05];
  [w, s, e, n] = [w - padX, s - padY, e + padX, n + padY];
  if (ctx.crs === 'gcj02') {
    const c = map.getCenter();
    const [gx, gy] = wgs84ToGcj02([c.lng, c.lat]);
    const [dx, dy] = [gx - c.lng, gy - c.lat];
    [w, s, e, n] = [w - dx, s - dy, e - dx, n - dy];
  }
  const clamp = (v, lim) => Math.max(-lim, Math.min(lim, v));
  // Shortest text that keeps a tenth of a metre: the URL stays readable.
  return [clamp(w, 180), clamp(s, 85), clamp(e, 180), clamp(n, 85)].map((v) => Number(v.toFixed(6)));
}

/** The API's floors as the layer draws them: in the map's CRS, each slab just outside its walls. */
function slabs(body) {
  const toMap = ctx.crs === 'gcj02' ? (g) => mapPositions(g, wgs84ToGcj02) : (g) => g;
  const grown = new Map(); // one outline per building, not one per floor
  return {
    type: 'FeatureCollection',
    features: body.features.map((f) => {
      const key = f.properties.building_id;
      if (!grown.has(key)) grown.set(key, outset(toMap(f.geometry), OUTSET_M));
      return { type: 'Feature', geometry: grown.get(key), properties: f.properties };
    }),
  };
}

function draw(body) {
  const { map } = ctx;
  delete state.legend.dataset.bbox;
  const data = body ? slabs(body) : { type: 'FeatureCollection', features: [] };
  const source = map.getSource(SOURCE);
  if (source) {
    source.setData(data);
    return;
  }
  map.addSource(SOURCE, { type: 'geojson', data });
  map.addLayer(
    {
      id: FLOORS_LAYER,
      type: 'fill-extrusion',
      source: SOURCE,
      minzoom: FLOORS_MIN_ZOOM,
      paint: {
        'fill-extrusion-color': FLOOR_COLOUR,
        'fill-extrusion-base': ['get', 'base_m'],
        'fill-extrusion-height': ['max', ['get', 'base_m'], ['-', ['get', 'height_m'], STOREY_GAP_M]],
        // Opaque: drawn in one pass over the buildings under it.
        'fill-extrusion-opacity': 1,
        'fill-extrusion-vertical-gradient': true,
      },
    },
    // Just above the regular buildings, under the households, the labels and the walk.
    map.getLayer('households-dots') ? 'households-dots' : undefined,
  );
}

function remove() {
  const { map } = ctx ?? {};
  if (!map) return;
  if (map.getLayer(FLOORS_LAYER)) map.removeLayer(FLOORS_LAYER);
  if (map.getSource(SOURCE)) map.removeSource(SOURCE);
  if (state.legendControl) {
    map.removeControl(state.legendControl);
    state.legendControl = null;
  }
}

/** The legend on the map itself (a MapLibre control): on a phone the panel is often folded. */
function showLegend() {
  if (state.legendControl) return;
  const legend = state.legend;
  state.legendControl = { onAdd: () => legend, onRemove: () => legend.remove() };
  ctx.map.addControl(state.legendControl, 'bottom-left');
}

function status(text) {
  state.legend.querySelector('.status').textContent = text;
}

