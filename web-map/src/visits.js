// 我的走访 for a signed-in cadre, made for a phone at the door: the households due a visit in
// the areas they hold, in walking order from where they stand (GET /api/v1/me/visits/due), drawn
// as numbered stops joined by a line and coloured by how long since the last visit at the door;
// the list of stops; and the visit form (民情日记), which takes the phone's position and its
// accuracy and says whether the server counted the visit as made on site.
//
// A visit is written to the phone first (outbox.js, IndexedDB) and then sent with its own
// Idempotency-Key; without a network it waits there and goes when the browser is back online
// (the 'online' event, and at every start of the page).

import { api, ApiError, currentSession, hasRole } from './api.js';
import { wgs84ToGcj02 } from './geo.js';
import * as outbox from './outbox.js';
import { FONT_BOLD } from './style.js';
import { $, el, formatTime, revealPanel, showMessage } from './ui.js';
import { AGE_CLASSES, NEED_TYPES, TAG_NAMES, formatMetres, stopName, stopsOf } from './walk.js';

/** {map, crs} from main.js. */
let ctx;

const state = {
  /** The stops of the loaded walk (walk.js stopsOf), [] when none is loaded. */
  stops: [],
  /** The household the form is open for. */
  household: null,
  /** The form's position: a promise of {lon, lat, accuracy_m[, crs]}. */
  position: null,
  /** What this page knows was recorded per household id: {status, on_site, distance_m}. */
  recorded: new Map(),
  /** Keys of the records being sent right now (the form and a flush must not race on one). */
  sending: new Set(),
  flushing: null,
  /** How many records were waiting at the last look, to say when they have all gone. */
  waiting: 0,
};

const WALK_LAYERS = ['walk-line', 'walk-start', 'walk-stops', 'walk-stops-label'];
const DONE_COLOUR = '#1a9850';

export function initVisits(context) {
  ctx = context;
  $('visit-needs').append(
    ...NEED_TYPES.map(([type, label]) => el('label', {}, el('input', { type: 'checkbox', name: 'need', value: type }), label)),
  );
  $('walk-legend').replaceChildren(
    el('span', { class: 'meta' }, '距上次入户：'),
    ...[...AGE_CLASSES.map((c) => [c.label, c.colour]), ['已走访', DONE_COLOUR]].map(([label, colour]) => {
      const dot = el('span', { class: 'dot', 'aria-hidden': 'true' });
      dot.style.background = colour; // through the CSSOM: the CSP refuses style attributes
      return el('span', { class: 'age' }, dot, label);
    }),
  );
  $('walk-load').addEventListener('click', () => loadWalk().catch((e) => walkStatus(`读取失败：${e.message}`, 'error')));
  $('visit-form').addEventListener('submit', (e) => {
    e.preventDefault();
    save().catch((err) => showResult(`保存失败：${err.message}`, 'error'));
  });
  $('visit-cancel').addEventListener('click', closeForm);
  // Back online: send what waited. (The 'offline' event needs nothing: a send finds out itself.)
  window.addEventListener('online', () => flush());
  window.addEventListener('wangge:session', render);
  render();
}

function render() {
  const cadre = hasRole('cadre');
  $('visits').hidden = !cadre;
  $('walk-load').hidden = !cadre;
  if (!cadre) {
    clearWalk();
    closeForm();
    state.recorded.clear();
    return;
  }
  outbox
    .pruneReceipts()
    .then(() => flush())
    .catch((e) => console.error(`visit outbox: ${e.message}`));
}

function walkStatus(text, kind = '') {
  $('walk-status').textContent = text;
  $('walk-status').className = `hint ${kind}`;
}

/** [lon, lat] of the API (WGS84) in the map's CRS. */
function toMap(p) {
  return ctx.crs === 'gcj02' ? wgs84ToGcj02(p) : p;
}

/**
 * The phone's position: {coords} or {reason} in Chinese. Browsers offer geolocation only to
 * HTTPS and localhost pages; a refusal or a timeout is not an error here, the callers fall back.
 */
