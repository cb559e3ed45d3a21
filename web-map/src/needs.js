// 需求分布 for admins and branch secretaries (支部书记): the grids filled by their open needs
// (智能手环, 灭火器, …: what the street has to buy, fit or send, and where), from the public `needs`
// tiles, which carry per grid only sums by type. A click on a grid lists its open needs by type
// from the tile's properties: no household, and no further request.

import { hasRole } from './api.js';
import { $, el, revealPanel, showMessage } from './ui.js';
import { NEED_TYPES } from './walk.js';

/** Classes of open needs per grid, from the lowest: [least open, colour, label]. */
export const NEEDS_CLASSES = [
  [0, '#f4f1ea', '无'],
  [1, '#fdd49e', '1–2 项'],
  [3, '#fc8d59', '3–5 项'],
  [6, '#b30000', '6 项以上'],
];

/** The fill colour of a grid with `open` open needs. */
export function needsColour(open) {
  return NEEDS_CLASSES.findLast(([min]) => open >= min)[1];
}

/** The same classes for MapLibre to evaluate per feature. */
const NEEDS_FILL = ['step', ['coalesce', ['get', 'open'], 0], NEEDS_CLASSES[0][1], ...NEEDS_CLASSES.slice(1).flatMap(([min, colour]) => [min, colour])];

export const NEEDS_LAYER = 'needs-fill';
const NEEDS_LINE = 'needs-line';

/** {map, tilejson} from main.js; tilejson is the `needs` layer's, absent from an older server. */
let ctx;

export function initNeeds(context) {
  ctx = context;
  $('needs-toggle').addEventListener('change', (e) => {
    if (e.target.checked) show().catch((err) => showMessage(`显示需求分布失败：${err.message}`, 'error'));
    else hide();
  });
  // Both fill the grids: one at a time, or the colours would mean nothing.
  $('coverage-toggle').addEventListener('change', (e) => {
    if (e.target.checked && $('needs-toggle').checked) {
      $('needs-toggle').checked = false;
      hide();
    }
  });
  $('needs-legend').replaceChildren(
    ...NEEDS_CLASSES.map(([, colour, label]) => {
      const dot = el('span', { class: 'dot square', 'aria-hidden': 'true' });
      dot.style.background = colour; // the CSP refuses style attributes, not the CSSOM
      return el('span', { class: 'age' }, dot, label);
    }),
  );
  ctx.map.on('click', onClick);
  window.addEventListener('wangge:session', render);
  render();
}

function render() {
  const allowed = hasRole('admin', 'secretary') && Boolean(ctx.tilejson);
  $('needs').hidden = !allowed;
  if (!allowed && $('needs-toggle').checked) {
    $('needs-toggle').checked = false;
    hide();
  }
}

async function show() {
  const coverage = $('coverage-toggle');
  if (coverage.checked) {
    coverage.checked = false;
    coverage.dispatchEvent(new Event('change'));
  }
  const { map, tilejson } = ctx;
  // 'idle', not 'load': the style may be busy long after it first loaded.
  if (!map.isStyleLoaded()) await new Promise((resolve) => map.once('idle', resolve));
  if (!$('needs-toggle').checked || map.getLayer(NEEDS_LAYER)) return;
  const sourceLayer = tilejson.vector_layers?.find((v) => v.id === 'needs')?.id ?? tilejson.vector_layers?.[0]?.id ?? 'needs';
  map.addLayer(
    { id: NEEDS_LAYER, type: 'fill', source: 'needs', 'source-layer': sourceLayer, paint: { 'fill-color': NEEDS_FILL, 'fill-opacity': 0.82 } },
    // Over the unclaimed areas' red wash, which would shift the classes' colours; under the
    // areas' outlines and the labels.
    map.getLayer('areas-line') ? 'areas-line' : undefined,
  );
  // The grids' own outlines are under the fill now: drawn again above it.
  map.addLayer(
    { id: NEEDS_LINE, type: 'line', source: 'needs', 'source-layer': sourceLayer, paint: { 'line-color': '#ffffff', 'line-width': ['interpolate', ['linear'], ['zoom'], 13, 0.8, 18, 2.5] } },
    map.getLayer('areas-line') ? 'areas-line' : undefined,
  );
  $('needs-legend').hidden = false;
  $('needs-detail').hidden = false;
  $('needs-detail').replaceChildren(el('p', { class: 'hint' }, '点击网格，查看其未满足的需求'));
}

function hide() {
  for (const id of [NEEDS_LINE, NEEDS_LAYER]) if (ctx?.map.getLayer(id)) ctx.map.removeLayer(id);
  $('needs-legend').hidden = true;
  $('needs-detail').hidden = true;
  $('needs-detail').replaceChildren();
}

/** While the needs are shown, a click on a grid also lists that grid's open needs by type. */
function onClick(e) {
  if (!ctx.map.getLayer(NEEDS_LAYER)) return;
  const hit = ctx.map.queryRenderedFeatures(e.point, { layers: [NEEDS_LAYER] })[0];
  if (!hit) return;
  const p = hit.properties;
  const rows = NEED_TYPES.filter(([type]) => Number(p[type]) > 0);
  $('needs-detail').replaceChildren(
    el('p', { class: 'grid' }, el('strong', {}, p.name), ' ', el('code', {}, p.code), el('span', { class: 'meta' }, `未满足需求 ${p.open} 项`)),
    rows.length
      ? el('ul', { class: 'plain needs-list' }, rows.map(([type, label]) => el('li', { 'data-type': type }, el('span', {}, label), el('strong', {}, `${p[type]} 项`))))
      : el('p', { class: 'none' }, '没有未满足的需求'),
  );
  $('needs-detail').dataset.grid = p.code;
  revealPanel($('needs'));
}
