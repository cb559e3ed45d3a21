// 党建信息屏: the screen of a community centre and the leaders' big screen, at /screen. The 3D
// map of the main page (the same style from this server's own tiles, buildings extruded), with
// around it the figures of one street, community or grid from one call
// (GET /api/v1/stats/summary), the 先锋榜 of cadres and branches, the latest activities' group
// photos, where open requests gather (a heatmap of the public Open311 list), visit coverage by
// grid, and the requests as they happen: the staff event stream (GET /api/v1/me/events) read
// with fetch, since EventSource cannot send the bearer token. Each event re-reads the figures.
//
// The unit comes from the address (?level=street|community|grid&id=ID), else the first street;
// a click on the map picks the grid there, and 街道 / 社区 / 网格 move along the chain above it.
// Counts only: the page shows no reporter and no household.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { buildStyle, tileRequestTransform } from './style.js';
import { api, ApiError, currentSession, loadTileJson, lookupQuery } from './api.js';
import { initAccount } from './account.js';
import { bbox, wgs84ToGcj02 } from './geo.js';
import { COVERAGE_CLASSES, coverageColour } from './coverage.js';
import { STATE_NAMES } from './requests.js';
import { $, el, formatTime, reportMapErrors, showMessage } from './ui.js';

const origin = window.location.origin;
const LEVELS = ['street', 'community', 'grid'];
const LEVEL_NAMES = { street: '街道', community: '社区', grid: '网格' };
/** The OGC API collection of each level: the unit's outline, to fit the map to it. */
const COLLECTIONS = { street: 'streets', community: 'communities', grid: 'grids' };
/** The roles the server streams request events to (src/http/events.rs). */
const STREAM_ROLES = ['admin', 'secretary', 'cadre'];
const NOTICE_NAMES = { reported: '新上报', stepped: '办理进展', escalated: '超时上报' };
const NO_HOUSEHOLDS = '#bdbdbd';
const DAYS = 30;
/** Everything is read again this often, for a screen left on all day. */
const REFRESH_MS = 5 * 60_000;
/** Events within this long of the first re-read the figures once. */
const EVENT_DELAY_MS = 1000;
/** A user who may not hear the stream (a planner) gets the figures polled this often. */
const POLL_MS = 60_000;
const FEED_MAX = 30;
/** The tilt and turn of the 3D map. */
const PITCH = 50;
const BEARING = -20;
const BACKOFF_MIN_MS = 1000;
const BACKOFF_MAX_MS = 60_000;
/** A stream that stayed up this long starts the backoff afresh when it ends. */
const STREAM_STEADY_MS = 30_000;

/** The MapLibre map, made once someone has signed in (nothing is drawn under the sign-in). */
let map;
/** The page's settings (GET /api/v1/web-config). */
let config = { map_crs: 'wgs84', basemap: null };
/** Resolves once the style has loaded and the screen's own layers are on the map. */
let layersLoaded;
const layersReady = new Promise((resolve) => (layersLoaded = resolve));

const state = {
  /** The CRS the map is drawn in: wgs84, or gcj02 under a GCJ-02 basemap. */
  crs: 'wgs84',
  /** Streets, communities and grids by id: {id, kind, code, name, parentCode}. */
  places: new Map(),
  byCode: new Map(),
  /** The unit shown: {level, id, code, name}. */
  unit: null,
  /** The ids of the street, community and grid around the unit, as far as known. */
  chain: {},
  /** Unit outlines (WGS84 geometry, or null) by `${level}:${id}`, as promises. */
  outlines: new Map(),
  /** Whether the map was fitted to a unit once, and moved by hand since the last fit. */
  fitted: false,
  movedByHand: false,
  /** Rows of stats/coverage by grid. */
  coverage: [],
  /** The public list of open requests (Open311), for the heatmap and the first lines of the feed. */
  openRequests: [],
  /** The live feed's entries by request id. */
  feed: new Map(),
  /** The newest call of each loader: an older answer is dropped. */
  calls: {},
  started: false,
  stream: null,
  backoff: BACKOFF_MIN_MS,
  streamEverOpen: false,
  timers: {},
};

// ---- small helpers ----

/** A ticket for the newest call of `kind`; `current(kind, ticket)` says whether it still is. */
function ticket(kind) {
  state.calls[kind] = (state.calls[kind] ?? 0) + 1;
  return state.calls[kind];
}
const current = (kind, t) => state.calls[kind] === t;

async function getJson(url) {
  const res = await fetch(url);
  const body = await res.json().catch(() => null);
  if (!res.ok) throw new ApiError(res.status, body);
  return body;
}

/** A value of `obj` by a dotted path such as `requests.to_door.median_min`. */
function at(obj, path) {
  return path.split('.').reduce((o, k) => (o === null || o === undefined ? undefined : o[k]), obj);
}

/**
 * A share (0 to 1) as a percentage for people: 0.732 → 73.2 (one decimal, none when whole); a
 * share that is not nil but rounds to 0 is <0.1, one short of all >99.9.
 */