function geolocate({ maximumAge }) {
  return new Promise((resolve) => {
    if (!window.isSecureContext || !('geolocation' in navigator)) {
      resolve({ reason: '此页面无法使用浏览器定位' });
      return;
    }
    navigator.geolocation.getCurrentPosition(
      (p) => resolve({ coords: p.coords }),
      (err) => resolve({ reason: { 1: '定位被拒绝', 2: '定位服务不可用', 3: '定位超时' }[err.code] ?? '定位失败' }),
      { enableHighAccuracy: true, timeout: 15000, maximumAge },
    );
  });
}

// ---- the walk ----

async function loadWalk() {
  closeForm();
  revealPanel($('visits'));
  walkStatus('正在定位…');
  const here = await geolocate({ maximumAge: 60_000 });
  const params = new URLSearchParams();
  let from = '从您的位置出发';
  if (here.coords) {
    // The Geolocation API reports WGS84 whatever the map shows: sent without crs.
    params.set('lon', String(here.coords.longitude));
    params.set('lat', String(here.coords.latitude));
  } else {
    const c = ctx.map.getCenter();
    params.set('lon', String(c.lng));
    params.set('lat', String(c.lat));
    if (ctx.crs !== 'wgs84') params.set('crs', ctx.crs);
    from = `${here.reason}，从地图中心出发`;
  }
  walkStatus('正在读取到期住户…');
  const { body } = await api(`/api/v1/me/visits/due?${params}`);
  state.stops = stopsOf(body.features);
  const households = body.features.length;
  $('walk-summary').textContent = households ? `${households} 户 · ${state.stops.length} 处 · 步行约 ${formatMetres(body.walk_m)}` : '';
  walkStatus(households ? `${from}，按步行顺序排列。` : '没有到期应走访的住户（或尚未认领责任田）。', households ? '' : 'none');
  renderList();
  await drawWalk(body.start);
  if (state.stops.length) {
    const points = [body.start, ...state.stops.map((s) => s.coordinates)].map(toMap);
    const lons = points.map((p) => p[0]);
    const lats = points.map((p) => p[1]);
    ctx.map.fitBounds(
      [
        [Math.min(...lons), Math.min(...lats)],
        [Math.max(...lons), Math.max(...lats)],
      ],
      { padding: 40, maxZoom: 18, duration: 800 },
    );
  }
}

/** The walk as GeoJSON in the map's CRS: the line from the start through every stop, the stops. */
function walkGeoJson(start) {
  const stops = state.stops.map((s) => ({
    type: 'Feature',
    geometry: { type: 'Point', coordinates: toMap(s.coordinates) },
    properties: { kind: 'stop', n: s.n, households: s.households.length, colour: stopDone(s) ? DONE_COLOUR : s.age.colour },
  }));
  const features = [...stops];
  if (start && stops.length) {
    features.unshift(
      { type: 'Feature', geometry: { type: 'LineString', coordinates: [toMap(start), ...stops.map((f) => f.geometry.coordinates)] }, properties: { kind: 'line' } },
      { type: 'Feature', geometry: { type: 'Point', coordinates: toMap(start) }, properties: { kind: 'start' } },
    );
  }
  return { type: 'FeatureCollection', features };
}

function stopDone(stop) {
  return stop.households.every((h) => state.recorded.get(h.id)?.on_site);
}

