// 规划编辑, the planners' tools (role planner or admin): draw a new grid, community or
// responsibility area, move the vertices of an existing one, change its properties, split it by a
// line, merge neighbours, and read its history. Drawing is Terra Draw's (terra-draw and its
// MapLibre adapter, from npm, served by this server), with snapping to the neighbours' vertices
// and edges. Every save is checked first with POST /api/v1/{layer}/validate; the problems are
// drawn in red on the map and listed, and nothing is written while there are any.

import { TerraDraw, TerraDrawLineStringMode, TerraDrawPolygonMode, TerraDrawSelectMode } from 'terra-draw';
import { TerraDrawMapLibreGLAdapter } from '/vendor/terra-draw-maplibre-gl-adapter/terra-draw-maplibre-gl-adapter.modern.js';
import { api, ApiError, hasRole, lookupQuery } from './api.js';
import { bbox, mapPositions, rings, snapPosition, wgs84ToGcj02 } from './geo.js';
import { $, el, formatTime, showMessage } from './ui.js';

/** Digits kept after the decimal point of a drawn coordinate (1e-10° is about 0.01 mm). */
const PRECISION = 10;
/** How near (pixels) the pointer must come to a neighbour's vertex or edge to snap to it. */
const SNAP_PIXELS = 12;

const LAYER_NAMES = { grids: '网格', communities: '社区', areas: '民情责任田' };
/** The layer a feature's parent is in: its boundary is snapped to as well as the neighbours'. */
const PARENT_LAYER = { grids: 'communities', communities: 'streets' };
const PROBLEM_NAMES = {
  invalid_geometry: '几何无效',
  overlap: '与相邻要素重叠',
  outside_parent: '超出上级范围',
  children_outside: '下级要素超出范围',
  unknown_parent: '上级编码不存在',
  duplicate_code: '编码重复',
};
const ACTION_NAMES = { create: '新建', update: '修改', split: '分割', merge: '合并', delete: '删除', import: '导入' };

/** {map, crs, refreshData(layers), highlight(code)} from main.js. */
let ctx;
let draw = null;

const ed = {
  /** idle | pick (clicks choose features) | draw (a new polygon) | edit (vertices) | split (a line) */
  mode: 'idle',
  layer: 'grids',
  /** Chosen features: [{id, feature, version}] as the API answered them (WGS84). */
  selection: [],
  /** The feature being drawn or edited: {id (null = new), version, drawId (Terra Draw's id)}. */
  target: null,
  /** The split line, once drawn: a LineString in the map's CRS. */
  splitLine: null,
  /** Neighbours' rings in the map's CRS, for snapping. */
  snapRings: [],
};

// ---- coordinates: the map may be drawn in GCJ-02; the API answers WGS84 ----

const toMap = (geometry) => (ctx.crs === 'gcj02' ? mapPositions(geometry, wgs84ToGcj02) : geometry);
const round = (geometry) => mapPositions(geometry, ([x, y]) => [Number(x.toFixed(PRECISION)), Number(y.toFixed(PRECISION))]);
/** A write's query string: what the geometry sent is drawn in. */
const crsQuery = () => (ctx.crs === 'wgs84' ? '' : `?crs=${ctx.crs}`);

export function initEditor(context) {
  ctx = context;
  const { map } = ctx;
  window.addEventListener('wangge:session', render);
  $('edit-layer').addEventListener('change', (e) => {
    reset();
    ed.layer = e.target.value;
    render();
  });
  $('edit-new').addEventListener('click', startNew);
  $('edit-pick').addEventListener('click', () => {
    const on = ed.mode !== 'pick';
    reset();
    ed.mode = on ? 'pick' : 'idle';
    status(on ? `点击地图选择${LAYER_NAMES[ed.layer]}；按住 Shift 点击可多选（用于合并）。` : '');
    render();
  });
  $('edit-cancel').addEventListener('click', () => {
    reset();
    status('');
    render();
  });
  $('edit-geometry').addEventListener('click', () => startEdit().catch(failed('加载失败')));
  $('edit-split').addEventListener('click', startSplit);
  $('edit-merge').addEventListener('click', () => merge().catch(failed('合并失败')));
  $('edit-history').addEventListener('click', () => history().catch(failed('读取历史失败')));
  $('edit-delete').addEventListener('click', () => remove().catch(failed('删除失败')));
  $('edit-validate').addEventListener('click', () => validate().catch(failed('检查失败')));
  $('edit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    save().catch(failed('保存失败'));
  });
  $('split-form').addEventListener('submit', (e) => {
    e.preventDefault();
    split().catch(failed('分割失败'));
  });
  map.on('load', () => {
    addOverlay(map);
    render();
  });
  render();
}