function percent(rate) {
  const shown = Math.round(rate * 1000) / 10;
  if (shown === 0 && rate > 0) return '<0.1';
  if (shown === 100 && rate < 1) return '>99.9';
  return String(shown);
}

/** A figure as [number text, unit text] for people; null → "—". */
function formatFigure(value, format) {
  if (typeof value !== 'number' || !Number.isFinite(value)) return ['—', ''];
  if (format === 'rate') return [percent(value), '%'];
  if (format === 'minutes') {
    if (value < 1) return ['<1', '分钟'];
    if (value < 60) return [String(Math.round(value)), '分钟'];
    if (value < 1440) return [(value / 60).toFixed(1), '小时'];
    return [(value / 1440).toFixed(1), '天'];
  }
  return [value.toLocaleString('zh-CN'), ''];
}

function toMap(lonLat) {
  return state.crs === 'gcj02' ? wgs84ToGcj02(lonLat) : lonLat;
}

/** The quarter now is in, in China time, as the attendance rows name it: 2026-Q4. */
function currentQuarter(now = new Date()) {
  const parts = Object.fromEntries(
    new Intl.DateTimeFormat('en-US', { timeZone: 'Asia/Shanghai', year: 'numeric', month: 'numeric' })
      .formatToParts(now)
      .map((p) => [p.type, p.value]),
  );
  return `${parts.year}-Q${Math.floor((Number(parts.month) - 1) / 3) + 1}`;
}

/** Whether [lon, lat] lies inside a Polygon or MultiPolygon (even-odd over every ring). */
function contains(geometry, [x, y]) {
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  let inside = false;
  for (const ring of polygons.flat()) {
    for (let i = 0, j = ring.length - 1; i < ring.length; j = i++) {
      const [xi, yi] = ring[i];
      const [xj, yj] = ring[j];
      if (yi > y !== yj > y && x < ((xj - xi) * (y - yi)) / (yj - yi) + xi) inside = !inside;
    }
  }
  return inside;
}

// ---- places: the street, communities and grids, from the label points ----

function addPlace(kind, { id, code, name }, parentCode = null) {
  if (!LEVELS.includes(kind) || id === undefined || id === null) return;
  const place = { id, kind, code, name, parentCode };
  state.places.set(id, place);
  state.byCode.set(code, place);
}

async function loadPlaces() {
  const labels = await getJson('/api/v1/labels');
  for (const f of labels.features) {
    const p = f.properties;
    addPlace(p.kind, { id: f.id, code: p.code, name: p.name }, p.parent_code ?? null);
  }
}

function placeOf(level, id) {
  const place = state.places.get(id);
  return place?.kind === level ? place : null;
}

function parentOf(place) {
  return place?.parentCode ? state.byCode.get(place.parentCode) ?? null : null;
}

/** Whether the place `id` lies under (or is) the place `ancestorId`. */
function isUnder(id, ancestorId) {
  for (let p = state.places.get(id); p; p = parentOf(p)) if (p.id === ancestorId) return true;
  return false;
}

/** The communities the unit covers (a street's, a community itself, a grid's community). */
function communitiesOfUnit() {
  const { level, id } = state.unit;
  if (level === 'community') return [id];
  if (level === 'grid') return state.chain.community ? [state.chain.community] : [];
  return [...state.places.values()].filter((p) => p.kind === 'community' && isUnder(p.id, id)).map((p) => p.id);
}

/** The unit from the address, if it names one. */
function unitFromAddress() {
  const params = new URLSearchParams(window.location.search);
  const level = params.get('level');
  const id = Number(params.get('id'));
  if (!level && !params.has('id')) return null;
  if (LEVELS.includes(level) && Number.isInteger(id) && placeOf(level, id)) return { level, id };
  showMessage(`地址中的统计单位（${level ?? '?'} ${params.get('id') ?? '?'}）不存在，已显示第一个街道。`, 'warn');
  return null;
}

function firstStreet() {
  const streets = [...state.places.values()].filter((p) => p.kind === 'street').sort((a, b) => a.code.localeCompare(b.code));
  return streets.length ? { level: 'street', id: streets[0].id } : null;
}

// ---- the unit shown ----