async function drawWalk(start) {
  const { map } = ctx;
  if (!map.isStyleLoaded()) await new Promise((resolve) => map.once('load', resolve));
  state.start = start;
  const data = walkGeoJson(start);
  const source = map.getSource('walk');
  if (source) {
    source.setData(data);
    return;
  }
  map.addSource('walk', { type: 'geojson', data });
  map.addLayer({
    id: 'walk-line',
    type: 'line',
    source: 'walk',
    filter: ['==', ['get', 'kind'], 'line'],
    layout: { 'line-join': 'round', 'line-cap': 'round' },
    paint: { 'line-color': '#1565c0', 'line-width': 3, 'line-opacity': 0.8, 'line-dasharray': [2, 1.5] },
  });
  map.addLayer({
    id: 'walk-start',
    type: 'circle',
    source: 'walk',
    filter: ['==', ['get', 'kind'], 'start'],
    paint: { 'circle-radius': 7, 'circle-color': '#1565c0', 'circle-stroke-color': '#fff', 'circle-stroke-width': 3 },
  });
  map.addLayer({
    id: 'walk-stops',
    type: 'circle',
    source: 'walk',
    filter: ['==', ['get', 'kind'], 'stop'],
    paint: { 'circle-radius': 11, 'circle-color': ['get', 'colour'], 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 },
  });
  map.addLayer({
    id: 'walk-stops-label',
    type: 'symbol',
    source: 'walk',
    filter: ['==', ['get', 'kind'], 'stop'],
    layout: {
      'text-field': ['to-string', ['get', 'n']],
      'text-font': FONT_BOLD,
      'text-size': 12,
      // Where stops crowd (the entrances of one building) the earlier stop keeps its number.
      'symbol-sort-key': ['get', 'n'],
    },
    paint: { 'text-color': '#fff', 'text-halo-color': 'rgba(0,0,0,0.35)', 'text-halo-width': 0.8 },
  });
}

function clearWalk() {
  state.stops = [];
  if (ctx.map.getSource('walk')) {
    for (const id of WALK_LAYERS) if (ctx.map.getLayer(id)) ctx.map.removeLayer(id);
    ctx.map.removeSource('walk');
  }
  $('walk-list').replaceChildren();
  $('walk-list').hidden = true;
  $('walk-legend').hidden = true;
  $('walk-summary').textContent = '';
}

/** Redraws the stops' colours after a visit. */
function redrawStops() {
  ctx.map.getSource('walk')?.setData(walkGeoJson(state.start));
}

function renderList() {
  const list = $('walk-list');
  list.replaceChildren(...state.stops.map(stopItem));
  list.hidden = !state.stops.length;
  $('walk-legend').hidden = !state.stops.length;
  // The first stop is where the cadre goes now: open.
  const first = list.querySelector('details');
  if (first) first.open = true;
}

function stopItem(stop) {
  const badge = el('span', { class: 'stop-n' }, String(stop.n));
  badge.style.background = stopDone(stop) ? DONE_COLOUR : stop.age.colour;
  const households = el('ul', { class: 'households' });
  const details = el(
    'details',
    {
      // The households of a stop are built when it is opened: a walk has hundreds.
      ontoggle: () => details.open && !households.childElementCount && households.append(...stop.households.map((h) => householdItem(h, stop))),
    },
    el('summary', {}, badge, el('strong', {}, stopName(stop)), el('span', { class: 'meta' }, `${stop.households.length} 户 · ${stop.age.label}`)),
    households,
  );
  return el('li', { class: 'stop', 'data-stop': stop.n }, details);
}

function householdItem(h, stop) {
  const where = h.unit ? `${h.unit}单元${h.room ?? ''}` : h.address;
  const last = h.last_on_site_visit_at ? `上次入户 ${formatTime(h.last_on_site_visit_at)}（${h.days} 天前）` : '从未入户走访';
  return el(
    'li',
    { 'data-household': h.id },
    el(
      'div',
      { class: 'who' },
      el('strong', {}, h.head_name),
      ' ',
      el('span', { class: 'meta' }, where),
      ...(h.tags ?? []).map((t) => el('span', { class: 'tag' }, TAG_NAMES[t] ?? t)),
    ),
    el('div', { class: 'meta' }, last),
    el('div', { class: 'recorded' }, recordedText(state.recorded.get(h.id))),
    el(
      'div',
      { class: 'actions' },
      h.phone ? el('a', { href: `tel:${h.phone}`, class: 'tel' }, h.phone) : null,
      el('button', { type: 'button', class: 'visit primary', onclick: () => openForm(h, stop) }, '走访'),
    ),
  );
}

function recordedText(r) {
  if (!r) return '';
  if (r.status === 'queued') return '已记录，待联网发送';
  return `已走访 · ${onSiteText(r)}`;
}

function onSiteText(r) {
  return `${r.on_site ? '在现场' : '不在现场'}（距离 ${Math.round(r.distance_m)} 米）`;
}

