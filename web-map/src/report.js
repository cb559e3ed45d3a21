// 社情民意 for residents (/report): a phone's page, no login. The resident picks the spot on the
// map (a tap) or takes the phone's position, chooses a category and answers its extra questions
// (Open311 services and their attributes), describes the problem, may add a photo (the camera on
// a phone), may leave a name and a phone, and posts it to /open311/v2/requests.json (as
// multipart/form-data with the photo as `media`, else as JSON); the page shows the ticket number
// (Open311's service_request_id) and the notice, and follows the ticket later (GET /open311/v2/
// requests/{id}.json: the public answer, without anyone's name or phone, and its photo).
//
// The map is the main page's: the same style from this server's own tiles (style.js), no external
// basemap unless the server is started with one. The page keeps only ticket numbers on the phone
// (localStorage), nothing of what was written.

import * as maplibregl from '/vendor/maplibre-gl/maplibre-gl.mjs';
import { api, ApiError, loadTileJson, lookupQuery } from './api.js';
import { photoPicker } from './photos.js';
import { buildStyle, tileRequestTransform } from './style.js';
import { $, el, formatTime, locateMe, showMessage } from './ui.js';

const origin = window.location.origin;
const MAX_DESCRIPTION = 4000;
/** Where the phone keeps the numbers of the tickets it sent: [{id, service, at}]. */
const TICKETS_KEY = 'wangge.tickets';

const state = {
  /** The map's CRS: wgs84, or gcj02 under a GCJ-02 basemap. */
  crs: 'wgs84',
  map: null,
  marker: null,
  /** The chosen spot: {coord: [lon, lat], crs} as it will be sent. */
  spot: null,
  lookupSeq: 0,
  /** The categories (services.json), and the chosen one's attributes (services/{code}.json). */
  services: [],
  service: null,
  attributes: [],
  attributesSeq: 0,
  /** The photo picker (photos.js). */
  picker: null,
  sending: false,
};

// ---- texts ----

const OUTSIDE_GRIDS = '该位置不在任何网格内，没有负责受理的网格员。请在地图上网格范围内重新选择位置。';

/** What a refused report means to a resident, in Chinese, by the server's error code. */
function reportErrorText(error) {
  if (!(error instanceof ApiError)) return '网络连接失败，诉求没有提交。请检查网络后重试。';
  const byCode = {
    outside_grids: OUTSIDE_GRIDS,
    rate_limited: `提交过于频繁，请${error.retryAfter ? ` ${error.retryAfter} 秒` : '稍'}后再试。`,
    missing_location: '请先在地图上选择问题所在位置。',
    invalid_location: '位置无效，请在地图上重新选择。',
    unknown_crs: '位置无效，请在地图上重新选择。',
    missing_description: '请填写问题描述。',
    too_long: '内容过长：问题描述不超过 4000 字，门牌、称呼和电话各不超过 500 字。',
    invalid_attribute: '补充信息不完整或不正确，请检查所选类别下的问题。',
    unknown_service: '该问题类别已停止受理，请刷新页面后重新选择。',
    missing_service_code: '请选择问题类别。',
    too_large: '照片太大，不能超过 12 MB。请换一张照片，或移除照片后提交。',
  };
  if (byCode[error.code]) return byCode[error.code];
  if (error.status === 429) return byCode.rate_limited;
  if (error.status === 413) return byCode.too_large;
  if (error.status === 403) return '本服务目前只受理登记应用提交的诉求，请通过社区公布的其他渠道反映。';
  if (error.status >= 500) return `服务器暂时出了问题（${error.status}），诉求没有提交，请稍后再试。`;
  return `诉求没有提交（${error.status}），请检查填写的内容后重试。`;
}

/** Times inside a notice ("将于 2026-12-03T08:00:00.000Z 前立案") in Beijing time. */
function localiseTimes(text) {
  return text.replace(/\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:\d\d)/g, (t) => formatTime(t));
}

// ---- the map and the spot ----

async function startMap() {
  let config = { map_crs: 'wgs84', basemap: null };
  try {
    ({ body: config } = await api('/api/v1/web-config', { anonymous: true }));
  } catch (e) {
    showMessage(`读取地图配置失败：${e.message}`, 'error');
  }
  state.crs = config.map_crs;
  const tilejson = await loadTileJson(state.crs);
  const b = tilejson.grids?.bounds;
  const hasData = b && b[2] - b[0] < 5 && b[3] - b[1] < 5;
  state.map = new maplibregl.Map({
    container: 'report-map',
    style: buildStyle({ origin, tilejson, crs: state.crs, basemap: config.basemap, lat: hasData ? (b[1] + b[3]) / 2 : 36, density: false }),
    ...(hasData ? { bounds: b, fitBoundsOptions: { padding: 8 } } : { center: [105, 35], zoom: 3 }),
    // A flat map: a finger that drags should move it, not tilt it.
    pitchWithRotate: false,
    dragRotate: false,
    attributionControl: { compact: true, customAttribution: '网格 wangge' },
    transformRequest: tileRequestTransform(origin, state.crs),
  });
  window.map = state.map; // for the browser tests and the console
  state.map.touchZoomRotate.disableRotation();
  state.map.addControl(new maplibregl.NavigationControl({ showCompass: false }), 'top-right');
  state.map.on('click', (e) => chooseSpot([e.lngLat.lng, e.lngLat.lat], state.crs, [e.lngLat.lng, e.lngLat.lat]));
  state.map.on('error', (e) => console.error(`map error: ${e.error?.message ?? e}`));
  if (!hasData) showMessage('还没有网格数据，暂时无法受理诉求。', 'warn');
}