/** Shows the street, community or grid `id`: its figures, panels and outline; the map fits it. */
async function setUnit(level, id, { fit = true } = {}) {
  const place = placeOf(level, id);
  if (!place) {
    showMessage('未找到该统计单位。', 'error');
    return;
  }
  state.unit = { level, id, code: place.code, name: place.name };
  const chain = {};
  for (let p = place; p; p = parentOf(p)) chain[p.kind] = p.id;
  // A unit chosen below this one (the grid clicked) stays one button away while it lies under it.
  for (const lower of LEVELS.slice(LEVELS.indexOf(level) + 1)) {
    const before = state.chain[lower];
    if (before && isUnder(before, id)) chain[lower] = before;
  }
  state.chain = chain;

  const url = new URL(window.location.href);
  url.searchParams.set('level', level);
  url.searchParams.set('id', String(id));
  window.history.replaceState(null, '', url);
  document.title = `${place.name} · 党建信息屏`;
  $('unit-name').textContent = place.name;
  $('unit-kind').textContent = `${LEVEL_NAMES[level]} · 党建信息屏`;
  for (const button of document.querySelectorAll('#levels button')) {
    const l = button.dataset.level;
    button.disabled = !chain[l];
    button.setAttribute('aria-pressed', String(l === level));
  }
  $('figures').dataset.state = 'loading';
  $('figures').dataset.unit = `${level}:${id}`;
  state.feed.clear();
  renderFeed();
  renderLowest();
  highlightUnit();
  await Promise.all([loadSummary(), loadBranches(), loadActivities(), showOutline(fit)]);
}

function onLevelButton(e) {
  const level = e.currentTarget.dataset.level;
  const id = state.chain[level];
  if (id && !(state.unit.level === level && state.unit.id === id)) setUnit(level, id);
}

// ---- the figures ----

async function loadSummary() {
  if (!state.unit) return;
  const { level, id } = state.unit;
  const t = ticket('summary');
  try {
    const { body } = await api(`/api/v1/stats/summary?level=${level}&id=${id}`);
    if (!current('summary', t)) return;
    renderFigures(body);
  } catch (e) {
    if (!current('summary', t) || (e instanceof ApiError && e.status === 401)) return;
    $('figures').dataset.state = 'error';
    showMessage(`读取统计数据失败：${e.message}`, 'error');
  }
}

function renderFigures(summary) {
  for (const node of document.querySelectorAll('#figures [data-figure]')) {
    const value = at(summary, node.dataset.figure);
    const raw = typeof value === 'number' ? value : null;
    node.dataset.value = raw === null ? '' : String(raw);
    const [number, unit] = formatFigure(raw, node.dataset.format);
    if (node.tagName === 'STRONG') node.replaceChildren(el('span', { class: 'num' }, number), unit ? el('span', { class: 'unit' }, unit) : '');
    else node.textContent = `${number}${unit}`;
    const figure = node.closest('.figure');
    if (node.tagName === 'STRONG' && figure.classList.contains('alert-when-positive')) figure.classList.toggle('alert', raw > 0);
  }
  const figures = $('figures');
  figures.dataset.unit = `${summary.level}:${summary.id}`;
  figures.dataset.state = 'ready';
  figures.dataset.version = String(Number(figures.dataset.version ?? 0) + 1);
  $('updated').textContent = `数据更新于 ${new Date().toLocaleTimeString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false })}`;
}

// ---- 先锋榜: cadres and branches ----

async function loadPioneers() {
  const t = ticket('pioneers');
  const list = $('pioneers-list');
  try {
    const { body } = await api(`/api/v1/stats/pioneers?days=${DAYS}`);
    if (!current('pioneers', t)) return;
    // Cadres with nothing to show in the window are not on the board.
    const rows = body.rows.filter((r) => r.on_site_visits > 0 || r.needs_met > 0).slice(0, 10);
    list.replaceChildren(
      ...(rows.length
        ? rows.map((r) =>
            el(
              'li',
              { 'data-user': r.user.id },
              el('span', { class: `rank rank-${r.rank}` }, String(r.rank)),
              el('span', { class: 'name' }, r.user.display_name || '（未填姓名）'),
              el('span', { class: 'value' }, `入户 ${r.on_site_visits}`, el('small', {}, ` · 解决需求 ${r.needs_met}`)),
            ),
          )
        : [el('li', { class: 'none' }, `近${DAYS}天暂无入户走访记录`)]),
    );
  } catch (e) {
    if (current('pioneers', t)) list.replaceChildren(el('li', { class: 'error' }, `读取失败：${e.message}`));
  }
}

async function loadBranches() {
  if (!state.unit) return;
  const t = ticket('branches');
  const list = $('branches-list');
  const { level } = state.unit;
  const communities = communitiesOfUnit();
  const one = level !== 'street' && communities.length === 1 ? communities[0] : null;
  $('branches-scope').textContent = `本季度出勤率 · ${one ? state.places.get(one)?.name ?? '' : state.unit.name}`;
  try {
    const { body } = await api(`/api/v1/stats/attendance?period=quarter${one ? `&community_id=${one}` : ''}`);
    if (!current('branches', t)) return;
    const quarter = currentQuarter();
    const rows = body.rows
      .filter((r) => r.period === quarter && (one || communities.includes(r.community_id)))
      .sort((a, b) => (b.rate ?? -1) - (a.rate ?? -1) || b.activities - a.activities || a.code.localeCompare(b.code))
      .slice(0, 8);
    list.replaceChildren(
      ...(rows.length
        ? rows.map((r, i) =>
            el(
              'li',
              { 'data-branch': r.code },
              el('span', { class: `rank rank-${i + 1}` }, String(i + 1)),
              el('span', { class: 'name' }, r.name),
              el('span', { class: 'value' }, r.rate === null ? '—' : `${percent(r.rate)}%`, el('small', {}, ` · ${r.activities} 次活动`)),
            ),
          )
        : [el('li', { class: 'none' }, '本季度暂无已完成的支部活动')]),
    );
  } catch (e) {
    if (current('branches', t)) list.replaceChildren(el('li', { class: 'error' }, `读取失败：${e.message}`));
  }
}

