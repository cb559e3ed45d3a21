// 走访覆盖率 for admins and branch secretaries (支部书记): the grids filled by the share of their
// households visited at the door in the last 30 days (GET /api/v1/stats/coverage?level=grid),
// with a legend. Counts only: no household is drawn.

import { api, hasRole } from './api.js';
import { $, el, showMessage } from './ui.js';

/** Coverage classes, worst first: [upper bound (exclusive), colour, label]. */
export const COVERAGE_CLASSES = [
  [0.2, '#d7301f', '20% 以下'],
  [0.5, '#fc8d59', '20–50%'],
  [0.8, '#fee08b', '50–80%'],
  [Infinity, '#1a9850', '80% 以上'],
];
const NO_HOUSEHOLDS = '#bdbdbd';
const DAYS = 30;

/** The colour of a coverage share (0…1). */
export function coverageColour(coverage) {
  return COVERAGE_CLASSES.find(([max]) => coverage < max)[1];
}

let map;

export function initCoverage(context) {
  ({ map } = context);
  $('coverage-toggle').addEventListener('change', (e) => {
    if (e.target.checked) show().catch((err) => showMessage(`读取覆盖率失败：${err.message}`, 'error'));
    else hide();
  });
  $('coverage-legend').replaceChildren(
    ...[...COVERAGE_CLASSES.map(([, c, label]) => [c, label]), [NO_HOUSEHOLDS, '无住户']].map(([colour, label]) => {
      const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
      dot.style.background = colour; // the CSP refuses style attributes, not the CSSOM
      return el('span', { class: 'age' }, dot, label);
    }),
  );
  window.addEventListener('wangge:session', render);
  render();
}

function render() {
  const allowed = hasRole('admin', 'secretary');
  $('coverage').hidden = !allowed;
  if (!allowed) {
    $('coverage-toggle').checked = false;
    hide();
  }
}

async function show() {
  const { body } = await api(`/api/v1/stats/coverage?level=grid&days=${DAYS}`);
  // A colour per grid code, matched in the style against the `code` of the grid tiles.
  const match = ['match', ['get', 'code']];
  for (const row of body.rows) match.push(row.code, row.households ? coverageColour(row.coverage) : NO_HOUSEHOLDS);
  match.push(NO_HOUSEHOLDS);
  const colour = body.rows.length ? match : NO_HOUSEHOLDS;
  if (!map.isStyleLoaded()) await new Promise((resolve) => map.once('load', resolve));
  if (map.getLayer('coverage-fill')) map.setPaintProperty('coverage-fill', 'fill-color', colour);
  else {
    map.addLayer(
      { id: 'coverage-fill', type: 'fill', source: 'grids', 'source-layer': 'grids', paint: { 'fill-color': colour, 'fill-opacity': 0.8 } },
      map.getLayer('grids-line') ? 'grids-line' : undefined,
    );
  }
  const visited = body.rows.reduce((n, r) => n + r.visited, 0);
  const households = body.rows.reduce((n, r) => n + r.households, 0);
  $('coverage-summary').textContent = `近 ${DAYS} 天入户 ${visited} / ${households} 户`;
  $('coverage-legend').hidden = false;
}

function hide() {
  if (map?.getLayer('coverage-fill')) map.removeLayer('coverage-fill');
  $('coverage-legend').hidden = true;
  $('coverage-summary').textContent = '';
}