/**
 * Takes a spot: the marker goes there and the page says which grid (and responsibility area)
 * answers for it, from the public lookup, so that a spot outside every grid is said at once.
 *
 * @param coord - [lon, lat] in `crs`, as it will be sent
 * @param mapPoint - the same spot in the map's CRS, for the marker
 */
async function chooseSpot(coord, crs, mapPoint) {
  state.spot = { coord, crs };
  state.marker ??= new maplibregl.Marker({ color: '#d1495b' });
  state.marker.setLngLat(mapPoint).addTo(state.map);
  hideError();
  const place = $('report-place');
  place.className = 'place loading';
  place.textContent = '正在确认位置…';
  const seq = ++state.lookupSeq;
  try {
    const { body } = await api(`/api/v1/lookup?${lookupQuery(coord, crs)}`, { anonymous: true });
    if (seq !== state.lookupSeq) return;
    if (!body.grid) {
      place.className = 'place outside';
      place.textContent = OUTSIDE_GRIDS;
      return;
    }
    const area = body.areas?.find((a) => a.holder) ?? body.areas?.[0];
    const holder = area?.holder;
    place.className = 'place found';
    place.replaceChildren(
      el('span', { class: 'where' }, '已选位置：', el('strong', {}, body.grid.name), body.community ? `（${body.community.name}）` : ''),
      holder
        ? el('span', { class: 'who' }, `由${area.name}网格员 ${holder.display_name || ''}`.trim(), holder.phone ? el('a', { href: `tel:${holder.phone}` }, holder.phone) : '', ' 受理')
        : el('span', { class: 'who' }, `由${body.grid.name}受理`),
    );
  } catch (e) {
    if (seq !== state.lookupSeq) return;
    // The report can still go: the server places it itself.
    place.className = 'place';
    place.textContent = '已选位置（暂时无法确认所属网格）。';
    console.warn(`lookup: ${e.message}`);
  }
}

function locate() {
  // Sent as wgs84, the marker moved into the map's CRS.
  locateMe(state.map, state.crs, '直接点击地图选择位置', (wgs84, mapPoint) =>
    chooseSpot(wgs84, 'wgs84', mapPoint),
  );
}

// ---- categories and their questions ----

async function loadServices() {
  const box = $('report-services');
  try {
    const { body } = await api('/open311/v2/services.json', { anonymous: true });
    state.services = body;
  } catch (e) {
    box.replaceChildren(el('p', { class: 'error' }, `读取问题类别失败，请刷新页面重试。（${e.message}）`));
    return;
  }
  box.replaceChildren(
    ...state.services.map((s) =>
      el(
        'label',
        { class: 'chip' },
        el('input', { type: 'radio', name: 'service', value: s.service_code, onchange: () => chooseService(s) }),
        el('span', {}, s.service_name),
      ),
    ),
  );
}

async function chooseService(service) {
  state.service = service;
  state.attributes = [];
  hideError();
  const description = $('report-service-description');
  description.textContent = service.description ?? '';
  description.hidden = !service.description;
  const box = $('report-attributes');
  box.replaceChildren();
  if (!service.metadata) return;
  const seq = ++state.attributesSeq;
  box.replaceChildren(el('p', { class: 'hint' }, '正在读取补充问题…'));
  try {
    const { body } = await api(`/open311/v2/services/${encodeURIComponent(service.service_code)}.json`, { anonymous: true });
    if (seq !== state.attributesSeq) return;
    state.attributes = (body.attributes ?? []).filter((a) => a.variable !== false).sort((a, b) => (a.order ?? 0) - (b.order ?? 0));
    box.replaceChildren(...state.attributes.map(attributeField));
  } catch (e) {
    if (seq !== state.attributesSeq) return;
    box.replaceChildren(el('p', { class: 'error' }, `读取补充问题失败：${e.message}`));
  }
}