// ---- the latest activities' group photos ----

/** Whether the signed-in user reads the activities of community `id` (src/app/access.rs reads_feed). */
function readsFeed(id) {
  const user = currentSession()?.user;
  return user?.role === 'admin' || (user?.role === 'secretary' && user.community_id === id);
}

async function loadActivities() {
  if (!state.unit) return;
  const t = ticket('activities');
  const box = $('activities-list');
  const quiet = () => box.replaceChildren(el('p', { class: 'quiet' }, '仅本社区书记可见'));
  const communities = communitiesOfUnit().filter(readsFeed);
  if (!communities.length) {
    quiet();
    return;
  }
  const pages = await Promise.all(
    communities.map((id) =>
      api(`/api/v1/communities/${id}/feed?limit=6`).then(
        ({ body }) => body.activities,
        (e) => (e instanceof ApiError && e.status === 403 ? null : Promise.reject(e)),
      ),
    ),
  ).catch((e) => e);
  if (!current('activities', t)) return;
  if (pages instanceof Error) {
    box.replaceChildren(el('p', { class: 'error' }, `读取活动失败：${pages.message}`));
    return;
  }
  if (pages.every((p) => p === null)) {
    quiet();
    return;
  }
  const shown = pages
    .flat()
    .filter((a) => a?.photos?.some((p) => p.kind === 'group'))
    .sort((a, b) => Date.parse(b.held_at) - Date.parse(a.held_at))
    .slice(0, 6);
  box.replaceChildren(
    ...(shown.length
      ? shown.map((a) => {
          const photo = a.photos.find((p) => p.kind === 'group');
          return el(
            'figure',
            { 'data-activity': a.id },
            el('img', { src: photo.thumbnail_url, alt: `${a.theme}（合影）`, loading: 'lazy' }),
            el(
              'figcaption',
              {},
              el('strong', {}, a.theme),
              el('span', {}, `${a.branch?.name ?? ''} · ${a.type_name ?? ''}`),
              el('span', {}, `${formatTime(a.held_at)}${typeof a.attendance_rate === 'number' ? ` · 出勤 ${percent(a.attendance_rate)}%` : ''}`),
            ),
          );
        })
      : [el('p', { class: 'quiet' }, '近期暂无活动合影')]),
  );
}

// ---- coverage by grid, and the grids that lag ----

async function loadCoverage() {
  const t = ticket('coverage');
  try {
    const { body } = await api(`/api/v1/stats/coverage?level=grid&days=${DAYS}`);
    if (!current('coverage', t)) return;
    state.coverage = body.rows;
  } catch (e) {
    if (current('coverage', t)) showMessage(`读取走访覆盖率失败：${e.message}`, 'error');
    return;
  }
  renderLowest();
  await layersReady;
  const match = ['match', ['get', 'code']];
  for (const row of state.coverage) match.push(row.code, row.households ? coverageColour(row.coverage) : NO_HOUSEHOLDS);
  match.push(NO_HOUSEHOLDS);
  map.setPaintProperty('screen-coverage', 'fill-color', state.coverage.length ? match : NO_HOUSEHOLDS);
}

/** The unit's grids with the lowest coverage (a grid's code starts with its community's). */
function renderLowest() {
  const list = $('lowest-list');
  if (!state.unit) return;
  const rows = state.coverage
    .filter((r) => r.households > 0 && r.code.startsWith(state.unit.code))
    .sort((a, b) => a.coverage - b.coverage || a.code.localeCompare(b.code))
    .slice(0, 5);
  list.replaceChildren(
    ...(rows.length
      ? rows.map((r) => {
          const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
          dot.style.background = coverageColour(r.coverage); // the CSP refuses style attributes, not the CSSOM
          return el(
            'li',
            { 'data-grid': r.code },
            dot,
            el('span', { class: 'name' }, r.name),
            el('span', { class: 'value' }, `${percent(r.coverage)}%`, el('small', {}, ` · ${r.visited}/${r.households} 户`)),
          );
        })
      : [el('li', { class: 'none' }, state.coverage.length ? '没有住户数据' : '正在读取…')]),
  );
}

// ---- open requests: heatmap and live feed ----