/** The editor's own layers: chosen features (blue), a past version (orange), problems (red). */
function addOverlay(map) {
  const empty = { type: 'FeatureCollection', features: [] };
  for (const id of ['edit-selected', 'edit-history', 'edit-problems']) map.addSource(id, { type: 'geojson', data: empty });
  map.addLayer({ id: 'edit-selected-line', type: 'line', source: 'edit-selected', paint: { 'line-color': '#1565c0', 'line-width': 3, 'line-dasharray': [2, 1] } });
  map.addLayer({ id: 'edit-history-line', type: 'line', source: 'edit-history', paint: { 'line-color': '#e67e22', 'line-width': 3 } });
  map.addLayer({ id: 'edit-problems-fill', type: 'fill', source: 'edit-problems', paint: { 'fill-color': '#e00000', 'fill-opacity': 0.45 } });
  map.addLayer({ id: 'edit-problems-line', type: 'line', source: 'edit-problems', paint: { 'line-color': '#e00000', 'line-width': 3 } });
  map.addLayer({
    id: 'edit-problems-point',
    type: 'circle',
    source: 'edit-problems',
    filter: ['==', ['geometry-type'], 'Point'],
    paint: { 'circle-color': '#e00000', 'circle-radius': 6 },
  });
}

function setOverlay(id, geometries) {
  ctx.map.getSource(id)?.setData({
    type: 'FeatureCollection',
    features: geometries.filter(Boolean).map((g) => ({ type: 'Feature', properties: {}, geometry: toMap(g) })),
  });
}

function status(text) {
  $('edit-status').textContent = text;
}

const failed = (what) => (e) => showMessage(`${what}：${e.message}`, 'error');

// ---- Terra Draw ----

/** Snaps the pointer to the neighbours' vertices and edges (Terra Draw's custom snapping). */
function snapToNeighbours(event, context) {
  const project = ([lng, lat]) => context.project(lng, lat);
  return snapPosition(context.project(event.lng, event.lat), ed.snapRings, project, SNAP_PIXELS);
}

function terraDraw() {
  if (draw) return draw;
  const snapping = { toCustom: snapToNeighbours, toCoordinate: true };
  draw = new TerraDraw({
    adapter: new TerraDrawMapLibreGLAdapter({ map: ctx.map, coordinatePrecision: PRECISION }),
    modes: [
      new TerraDrawPolygonMode({
        snapping,
        styles: { fillColor: '#1565c0', fillOpacity: 0.25, outlineColor: '#1565c0', outlineWidth: 2 },
      }),
      new TerraDrawLineStringMode({ styles: { lineStringColor: '#6a1b9a', lineStringWidth: 3 } }),
      new TerraDrawSelectMode({
        flags: {
          polygon: {
            feature: { draggable: false, coordinates: { draggable: true, midpoints: true, deletable: true, snappable: snapping } },
          },
          linestring: { feature: { draggable: false, coordinates: { draggable: true } } },
        },
        styles: { selectedPolygonColor: '#1565c0', selectedPolygonFillOpacity: 0.25, selectedPolygonOutlineColor: '#1565c0' },
      }),
    ],
  });
  draw.start();
  draw.on('finish', (id, context) => {
    if (context?.action !== 'draw') return;
    if (ed.mode === 'draw') {
      ed.target = { id: null, version: null, drawId: id };
      draw.setMode('select');
      draw.selectFeature(id);
      ed.mode = 'edit';
      status('已闭合。可拖动顶点调整，填写属性后“检查”或“保存”。');
      render();
    } else if (ed.mode === 'split') {
      ed.splitLine = draw.getSnapshotFeature(id)?.geometry ?? null;
      draw.setMode('static');
      status('分割线已画好：填写新要素的编码和名称后点“分割”。');
      render();
    }
  });
  return draw;
}

/**
 * What to snap to: every feature of the layer but `except` (the neighbours), and the parents'
 * boundaries (a grid's edge on its community's boundary), from the OGC API.
 */
async function loadSnapRings(except = null) {
  const layers = [ed.layer, PARENT_LAYER[ed.layer]].filter(Boolean);
  const answers = await Promise.all(layers.map((l) => api(`/ogc/collections/${l}/items?limit=10000`)));
  ed.snapRings = answers.flatMap(({ body }, i) =>
    body.features
      .filter((f) => f.geometry && !(i === 0 && String(f.id ?? f.properties?.id) === String(except)))
      .flatMap((f) => rings(toMap(f.geometry))),
  );
}