/** One extra question: a row of choices for a list, a text box otherwise. */
function attributeField(a) {
  const title = el('legend', {}, a.description, a.required ? el('span', { class: 'required' }, '（必填）') : '');
  if (a.datatype === 'singlevaluelist' || a.datatype === 'multivaluelist') {
    const type = a.datatype === 'singlevaluelist' ? 'radio' : 'checkbox';
    return el(
      'fieldset',
      { class: 'attribute', 'data-attribute': a.code },
      title,
      el('div', { class: 'chips' }, (a.values ?? []).map((v) => el('label', { class: 'chip' }, el('input', { type, name: `attribute-${a.code}`, value: v.key }), el('span', {}, v.name)))),
    );
  }
  return el(
    'fieldset',
    { class: 'attribute', 'data-attribute': a.code },
    title,
    el('input', { name: `attribute-${a.code}`, maxlength: 500, 'aria-label': a.description }),
  );
}

/** The answers given, by attribute code; the first required question left open, if any. */
function attributeAnswers() {
  const answers = {};
  let missing = null;
  for (const a of state.attributes) {
    const inputs = [...document.querySelectorAll(`[name="attribute-${CSS.escape(a.code)}"]`)];
    const value = inputs[0]?.type === 'radio' || inputs[0]?.type === 'checkbox'
      ? inputs.filter((i) => i.checked).map((i) => i.value).join(',')
      : (inputs[0]?.value ?? '').trim();
    if (value) answers[a.code] = value;
    else if (a.required && !missing) missing = a;
  }
  return { answers, missing };
}

// ---- sending ----

function showError(text) {
  const box = $('report-error');
  box.textContent = text;
  box.hidden = false;
  box.scrollIntoView({ block: 'nearest' });
}

function hideError() {
  $('report-error').hidden = true;
}

async function submit() {
  if (state.sending) return;
  hideError();
  if (!state.spot) return showError('请先在地图上点选问题所在位置，或使用手机定位。');
  if (!state.service) return showError('请选择问题类别。');
  const { answers, missing } = attributeAnswers();
  if (missing) return showError(`请回答：${missing.description}`);
  const description = $('report-description').value.trim();
  if (!description) return showError('请填写问题描述。');
  if (description.length > MAX_DESCRIPTION) return showError(`问题描述不能超过 ${MAX_DESCRIPTION} 字。`);
  const [long, lat] = state.spot.coord;
  const body = {
    service_code: state.service.service_code,
    lat,
    long,
    crs: state.spot.crs,
    description,
    address_string: $('report-address').value.trim(),
    attribute: answers,
  };
  // Open311 splits a name in two; the server joins last_name and first_name again.
  const name = $('report-name').value.trim();
  const phone = $('report-phone').value.trim();
  if (name) body.last_name = name;
  if (phone) body.phone = phone;
  const photo = state.picker.photo();
  state.sending = true;
  $('report-submit').disabled = true;
  $('report-submit').textContent = '正在提交…';
  try {
    const { body: answer } = await api('/open311/v2/requests.json', { method: 'POST', body: photo ? asForm(body, photo) : body, anonymous: true });
    const receipt = answer[0];
    remember({ id: receipt.service_request_id, service: state.service.service_name, at: new Date().toISOString() });
    showDone(receipt);
  } catch (e) {
    showError(reportErrorText(e));
  } finally {
    state.sending = false;
    $('report-submit').disabled = false;
    $('report-submit').textContent = '提交';
  }
}

/** A report as Open311's form, its answers as attribute[code], with the photo as `media`. */
function asForm(body, photo) {
  const form = new FormData();
  for (const [key, value] of Object.entries(body)) {
    if (key === 'attribute') for (const [code, answer] of Object.entries(value)) form.append(`attribute[${code}]`, answer);
    else form.append(key, String(value));
  }
  form.append('media', photo, photo.name || (photo.type === 'image/png' ? 'photo.png' : 'photo.jpg'));
  return form;
}

function showDone(receipt) {
  $('report-form').hidden = true;
  $('report-done').hidden = false;
  $('report-ticket').textContent = receipt.service_request_id;
  $('report-notice').textContent = localiseTimes(receipt.service_notice ?? '');
  $('report-done').dataset.ticket = receipt.service_request_id;
  $('report-done').scrollIntoView({ block: 'start' });
  renderMine();
}

function startAgain() {
  $('report-form').reset();
  $('report-count').textContent = '0';
  $('report-attributes').replaceChildren();
  state.picker.clear();
  $('report-service-description').hidden = true;
  state.service = null;
  state.attributes = [];
  state.spot = null;
  state.marker?.remove();
  state.marker = null;
  $('report-place').className = 'place empty';
  $('report-place').textContent = '点击地图选择问题所在位置，或使用手机定位。';
  $('report-done').hidden = true;
  $('report-form').hidden = false;
  $('report').scrollIntoView({ block: 'start' });
}

// ---- following a ticket ----