async function loadHeat() {
  const t = ticket('heat');
  try {
    // The public list: where and what, never who.
    const { body } = await api('/open311/v2/requests.json?status=open');
    if (!current('heat', t)) return;
    state.openRequests = body.filter((r) => Number.isFinite(r.long) && Number.isFinite(r.lat));
  } catch (e) {
    if (current('heat', t)) showMessage(`读取诉求分布失败：${e.message}`, 'error');
    return;
  }
  $('heat-count').textContent = `${state.openRequests.length} 件`;
  $('heat-count').dataset.count = String(state.openRequests.length);
  seedFeed();
  await layersReady;
  map.getSource('screen-heat').setData({
    type: 'FeatureCollection',
    features: state.openRequests.map((r) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: toMap([r.long, r.lat]) }, properties: {} })),
  });
}

/** The feed's first lines: the unit's open requests of the public list, newest first. */
function seedFeed() {
  const outline = shownOutline;
  if (!outline) return;
  let added = false;
  for (const r of state.openRequests) {
    const id = Number(r.service_request_id);
    if (state.feed.has(id) || !contains(outline, [r.long, r.lat])) continue;
    state.feed.set(id, {
      id,
      at: Date.parse(r.updated_datetime || r.requested_datetime),
      title: r.service_name,
      status: r.status_notes || '未办结',
      where: r.agency_responsible,
      description: r.description,
      fresh: false,
    });
    added = true;
  }
  if (added) renderFeed();
}

function renderFeed() {
  const entries = [...state.feed.values()].sort((a, b) => b.at - a.at).slice(0, FEED_MAX);
  $('live-list').replaceChildren(
    ...(entries.length
      ? entries.map((e) =>
          el(
            'li',
            { class: e.fresh ? 'fresh' : '', 'data-request': e.id },
            el('time', {}, Number.isFinite(e.at) ? formatTime(new Date(e.at).toISOString()).slice(5) : ''),
            el('strong', {}, e.title ?? '诉求'),
            el('span', { class: 'badge' }, e.status),
            e.where ? el('span', { class: 'where' }, e.where) : '',
            e.description ? el('p', {}, e.description) : '',
          ),
        )
      : [el('li', { class: 'none' }, '暂无未办结的诉求，新的诉求会实时显示在这里。')]),
  );
}

/** Whether a request's spot ({street_id, community_id, grid_id}) lies in the unit shown. */
function inUnit(spot) {
  return Boolean(state.unit && spot && spot[`${state.unit.level}_id`] === state.unit.id);
}

/** One `request` event: the request as staff read it, plus `notice`. No reporter is shown. */
function onRequestEvent(request) {
  if (inUnit(request.spot)) {
    for (const entry of state.feed.values()) entry.fresh = false;
    state.feed.set(request.id, {
      id: request.id,
      at: Date.parse(request.updated_at ?? request.requested_at),
      title: request.category_name ?? request.category,
      status: `${NOTICE_NAMES[request.notice] ?? ''} · ${STATE_NAMES[request.state] ?? request.state}`,
      where: state.places.get(request.spot.grid_id)?.name ?? '',
      description: request.description,
      fresh: true,
    });
    renderFeed();
  }
  refreshSoon();
}

/** Re-reads the figures and the heatmap once, a moment after the first of several events. */
function refreshSoon() {
  if (state.timers.soon) return;
  state.timers.soon = setTimeout(() => {
    state.timers.soon = null;
    loadSummary();
    loadHeat();
  }, EVENT_DELAY_MS);
}

// ---- the event stream (server-sent events over fetch) ----

/** A parser of the text/event-stream format: call it with each chunk; it calls `dispatch(event, data)`. */
function eventParser(dispatch) {
  let buffer = '';
  let event = '';
  let data = [];
  return (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (let line of lines) {
      if (line.endsWith('\r')) line = line.slice(0, -1);
      if (line === '') {
        if (data.length) dispatch(event || 'message', data.join('\n'));
        event = '';
        data = [];
      } else if (!line.startsWith(':')) {
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        let value = colon < 0 ? '' : line.slice(colon + 1);
        if (value.startsWith(' ')) value = value.slice(1);
        if (field === 'event') event = value;
        else if (field === 'data') data.push(value);
      }
    }
  };
}

function onServerEvent(event, data) {
  if (event === 'request') {
    try {
      onRequestEvent(JSON.parse(data));
    } catch (e) {
      console.warn(`an unreadable request event: ${e.message}`);
    }
  } else if (event === 'lagged') {
    // Missed some: the figures say where things stand.
    refreshSoon();
  }
}

function setLive(kind, text) {
  const badge = $('live-status');
  badge.dataset.state = kind;
  badge.textContent = text;
}

function stopStream() {
  clearTimeout(state.timers.reconnect);
  clearInterval(state.timers.poll);
  state.stream?.abort();
  state.stream = null;
}