/** Marks a household in the list and on the map once a visit of it is recorded. */
function markRecorded(householdId, r) {
  state.recorded.set(householdId, r);
  const item = document.querySelector(`#walk-list li[data-household="${householdId}"]`);
  if (item) {
    item.classList.toggle('done', r.status === 'sent');
    item.querySelector('.recorded').textContent = recordedText(r);
  }
  const stop = state.stops.find((s) => s.households.some((h) => h.id === householdId));
  if (stop) {
    document.querySelector(`#walk-list li[data-stop="${stop.n}"] .stop-n`).style.background = stopDone(stop) ? DONE_COLOUR : stop.age.colour;
    redrawStops();
  }
}

/** A click on a numbered stop opens it in the list instead of asking which grid is there. */
export function visitsTakesClick(e) {
  if (!ctx?.map.getLayer('walk-stops')) return false;
  const hit = ctx.map.queryRenderedFeatures(e.point, { layers: ['walk-stops'] })[0];
  if (!hit) return false;
  const item = document.querySelector(`#walk-list li[data-stop="${hit.properties.n}"]`);
  if (item) {
    closeForm();
    const details = item.querySelector('details');
    details.open = true;
    revealPanel(item);
  }
  return true;
}

// ---- the visit form ----

function openForm(h, stop) {
  state.household = h;
  ctx.map.easeTo({ center: toMap(stop.coordinates), zoom: Math.max(ctx.map.getZoom(), 17), duration: 600 });
  $('visit-form').reset();
  $('visit-result').hidden = true;
  $('visit-save').disabled = false;
  $('visit-household').replaceChildren(
    el('div', {}, el('strong', {}, h.head_name), ...(h.tags ?? []).map((t) => el('span', { class: 'tag' }, TAG_NAMES[t] ?? t))),
    el('div', { class: 'meta' }, h.address),
    h.phone ? el('a', { href: `tel:${h.phone}`, class: 'tel' }, h.phone) : '',
  );
  $('walk-list').hidden = true;
  $('walk-legend').hidden = true;
  $('visit-form').hidden = false;
  revealPanel($('visit-form'));
  // The position is taken as the form opens, at the door, with the accuracy the phone states:
  // the server counts a visit on site within 50 m plus that accuracy (capped at 100 m). A fresh
  // fix, never a cached one: a fix from a few seconds ago was taken on the way, not at this door.
  $('visit-position').textContent = '正在定位…';
  state.position = geolocate({ maximumAge: 0 }).then(({ coords, reason }) => {
    if (coords) {
      const accuracy = Math.round(coords.accuracy * 10) / 10;
      $('visit-position').textContent = `已定位，精度约 ${Math.round(accuracy)} 米`;
      return { lon: coords.longitude, lat: coords.latitude, accuracy_m: accuracy };
    }
    // No fix: the map centre stands in, with accuracy 0, which the server never counts as on
    // site — the record is kept, but not as a visit at the door.
    const c = ctx.map.getCenter();
    $('visit-position').textContent = `${reason}：以地图中心为位置，不计为在现场`;
    return { lon: c.lng, lat: c.lat, accuracy_m: 0, ...(ctx.crs === 'wgs84' ? {} : { crs: ctx.crs }) };
  });
}

function closeForm() {
  state.household = null;
  $('visit-form').hidden = true;
  $('walk-list').hidden = !state.stops.length;
  $('walk-legend').hidden = !state.stops.length;
}

function showResult(text, kind, onSite = null) {
  const box = $('visit-result');
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
  if (onSite === null) delete box.dataset.onSite;
  else box.dataset.onSite = String(onSite);
}