function stopDrawing() {
  if (!draw) return;
  draw.clear();
  draw.setMode('static');
}

function reset() {
  stopDrawing();
  ed.mode = 'idle';
  ed.selection = [];
  ed.target = null;
  ed.splitLine = null;
  showProblems(null);
  setOverlay('edit-selected', []);
  setOverlay('edit-history', []);
  $('history-list').hidden = true;
  $('edit-form').reset();
  $('split-form').reset();
}

// ---- choosing features ----

/** Clicks belong to the editor while it picks or draws; otherwise the map looks them up. */
export function editorTakesClick(e) {
  if (ed.mode === 'idle') return false;
  if (ed.mode === 'pick') pick(e).catch(failed('选择失败'));
  return true;
}

async function pick(e) {
  const { body: answer } = await api(`/api/v1/lookup?${lookupQuery([e.lngLat.lng, e.lngLat.lat], ctx.crs)}`);
  const hit = { grids: answer.grid, communities: answer.community, areas: answer.areas?.[0] }[ed.layer];
  if (!hit) {
    status(`这里没有${LAYER_NAMES[ed.layer]}。`);
    return;
  }
  const adding = e.originalEvent?.shiftKey;
  if (adding && ed.selection.some((s) => s.id === hit.id)) return;
  const chosen = await fetchFeature(hit.id);
  ed.selection = adding ? [...ed.selection, chosen] : [chosen];
  if (ed.selection.length === 1) fillForm(chosen.feature);
  if (!adding) ctx.highlight(ed.layer === 'grids' ? hit.code : null);
  status(ed.selection.length > 1 ? `已选 ${ed.selection.length} 个，可合并。` : '已选择：可修改属性或边界、分割、查看历史。');
  render();
}

/** GET /api/v1/{layer}/{id}: {id, feature, version}; the version is the ETag. */
async function fetchFeature(id, layer = ed.layer) {
  const { body, etag } = await api(`/api/v1/${layer}/${id}`);
  return { id, feature: body, version: etag ?? body.properties?.version };
}

// ---- drawing and editing ----

async function startNew() {
  reset();
  ed.mode = 'draw';
  render();
  await loadSnapRings().catch(failed('读取相邻要素失败'));
  terraDraw().setMode('polygon');
  status('在地图上依次点击各顶点，再点击起点闭合；靠近相邻要素的顶点或边时会自动吸附。');
}

async function startEdit() {
  const [chosen] = ed.selection;
  // The API answers MultiPolygons; one with a single part is edited as the Polygon it is.
  const g = chosen.feature.geometry;
  const polygon = g?.type === 'Polygon' ? g : g?.type === 'MultiPolygon' && g.coordinates.length === 1 ? { type: 'Polygon', coordinates: g.coordinates[0] } : null;
  if (!polygon) {
    showMessage('多个部分组成的要素只能修改属性，不能在地图上修改边界。', 'warn');
    return;
  }
  await loadSnapRings(chosen.id);
  const d = terraDraw();
  d.clear();
  d.setMode('select');
  const [result] = d.addFeatures([{ type: 'Feature', geometry: round(toMap(polygon)), properties: { mode: 'polygon' } }]);
  if (!result?.valid) throw new Error(`无法编辑该边界（${result?.reason ?? '几何无效'}）`);
  d.selectFeature(result.id);
  ed.target = { id: chosen.id, version: chosen.version, drawId: result.id };
  ed.mode = 'edit';
  showProblems(null);
  status('拖动顶点修改边界（拖动边的中点可加点），然后“检查”或“保存”。');
  render();
}

/** The Feature the form and the drawing describe, in the map's CRS; geometry null = unchanged. */
function currentFeature() {
  const properties = { code: $('edit-code').value.trim(), name: $('edit-name').value.trim() };
  if (ed.layer !== 'areas') properties.parent_code = $('edit-parent').value.trim() || null;
  const drawn = ed.target?.drawId !== undefined && draw ? draw.getSnapshotFeature(ed.target.drawId) : null;
  return { type: 'Feature', geometry: drawn ? drawn.geometry : null, properties };
}

/** The id and version a save would update: the feature edited, or the one chosen. */
function updating() {
  if (ed.target) return ed.target.id === null ? null : ed.target;
  return ed.selection.length === 1 ? ed.selection[0] : null;
}