async function listen() {
  stopStream();
  const session = currentSession();
  if (!session) return;
  if (!STREAM_ROLES.includes(session.user.role)) {
    setLive('off', '定时刷新');
    state.timers.poll = setInterval(() => {
      loadSummary();
      loadHeat();
    }, POLL_MS);
    return;
  }
  const controller = new AbortController();
  state.stream = controller;
  setLive('connecting', state.streamEverOpen ? '重新连接中' : '连接中');
  let opened = 0;
  try {
    const res = await fetch('/api/v1/me/events', {
      headers: { authorization: `Bearer ${session.token}`, accept: 'text/event-stream' },
      cache: 'no-store',
      signal: controller.signal,
    });
    if (res.status === 401) {
      // The login ended: api() ends the session in the page, which shows the sign-in.
      await api('/api/v1/me').catch(() => {});
      return;
    }
    if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
    opened = Date.now();
    setLive('open', '实时');
    // Events may have come while the stream was down: the figures catch up.
    if (state.streamEverOpen) refreshSoon();
    state.streamEverOpen = true;
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    const parse = eventParser(onServerEvent);
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      parse(value);
    }
  } catch (e) {
    if (controller.signal.aborted) return;
    console.warn(`event stream: ${e.message}`);
  }
  if (controller.signal.aborted || state.stream !== controller) return;
  // The stream ended (a restart, a proxy's timeout): again, after a wait that doubles.
  if (opened && Date.now() - opened >= STREAM_STEADY_MS) state.backoff = BACKOFF_MIN_MS;
  const wait = state.backoff;
  state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
  setLive('connecting', `${Math.round(wait / 1000)} 秒后重新连接`);
  state.timers.reconnect = setTimeout(listen, wait);
}

// ---- the map ----

/** The outline of a unit {level, id} (WGS84, from the OGC API), or null; read once. */
function outlineOf({ level, id }) {
  const key = `${level}:${id}`;
  if (!state.outlines.has(key)) {
    const code = state.places.get(id)?.code ?? '';
    const read = getJson(`/ogc/collections/${COLLECTIONS[level]}/items?code=${encodeURIComponent(code)}&limit=1`).then(
      (fc) => fc.features[0]?.geometry ?? null,
      (e) => {
        console.warn(`outline of ${key}: ${e.message}`);
        state.outlines.delete(key); // asked again next time
        return null;
      },
    );
    state.outlines.set(key, read);
  }
  return state.outlines.get(key);
}

/** The outline of the unit shown, once read; null before. */
let shownOutline = null;

/** The unit's outline: the feed's first lines are the open requests in it; the map fits it. */
async function showOutline(fit) {
  const unit = state.unit;
  shownOutline = null;
  const outline = await outlineOf(unit);
  if (!outline || state.unit !== unit) return;
  shownOutline = outline;
  seedFeed();
  if (!fit) return;
  await layersReady;
  if (state.unit !== unit) return;
  fitUnit(state.fitted ? 1200 : 0);
}

/** The padding around a unit fitted on the map, in pixels: a little on a phone, more on a wall. */
function fitPadding(box) {
  return Math.round(Math.min(box.clientWidth, box.clientHeight) * 0.06);
}

/** Fits the map to the unit shown, tilted as it is. */
function fitUnit(duration) {
  if (!shownOutline || !map) return;
  const [w, s, e, n] = bbox(shownOutline);
  map.fitBounds([toMap([w, s]), toMap([e, n])], { padding: fitPadding(map.getContainer()), pitch: map.getPitch(), bearing: map.getBearing(), maxZoom: 17.5, duration });
  state.fitted = true;
  state.movedByHand = false;
  // How many times the map was fitted, for the tests.
  $('stage').dataset.fits = String(Number($('stage').dataset.fits ?? 0) + 1);
}

function highlightUnit() {
  if (!map?.getLayer('screen-unit-grid')) return;
  for (const level of LEVELS) map.setFilter(`screen-unit-${level}`, ['==', ['get', 'code'], state.unit?.level === level ? state.unit.code : '']);
}

/** The screen's own layers: coverage under the grid lines, the heat, the unit's outline on top. */
function addLayers(k) {
  if (map.getSource('grids')) {
    map.addLayer(
      { id: 'screen-coverage', type: 'fill', source: 'grids', 'source-layer': 'grids', paint: { 'fill-color': NO_HOUSEHOLDS, 'fill-opacity': 0.7 } },
      map.getLayer('grids-line') ? 'grids-line' : undefined,
    );
  }
  const heatRadius = ['interpolate', ['linear'], ['zoom'], 12, 16, 15, 32, 18, 70];
  const outlineWidth = ['interpolate', ['linear'], ['zoom'], 12, 3, 18, 7];
  scalable.push(['screen-heat', 'paint', 'heatmap-radius', heatRadius], ...LEVELS.map((l) => [`screen-unit-${l}`, 'paint', 'line-width', outlineWidth]));
  map.addSource('screen-heat', { type: 'geojson', data: { type: 'FeatureCollection', features: [] } });
  map.addLayer({
    id: 'screen-heat',
    type: 'heatmap',
    source: 'screen-heat',
    paint: {
      'heatmap-radius': scaled(heatRadius, k),
      'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 12, 0.9, 18, 2],
      'heatmap-opacity': 0.8,
      // Blues and violets, so as not to be read as the coverage's reds and greens.
      'heatmap-color': [
        'interpolate', ['linear'], ['heatmap-density'],
        0, 'rgba(158,202,225,0)', 0.2, '#9ecae1', 0.4, '#6baed6', 0.6, '#3f6fc4', 0.8, '#5a3aa6', 1, '#3f007d',
      ],
    },
  });
  const colours = { street: '#7b1fa2', community: '#b71c1c', grid: '#d84315' };
  for (const level of LEVELS) {
    const source = COLLECTIONS[level];
    if (!map.getSource(source)) continue;
    map.addLayer({
      id: `screen-unit-${level}`,
      type: 'line',
      source,
      'source-layer': source,
      filter: ['==', ['get', 'code'], ''],
      layout: { 'line-join': 'round' },
      paint: { 'line-color': colours[level], 'line-width': scaled(outlineWidth, k) },
    });
  }
  highlightUnit();
}