async function save() {
  const h = state.household;
  const me = currentSession()?.user;
  if (!h || !me) return;
  $('visit-save').disabled = true;
  const position = await state.position;
  const checked = [...document.querySelectorAll('#visit-needs input:checked')].map((i) => i.value);
  const otherNote = $('visit-other-note').value.trim();
  const now = new Date().toISOString();
  const record = {
    key: outbox.newKey(),
    user: me.id,
    household: h.id,
    head_name: h.head_name,
    address: h.address,
    created_at: now,
    status: 'queued',
    body: {
      household: h.id,
      visited_at: now,
      position,
      notes: $('visit-notes').value.trim(),
      needs: checked.map((type) => (type === 'other' && otherNote ? { type, note: otherNote } : { type })),
    },
  };
  // On the phone first: from here on the visit survives a lost signal or a closed page.
  await outbox.putRecord(record);
  const r = await send(record);
  if (r.status === 'sent') {
    showResult(`已保存：${onSiteText(r)}`, r.on_site ? 'ok' : 'warn', r.on_site);
  } else if (r.status === 'queued') {
    showResult('网络不可用：已保存在本机，联网后自动发送。', 'queued');
  } else {
    // Refused while the cadre is still at the form: they can correct it and save again (a new
    // record with a new key), so the refused one is not kept.
    await outbox.deleteRecord(record.key);
    await renderOutbox();
    $('visit-save').disabled = false;
    showResult(`保存失败：${r.error}`, 'error');
  }
}

/**
 * Sends one record with its Idempotency-Key and keeps what became of it: a receipt when the
 * server has it (201, or 200 for a record it had already), the record as it was when no answer
 * came (offline, a 5xx, a session that ended), or 'rejected' with the server's message.
 */
async function send(record) {
  if (state.sending.has(record.key)) return record;
  if (!navigator.onLine) {
    // Known to be offline: no request that can only fail; the record waits for 'online'.
    markRecorded(record.household, record);
    await renderOutbox();
    return record;
  }
  state.sending.add(record.key);
  let result = record;
  try {
    const { body } = await api('/api/v1/visits', { method: 'POST', body: record.body, headers: { 'idempotency-key': record.key } });
    result = outbox.receipt(record, body);
    await outbox.putRecord(result);
    // The 3D floors (floors.js) draw the household's floor again.
    window.dispatchEvent(new CustomEvent('wangge:visit'));
  } catch (e) {
    const later = !(e instanceof ApiError) || e.status === 401 || e.status >= 500;
    if (!later) {
      result = { ...record, status: 'rejected', error: e.message, code: e.code };
      await outbox.putRecord(result);
    }
  } finally {
    state.sending.delete(record.key);
  }
  if (result.status !== 'rejected') markRecorded(record.household, result);
  await renderOutbox();
  return result;
}

/** Sends this user's waiting records, oldest first, until one finds no network. */
export function flush() {
  state.flushing ??= (async () => {
    try {
      const me = currentSession()?.user;
      if (!me || !hasRole('cadre')) return;
      for (const record of await outbox.recordsOf(me.id)) {
        if (record.status !== 'queued') continue;
        if ((await send(record)).status === 'queued') break;
      }
      await renderOutbox();
    } finally {
      state.flushing = null;
    }
  })();
  return state.flushing;
}

/** 本机记录: this user's records on the phone, newest first, with what became of each. */
async function renderOutbox() {
  const me = currentSession()?.user;
  if (!me) return;
  const records = (await outbox.recordsOf(me.id)).reverse().slice(0, 30);
  $('outbox').hidden = !records.length;
  $('outbox-list').replaceChildren(
    ...records.map((r) => {
      const status = {
        queued: '待发送',
        sent: `已发送 · ${r.on_site === undefined ? '' : onSiteText(r)}`,
        rejected: `未被接受：${r.error}`,
      }[r.status];
      return el(
        'li',
        { class: r.status, 'data-key': r.key, 'data-household': r.household },
        el('strong', {}, r.head_name),
        el('span', { class: 'meta' }, formatTime(r.body?.visited_at ?? r.visited_at)),
        el('span', { class: 'status' }, status),
        r.status === 'rejected'
          ? el('button', { type: 'button', class: 'danger', onclick: () => outbox.deleteRecord(r.key).then(renderOutbox) }, '删除')
          : null,
      );
    }),
  );
  const waiting = records.filter((r) => r.status === 'queued').length;
  if (waiting) showMessage(`${waiting} 条走访记录待联网发送`, 'warn');
  else if (state.waiting) showMessage('待发送的走访记录已全部发送');
  state.waiting = waiting;
}