/** POST /validate: draws and lists the problems; true when there are none. */
async function validate() {
  const feature = currentFeature();
  if (!feature.geometry) {
    showProblems([]);
    return true;
  }
  const target = updating();
  if (target) feature.properties.id = target.id;
  const { body } = await api(`/api/v1/${ed.layer}/validate${crsQuery()}`, { method: 'POST', body: feature });
  showProblems(body.problems ?? []);
  return body.valid;
}

async function save() {
  if (!(await validate())) {
    status('未保存：请先修正下列问题。');
    return;
  }
  const feature = currentFeature();
  const target = updating();
  try {
    const { body } = target
      ? await api(`/api/v1/${ed.layer}/${target.id}${crsQuery()}`, { method: 'PATCH', body: feature, ifMatch: target.version })
      : await api(`/api/v1/${ed.layer}${crsQuery()}`, { method: 'POST', body: feature });
    const saved = body.properties;
    await afterWrite([saved.id ?? body.id]);
    showMessage(`已保存${LAYER_NAMES[ed.layer]}“${saved.name}”（版本 ${saved.version}）${reassignedText(body.reassigned)}`);
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    if (e.status === 412) await staleVersion(target);
    else if (e.problems.length) {
      showProblems(e.problems);
      status(`未保存：${e.message}`);
    } else throw e;
  }
}

/** 412: someone saved first. Their version is loaded; the user edits again from it. */
async function staleVersion(target) {
  const fresh = await fetchFeature(target.id);
  ed.selection = [fresh];
  stopDrawing();
  ed.target = null;
  ed.mode = 'pick';
  fillForm(fresh.feature);
  showMessage('未保存：该要素已被他人修改。已重新加载最新版本，请在此基础上重新编辑。', 'warn');
  render();
}

function reassignedText(r) {
  if (!r) return '';
  return `；重新归属 ${r.households ?? 0} 户、${r.buildings ?? 0} 栋楼`;
}

/** After a write: the map draws the new data and the written features are the selection. */
async function afterWrite(ids) {
  ctx.refreshData([ed.layer]);
  const chosen = await Promise.all(ids.map((id) => fetchFeature(id)));
  reset();
  ed.selection = chosen;
  ed.mode = 'pick';
  if (chosen.length === 1) fillForm(chosen[0].feature);
  status('已保存。');
  render();
}

// ---- delete, split, merge, history ----

async function remove() {
  const [chosen] = ed.selection;
  const what = `${LAYER_NAMES[ed.layer]}“${chosen.feature.properties.name}”`;
  if (!window.confirm(`删除${what}？其中的住户和楼栋将重新归属。`)) return;
  try {
    await api(`/api/v1/${ed.layer}/${chosen.id}`, { method: 'DELETE', ifMatch: chosen.version });
  } catch (e) {
    if (e instanceof ApiError && e.status === 412) return staleVersion(chosen);
    if (e instanceof ApiError && e.status === 409) return showMessage(`不能删除${what}：${e.message}`, 'warn');
    throw e;
  }
  ctx.refreshData([ed.layer]);
  reset();
  ed.mode = 'pick';
  status('');
  render();
  showMessage(`已删除${what}`);
}

function startSplit() {
  stopDrawing();
  ed.splitLine = null;
  ed.mode = 'split';
  terraDraw().setMode('linestring');
  status('画一条穿过所选要素的线：依次点击，再次点击最后一点结束。');
  render();
}