async function onMapClick(e) {
  if (!currentSession()) return;
  const t = ticket('lookup');
  try {
    const { body } = await api(`/api/v1/lookup?${lookupQuery([e.lngLat.lng, e.lngLat.lat], state.crs)}`);
    if (!current('lookup', t)) return;
    if (!body.grid) {
      showMessage('该位置不在任何网格内。', 'warn');
      return;
    }
    // A grid made after the page opened is not among the label points yet.
    if (body.street && !state.places.has(body.street.id)) addPlace('street', body.street, null);
    if (body.community && !state.places.has(body.community.id)) addPlace('community', body.community, body.street?.code);
    if (!state.places.has(body.grid.id)) addPlace('grid', body.grid, body.community?.code);
    state.chain = { street: body.street?.id, community: body.community?.id, grid: body.grid.id };
    await setUnit('grid', body.grid.id);
  } catch (err) {
    if (current('lookup', t)) showMessage(`查询所在网格失败：${err.message}`, 'error');
  }
}

function applySwitches() {
  if (!map.getLayer('screen-heat')) return;
  map.setLayoutProperty('screen-heat', 'visibility', $('layer-heat').checked ? 'visible' : 'none');
  if (map.getLayer('screen-coverage')) map.setLayoutProperty('screen-coverage', 'visibility', $('layer-coverage').checked ? 'visible' : 'none');
  $('coverage-legend').hidden = !$('layer-coverage').checked;
  $('heat-legend').hidden = !$('layer-heat').checked;
}

function buildLegend() {
  $('coverage-legend').replaceChildren(
    ...[...COVERAGE_CLASSES.map(([, c, label]) => [c, label]), [NO_HOUSEHOLDS, '无住户']].map(([colour, label]) => {
      const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
      dot.style.background = colour;
      return el('span', { class: 'key' }, dot, label);
    }),
  );
}

/**
 * A size of the style (a number, or an interpolation over the zoom of numbers) times `k`: a wall
 * screen is read from metres away, so its labels are drawn larger than a desktop's.
 */
function scaled(size, k) {
  if (typeof size === 'number') return size * k;
  if (Array.isArray(size) && size[0] === 'interpolate') {
    // ['interpolate', type, input, stop, output, stop, output, …]: the outputs are scaled.
    return size.map((v, i) => (i >= 4 && i % 2 === 0 && typeof v === 'number' ? v * k : v));
  }
  return size;
}

/** Labels are drawn up to twice as large on a wide screen (1 up to 1,600 pixels, 2 from 3,200). */
function labelScale() {
  return Math.min(2, Math.max(1, window.innerWidth / 1600));
}

/** The sizes that follow the screen: [layer, 'layout' or 'paint', property, size at scale 1]. */
const scalable = [];
let drawnScale = 1;

/** Sizes the labels, the heat and the unit's outline for the screen's width again. */
function rescale() {
  const k = labelScale();
  if (Math.abs(k - drawnScale) < 0.05) return;
  drawnScale = k;
  for (const [layer, kind, property, size] of scalable) {
    if (!map.getLayer(layer)) continue;
    if (kind === 'layout') map.setLayoutProperty(layer, property, scaled(size, k));
    else map.setPaintProperty(layer, property, scaled(size, k));
  }
}