function remembered() {
  try {
    const list = JSON.parse(localStorage.getItem(TICKETS_KEY));
    return Array.isArray(list) ? list : [];
  } catch {
    return [];
  }
}

/** Keeps a ticket's number on the phone (no description, name or phone), newest first. */
function remember(ticket) {
  const list = [ticket, ...remembered().filter((t) => t.id !== ticket.id)].slice(0, 20);
  try {
    localStorage.setItem(TICKETS_KEY, JSON.stringify(list));
  } catch {
    // private mode: the resident has the number on the screen
  }
}

function renderMine() {
  const list = remembered();
  $('track-mine').hidden = !list.length;
  $('track-list').replaceChildren(
    ...list.map((t) =>
      el(
        'li',
        {},
        el('button', { type: 'button', 'data-ticket': t.id, onclick: () => track(t.id) }, el('strong', {}, `${t.id} 号`), ` ${t.service ?? ''}`, el('span', { class: 'meta' }, formatTime(t.at))),
      ),
    ),
  );
}

const STATUS_NAMES = { open: '办理中', closed: '已办结' };

/**
 * Whether a ticket's `media_url` is a photo this server keeps (its public copy, without EXIF);
 * a link an app gave to a picture elsewhere is not shown (this page loads nothing from other hosts).
 */
function ownPhoto(url) {
  if (!url) return false;
  try {
    return new URL(url, origin).origin === origin;
  } catch {
    return false;
  }
}

function ticketPhoto(url) {
  const href = new URL(url, origin).pathname;
  return el('a', { class: 'ticket-photo', href, target: '_blank', rel: 'noopener', title: '查看大图' }, el('img', { src: href, alt: '反映时附的照片' }));
}

async function track(raw) {
  const id = String(raw ?? '').trim();
  const result = $('track-result');
  $('track-ticket').value = id;
  if (!/^\d+$/.test(id)) {
    result.replaceChildren(el('p', { class: 'error' }, '请输入受理编号（数字）。'));
    return;
  }
  result.replaceChildren(el('p', { class: 'hint' }, '正在查询…'));
  $('track').scrollIntoView({ block: 'start' });
  try {
    const { body } = await api(`/open311/v2/requests/${id}.json`, { anonymous: true });
    const r = body[0];
    const rows = [
      ['类别', r.service_name],
      ['受理单位', r.agency_responsible],
      ['提交时间', formatTime(r.requested_datetime)],
      ['最近更新', formatTime(r.updated_datetime)],
      r.status === 'open' && r.expected_datetime ? ['预计办结', formatTime(r.expected_datetime)] : null,
      r.address ? ['位置说明', r.address] : null,
      ['问题描述', r.description],
      ownPhoto(r.media_url) ? ['照片', ticketPhoto(r.media_url)] : null,
    ].filter(Boolean);
    result.replaceChildren(
      el(
        'div',
        { class: `ticket-status ${r.status}`, 'data-ticket': r.service_request_id },
        el('p', { class: 'headline' }, el('span', { class: 'badge' }, STATUS_NAMES[r.status] ?? r.status), el('strong', { class: 'notes' }, r.status_notes)),
        el('p', { class: 'meta' }, `受理编号 ${r.service_request_id}`),
        el('dl', {}, rows.map(([k, v]) => [el('dt', {}, k), el('dd', {}, v || '—')])),
      ),
    );
    const url = new URL(window.location.href);
    url.searchParams.set('ticket', r.service_request_id);
    history.replaceState(null, '', url);
  } catch (e) {
    const text =
      e instanceof ApiError && e.status === 404
        ? `没有找到受理编号为 ${id} 的诉求，请核对编号。`
        : e instanceof ApiError
          ? `查询失败（${e.status}），请稍后再试。`
          : '网络连接失败，请检查网络后重试。';
    result.replaceChildren(el('p', { class: 'error' }, text));
  }
}

// ---- start ----

function start() {
  $('report-form').addEventListener('submit', (e) => {
    e.preventDefault();
    submit();
  });
  $('report-description').addEventListener('input', (e) => ($('report-count').textContent = String(e.target.value.length)));
  $('report-locate').addEventListener('click', locate);
  $('report-follow').addEventListener('click', () => track($('report-done').dataset.ticket));
  $('report-again').addEventListener('click', startAgain);
  $('track-form').addEventListener('submit', (e) => {
    e.preventDefault();
    track($('track-ticket').value);
  });
  state.picker = photoPicker({ label: '添加照片' });
  $('report-photo').append(state.picker.node);
  renderMine();
  const ticket = new URL(window.location.href).searchParams.get('ticket');
  if (ticket) track(ticket);
  loadServices();
  startMap().catch((e) => {
    console.error(e);
    showMessage(`地图启动失败：${e.message}`, 'error');
  });
}

start();