async function split() {
  const [chosen] = ed.selection;
  if (!ed.splitLine) {
    status('请先在地图上画分割线。');
    return;
  }
  const body = { line: ed.splitLine, code: $('split-code').value.trim(), name: $('split-name').value.trim() };
  try {
    const { body: answer } = await api(`/api/v1/${ed.layer}/${chosen.id}/split${crsQuery()}`, { method: 'POST', body, ifMatch: chosen.version });
    await afterWrite([answer.kept.properties.id ?? answer.kept.id, answer.created.properties.id ?? answer.created.id]);
    showMessage(`已分割为“${answer.kept.properties.name}”和“${answer.created.properties.name}”${reassignedText(answer.reassigned)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 412) await staleVersion(chosen);
    else if (e instanceof ApiError && e.problems.length) showProblems(e.problems);
    else throw e;
  }
}

async function merge() {
  const body = { ids: ed.selection.map((s) => s.id), versions: ed.selection.map((s) => Number(s.version)) };
  try {
    const { body: answer } = await api(`/api/v1/${ed.layer}/merge`, { method: 'POST', body });
    await afterWrite([answer.merged.properties.id ?? answer.merged.id]);
    showMessage(`已合并为“${answer.merged.properties.name}”${reassignedText(answer.reassigned)}`);
  } catch (e) {
    if (e instanceof ApiError && e.status === 412) {
      ed.selection = await Promise.all(ed.selection.map((s) => fetchFeature(s.id)));
      showMessage('未合并：所选要素已被他人修改。已重新加载，请确认后再合并。', 'warn');
      render();
    } else if (e instanceof ApiError && e.problems.length) showProblems(e.problems);
    else throw e;
  }
}

async function history() {
  const [chosen] = ed.selection;
  const { body } = await api(`/api/v1/${ed.layer}/${chosen.id}/history`);
  const list = $('history-list');
  list.hidden = false;
  list.replaceChildren(
    ...body.versions.map((v) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: 'history-version',
            'data-version': v.version,
            onclick: () => showVersion(v),
          },
          el('strong', {}, `版本 ${v.version}`),
          ` ${ACTION_NAMES[v.action] ?? v.action} · ${formatTime(v.valid_from)}${v.user ? ` · ${v.user.display_name ?? `用户 ${v.user.id}`}` : ''}${v.valid_to ? '' : ' · 当前'}`,
        ),
      ),
    ),
  );
}

function showVersion(v) {
  setOverlay('edit-history', [v.feature?.geometry]);
  status(`地图上橙色为版本 ${v.version} 的边界（${v.feature?.properties?.name ?? ''}）。`);
  if (v.feature?.geometry) {
    const [w, s, e, n] = bbox(toMap(v.feature.geometry));
    ctx.map.fitBounds([[w, s], [e, n]], { padding: 80, maxZoom: 17.5, duration: 600 });
  }
}

// ---- the panel ----

function showProblems(problems) {
  const box = $('edit-problems');
  setOverlay('edit-problems', (problems ?? []).map((p) => p.where));
  if (!problems) {
    box.hidden = true;
    return;
  }
  box.hidden = false;
  box.className = problems.length ? 'problems' : 'problems ok';
  box.replaceChildren(
    problems.length
      ? el('p', {}, `发现 ${problems.length} 个问题（地图上红色标出）：`)
      : el('p', {}, '检查通过，没有发现问题。'),
    el(
      'ul',
      {},
      problems.map((p) =>
        el(
          'li',
          { 'data-code': p.code },
          el('strong', {}, PROBLEM_NAMES[p.code] ?? '问题'),
          p.with ? ` ${p.with.name}（${p.with.code}）` : '',
          p.area_m2 !== undefined && p.area_m2 !== null ? ` 约 ${p.area_m2.toFixed(1)} 平方米` : '',
          el('div', { class: 'server-message' }, p.message),
        ),
      ),
    ),
  );
}

function fillForm(feature) {
  const p = feature?.properties ?? {};
  $('edit-code').value = p.code ?? '';
  $('edit-name').value = p.name ?? '';
  $('edit-parent').value = p.parent_code ?? '';
}

function render() {
  const allowed = hasRole('planner', 'admin');
  $('editor').hidden = !allowed;
  if (!allowed && ed.mode !== 'idle') reset();
  if (!allowed) return;
  const one = ed.selection.length === 1;
  $('edit-pick').setAttribute('aria-pressed', String(ed.mode === 'pick'));
  $('edit-parent-row').hidden = ed.layer === 'areas';
  $('edit-selection').replaceChildren(
    ...ed.selection.map((s) =>
      el('li', { 'data-id': s.id }, el('strong', {}, s.feature.properties.name), ' ', el('code', {}, s.feature.properties.code), el('span', { class: 'meta' }, ` 版本 ${s.version}`)),
    ),
  );
  setOverlay('edit-selected', ed.selection.map((s) => s.feature.geometry));
  const editing = ed.mode === 'draw' || ed.mode === 'edit';
  $('edit-actions').hidden = !ed.selection.length || editing || ed.mode === 'split';
  $('edit-geometry').disabled = !one;
  $('edit-split').disabled = !one;
  $('edit-history').disabled = !one;
  $('edit-delete').disabled = !one;
  $('edit-merge').disabled = ed.selection.length < 2;
  $('edit-form').hidden = !(editing || (one && ed.mode === 'pick'));
  $('split-form').hidden = ed.mode !== 'split';
}