async function makeMap(first) {
  const [tilejson, outline] = await Promise.all([loadTileJson(state.crs), first ? outlineOf(first) : null]);
  const b = tilejson.grids?.bounds;
  const hasData = b && b[2] - b[0] < 5 && b[3] - b[1] < 5;
  const style = buildStyle({ origin, tilejson, crs: state.crs, basemap: config.basemap, lat: hasData ? (b[1] + b[3]) / 2 : 36 });
  const k = labelScale();
  drawnScale = k;
  // Not on the screen: households (nothing personal on a wall) and the needs, whose tiles would
  // only be read for nothing.
  for (const source of ['households', 'needs']) delete style.sources[source];
  style.layers = style.layers.filter((layer) => style.sources[layer.source] || layer.type === 'background');
  // The screen is always in 3D: buildings extruded by their height.
  for (const layer of style.layers) {
    if (layer.id === 'buildings-2d') layer.layout = { ...layer.layout, visibility: 'none' };
    if (layer.id === 'buildings-3d') layer.layout = { ...layer.layout, visibility: 'visible' };
    if (layer.type === 'symbol' && layer.layout?.['text-size'] !== undefined) {
      scalable.push([layer.id, 'layout', 'text-size', layer.layout['text-size']]);
      layer.layout = { ...layer.layout, 'text-size': scaled(layer.layout['text-size'], k) };
    }
  }
  // The first view: the unit asked for (fitted again once the layout has settled), else the data.
  let bounds = hasData ? b : null;
  if (outline) {
    const [w, s, e, n] = bbox(outline);
    bounds = [...toMap([w, s]), ...toMap([e, n])];
  }
  map = new maplibregl.Map({
    container: 'screen-map',
    style,
    // The camera fitUnit() gives, so that the tiles of the first view are the ones kept.
    ...(bounds ? { bounds, fitBoundsOptions: { padding: fitPadding($('screen-map')), pitch: PITCH, bearing: BEARING } } : { center: [105, 35], zoom: 3 }),
    pitch: PITCH,
    bearing: BEARING,
    maxPitch: 70,
    attributionControl: { compact: true, customAttribution: '网格 wangge' },
    transformRequest: tileRequestTransform(origin, state.crs),
  });
  window.map = map; // for the browser tests and the console
  map.once('load', () => {
    addLayers(k);
    applySwitches();
    layersLoaded();
  });
  // A screen turned, a window resized: the unit is fitted again, unless moved by hand since.
  let refit = null;
  map.on('movestart', (e) => (state.movedByHand ||= Boolean(e.originalEvent)));
  map.on('resize', () => {
    clearTimeout(refit);
    refit = setTimeout(() => {
      rescale();
      if (!state.movedByHand) fitUnit(0);
    }, 150);
  });
  map.addControl(new maplibregl.NavigationControl({ visualizePitch: true }), 'top-right');
  map.on('click', onMapClick);
  map.on('mouseenter', 'grids-fill', () => (map.getCanvas().style.cursor = 'pointer'));
  map.on('mouseleave', 'grids-fill', () => (map.getCanvas().style.cursor = ''));
  reportMapErrors(map);
  if (!hasData) showMessage('数据库中还没有网格数据：请先导入（wangge import）或以 --demo 启动。', 'warn');
}

// ---- start, and the session ----

function refreshAll() {
  // A session that ran out meanwhile: back to the sign-in.
  if (!currentSession()) {
    onSession();
    return;
  }
  loadSummary();
  loadHeat();
  loadCoverage();
  loadPioneers();
  loadBranches();
  loadActivities();
}

function onSession() {
  const session = currentSession();
  document.body.classList.toggle('signed-out', !session);
  if (!session) {
    stopStream();
    clearInterval(state.timers.refresh);
    state.started = false;
    setLive('off', '未连接');
    if ($('signin-form').hidden) $('signin-open').click();
    return;
  }
  if (state.started) return;
  state.started = true;
  state.backoff = BACKOFF_MIN_MS;
  const unit = state.unit ?? unitFromAddress() ?? firstStreet();
  if (unit) setUnit(unit.level, unit.id);
  else showMessage('没有街道数据。', 'warn');
  if (!map) {
    makeMap(unit).catch((e) => {
      console.error(e);
      showMessage(`地图启动失败：${e.message}`, 'error');
    });
  }
  loadPioneers();
  loadCoverage();
  loadHeat();
  listen();
  state.timers.refresh = setInterval(refreshAll, REFRESH_MS);
}

function tick() {
  $('clock-time').textContent = new Date().toLocaleString('zh-CN', {
    timeZone: 'Asia/Shanghai',
    hour12: false,
    month: 'long',
    day: 'numeric',
    weekday: 'short',
    hour: '2-digit',
    minute: '2-digit',
  });
}

async function start() {
  initAccount();
  document.body.classList.toggle('signed-out', !currentSession());
  if (!currentSession()) $('signin-open').click();
  tick();
  setInterval(tick, 15_000);
  buildLegend();
  for (const button of document.querySelectorAll('#levels button')) button.addEventListener('click', onLevelButton);
  $('layer-heat').addEventListener('change', applySwitches);
  $('layer-coverage').addEventListener('change', applySwitches);
  const [settings] = await Promise.all([
    getJson('/api/v1/web-config').catch((e) => showMessage(`读取地图配置失败：${e.message}`, 'error')),
    loadPlaces(),
  ]);
  if (settings) config = settings;
  state.crs = config.map_crs;
  window.addEventListener('wangge:session', onSession);
  onSession();
}

start().catch((e) => {
  console.error(e);
  showMessage(`信息屏启动失败：${e.message}`, 'error');
});
