// 待办: residents' requests (社情民意) waiting on the signed-in cadre, secretary or admin
// (GET /api/v1/me/requests, most urgent first), each with the time left to its next limit, the
// late ones marked 逾期, and the step it is ready for one tap away (POST /api/v1/requests/{id}/
// transitions): 受理立案, 派遣 (to a cadre or a unit), 处置 (a photo of the work done, uploaded
// first, and a note), 核查 or 返工, 结案. Each request shows its photos small (the resident's and
// the work done), so that 核查 sees the work. The requests are points on the map; secretaries and
// admins can also see where open requests gather, as a heatmap of the public Open311 list (no
// reporter in it).

import { api, ApiError, currentSession, hasRole } from './api.js';
import { wgs84ToGcj02 } from './geo.js';
import { photoErrorText, photoPicker, photoStrip, requestPhotos, uploadPhoto } from './photos.js';
import { $, el, formatTime, revealPanel, showMessage } from './ui.js';

/** The states of the workflow, as staff call them. */
export const STATE_NAMES = {
  reported: '待立案',
  accepted: '已立案',
  dispatched: '已派遣',
  handled: '已处置',
  verified: '已核查',
  closed: '已结案',
  rejected: '不予受理',
  duplicate: '重复',
  reopened: '重新打开',
};

/**
 * The steps a request in each state offers, as buttons: `form` asks for an assignee, a note, or
 * (处置) the photo of the work done and a note first; `who` is who may take it (access::Steppers
 * on the server, which decides in the end): the answerers (who answers for it now, or a
 * supervisor), the supervisors (a secretary of its community, an admin), or its assignee.
 */
const STEPS = {
  reported: [{ to: 'accepted', label: '受理立案', who: 'answerers' }],
  reopened: [{ to: 'accepted', label: '受理立案', who: 'answerers' }],
  accepted: [{ to: 'dispatched', label: '派遣', who: 'supervisors', form: 'assignee' }],
  dispatched: [{ to: 'handled', label: '处置完成', who: 'assignee', form: 'handle' }],
  handled: [
    { to: 'verified', label: '核查通过', who: 'checkers' },
    { to: 'dispatched', label: '返工', who: 'checkers', form: 'note', danger: true },
  ],
  verified: [
    { to: 'closed', label: '结案：已解决', who: 'supervisors', fixed: true },
    { to: 'closed', label: '结案：未解决', who: 'supervisors', fixed: false, danger: true },
  ],
};

/** The steps `user` ({id, role}) may take on `request`, as the page offers them. */
export function nextSteps(request, user) {
  if (!user) return [];
  const supervises = user.role === 'admin' || user.role === 'secretary';
  const may = {
    supervisors: supervises,
    answerers: supervises || request.responsible_id === user.id,
    assignee: request.assignee_id != null ? request.assignee_id === user.id : supervises,
    // Whoever handled it does not check it.
    checkers: supervises && request.handled_by !== user.id,
  };
  return (STEPS[request.state] ?? []).filter((s) => may[s.who]);
}

/** A span of milliseconds as 2 天 3 小时, 3 小时 20 分 or 12 分钟. */
function span(ms) {
  const minutes = Math.floor(ms / 60_000);
  const [d, h, m] = [Math.floor(minutes / 1440), Math.floor((minutes % 1440) / 60), minutes % 60];
  if (d > 0) return `${d} 天 ${h} 小时`;
  if (h > 0) return `${h} 小时 ${m} 分`;
  return `${m} 分钟`;
}

/** The time left to `dueAt` (RFC 3339) at `now` (ms): 剩余 …, or 逾期 … once passed; '' without one. */
export function timeLeft(dueAt, now = Date.now()) {
  const due = Date.parse(dueAt ?? '');
  if (Number.isNaN(due)) return '';
  return due >= now ? `剩余 ${span(due - now)}` : `逾期 ${span(now - due)}`;
}

/** What a refused step means, with the server's own message. */
function stepErrorText(e) {
  if (!(e instanceof ApiError)) return `网络连接失败，请稍后重试。（${e.message}）`;
  const head =
    {
      403: '无权执行此步骤',
      404: '诉求不存在或无权查看',
      409: '诉求状态已经变化（可能已有他人处理），已重新读取待办',
      422: '信息不完整或不正确',
    }[e.status] ?? `操作失败（${e.status}）`;
  return `${head}：${e.message}`;
}

const POINT_LAYERS = ['requests-points', 'requests-selected'];
const HEAT_LAYER = 'requests-heat';

/** {map, crs} from main.js. */
let ctx;
const state = {
  requests: [],
  selected: null,
  /** Cadres who hold an area, for 派遣: [{id, name}]. */
  people: [],
  /** The photos of requests, by request id: {count, photos}, read again when the count changes. */
  photos: new Map(),
  loadSeq: 0,
};

export function initRequests(context) {
  ctx = context;
  $('requests-refresh').addEventListener('click', () => load());
  $('requests-heat-toggle').addEventListener('change', (e) => {
    if (e.target.checked) showHeat().catch((err) => showMessage(`读取诉求分布失败：${err.message}`, 'error'));
    else hideHeat();
  });
  // Back on the page (a phone taken out of a pocket): the list may have moved meanwhile.
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'visible' && allowed()) load();
  });
  window.addEventListener('wangge:session', render);
  render();
}

function allowed() {
  return hasRole('cadre', 'secretary', 'admin');
}

function render() {
  const ok = allowed();
  $('requests').hidden = !ok;
  const heat = hasRole('secretary', 'admin');
  $('requests-heat').hidden = !heat;
  if (!heat && $('requests-heat-toggle').checked) {
    $('requests-heat-toggle').checked = false;
    hideHeat();
  }
  if (!ok) {
    state.requests = [];
    state.selected = null;
    state.photos.clear();
    $('requests-list').replaceChildren();
    $('requests-summary').textContent = '';
    setStatus('');
    clearPoints();
    return;
  }
  load({ announce: true });
}

function setStatus(text, kind = 'info') {
  const box = $('requests-status');
  box.textContent = text;
  box.className = kind;
  box.hidden = !text;
}

/** Reads the list again and draws it; `announce` says on the message line what waits (phones). */
async function load({ announce = false } = {}) {
  const seq = ++state.loadSeq;
  try {
    const [{ body }] = await Promise.all([api('/api/v1/me/requests'), state.people.length ? null : loadPeople()]);
    if (seq !== state.loadSeq || !allowed()) return;
    state.requests = body.requests;
    renderList();
    drawPoints();
    const overdue = state.requests.filter((r) => r.overdue).length;
    if (announce && state.requests.length) {
      showMessage(`待办诉求 ${state.requests.length} 件${overdue ? `，其中逾期 ${overdue} 件` : ''}`, overdue ? 'warn' : 'info');
    }
  } catch (e) {
    if (seq !== state.loadSeq) return;
    $('requests-list').replaceChildren(el('li', { class: 'error' }, `读取待办失败：${e.message}`));
  }
}

/** The cadres one may dispatch to: the holders of responsibility areas (a public list). */
async function loadPeople() {
  try {
    const { body } = await api('/api/v1/areas/holders');
    const byId = new Map();
    for (const a of body.areas) if (a.holder && !byId.has(a.holder.id)) byId.set(a.holder.id, { id: a.holder.id, name: a.holder.display_name || `用户 ${a.holder.id}`, area: a.name });
    state.people = [...byId.values()];
  } catch (e) {
    console.warn(`holders: ${e.message}`);
  }
}

function renderList() {
  const now = Date.now();
  const overdue = state.requests.filter((r) => r.overdue).length;
  $('requests-summary').textContent = state.requests.length ? `${state.requests.length} 件${overdue ? ` · 逾期 ${overdue}` : ''}` : '';
  // An entry whose step form is open stays as it is while its request has not moved: taking the
  // photo of 处置 leaves the page for the camera, and coming back reads the list again.
  const open = new Map();
  for (const li of document.querySelectorAll('#requests-list li.request')) {
    if (li.querySelector('.step-form:not([hidden])')) open.set(`${li.dataset.request} ${li.dataset.state}`, li);
  }
  $('requests-list').replaceChildren(
    ...(state.requests.length
      ? state.requests.map((r) => open.get(`${r.id} ${r.state}`) ?? requestItem(r, now))
      : [el('li', { class: 'none' }, '没有待办的诉求。')]),
  );
}

function requestItem(r, now) {
  const me = currentSession()?.user;
  const steps = nextSteps(r, me);
  const reporter = r.reporter ?? {};
  const error = el('p', { class: 'error step-error', role: 'alert', hidden: true });
  const form = el('form', { class: 'step-form', hidden: true, autocomplete: 'off' });
  const photos = el('div', { class: 'photos request-photos', hidden: true });
  showPhotos(r, photos);
  const item = el(
    'li',
    { class: `request${r.overdue ? ' overdue' : ''}${state.selected === r.id ? ' selected' : ''}`, 'data-request': r.id, 'data-state': r.state },
    el(
      'button',
      { type: 'button', class: 'request-head', title: '在地图上查看', onclick: () => select(r.id, { fly: true }) },
      el('strong', {}, r.category_name ?? r.category),
      el('span', { class: 'badge state' }, STATE_NAMES[r.state] ?? r.state),
      r.overdue ? el('span', { class: 'badge overdue-badge' }, '逾期') : '',
      el('code', {}, `#${r.id}`),
    ),
    el('p', { class: 'description' }, r.description),
    r.address ? el('p', { class: 'meta' }, r.address) : '',
    photos,
    reporter.name || reporter.phone
      ? el('p', { class: 'reporter' }, `反映人：${reporter.name || '（未留称呼）'}`, reporter.phone ? el('a', { class: 'tel', href: `tel:${reporter.phone}` }, reporter.phone) : '')
      : '',
    el(
      'p',
      { class: `due${r.overdue ? ' late' : ''}` },
      r.due_at ? `${timeLeft(r.due_at, now)}（${r.state === 'reported' || r.state === 'reopened' ? '立案' : '处置'}期限 ${formatTime(r.due_at)}）` : '',
      el('span', { class: 'meta' }, ` 上报于 ${formatTime(r.requested_at)}`),
    ),
    steps.length
      ? el(
          'div',
          { class: 'row steps' },
          steps.map((s) =>
            el(
              'button',
              {
                type: 'button',
                class: s.danger ? 'danger' : 'primary',
                'data-to': s.to,
                ...(s.fixed !== undefined ? { 'data-fixed': String(s.fixed) } : {}),
                onclick: () => (s.form ? openForm(r, s, form, error) : step(r, { to: s.to, fixed: s.fixed }, error)),
              },
              s.label,
            ),
          ),
        )
      : el('p', { class: 'meta' }, r.state === 'dispatched' ? `等待处置：${r.assignee_unit ?? (r.assignee_id ? `用户 ${r.assignee_id}` : '')}` : '等待他人处理'),
    form,
    error,
  );
  return item;
}

/** The small form of a step that needs an assignee (派遣), a note (返工), or a photo and a note (处置). */
function openForm(r, s, form, error) {
  error.hidden = true;
  const fields = [];
  const picker = s.form === 'handle' ? photoPicker({ label: '拍摄或选择处置后照片', accept: 'image/*' }) : null;
  if (picker) fields.push(el('div', { class: 'step-photo' }, el('span', {}, '照片'), picker.node));
  if (s.form === 'assignee') {
    // The cadres who hold areas, the one who holds this spot chosen first; whoever answers for
    // it now (a secretary, say) may be named too.
    const people = [...state.people];
    const me = currentSession()?.user;
    if (r.responsible_id && !people.some((p) => p.id === r.responsible_id)) {
      people.push({ id: r.responsible_id, name: r.responsible_id === me?.id ? '我自己' : `当前负责人（用户 ${r.responsible_id}）`, other: true });
    }
    fields.push(
      el(
        'label',
        {},
        '派给',
        el(
          'select',
          { name: 'person' },
          el('option', { value: '' }, '选择网格员…'),
          people.map((p) => el('option', { value: p.id, ...(p.id === r.responsible_id && !p.other ? { selected: true } : {}) }, p.area ? `${p.name}（${p.area}）` : p.name)),
        ),
      ),
      el('label', {}, '或单位', el('input', { name: 'unit', maxlength: 500, placeholder: '如：海信物业维修班' })),
    );
  }
  fields.push(
    el(
      'label',
      {},
      s.form === 'assignee' ? '备注' : '说明',
      el('textarea', { name: 'note', rows: 2, maxlength: 4000, placeholder: s.to === 'handled' ? '做了什么、结果如何（必填）' : s.to === 'dispatched' && s.form === 'note' ? '核查发现的问题（必填）' : '选填' }),
    ),
  );
  const submit = el('button', { type: 'submit', class: 'primary' }, `确认${s.label}`);
  form.replaceChildren(...fields, el('div', { class: 'row' }, submit, el('button', { type: 'button', onclick: () => (form.hidden = true) }, '取消')));
  /** The photo this form uploaded: not sent again when the step itself is refused and retried. */
  let uploaded = null;
  form.onsubmit = async (e) => {
    e.preventDefault();
    if (submit.disabled) return;
    error.hidden = true;
    const data = new FormData(form);
    const body = { to: s.to };
    const note = String(data.get('note') ?? '').trim();
    if (note) body.note = note;
    if (s.form === 'assignee') {
      const unit = String(data.get('unit') ?? '').trim();
      const person = String(data.get('person') ?? '');
      if (unit) body.assignee = /^\d+$/.test(unit) ? Number(unit) : unit;
      else if (person) body.assignee = Number(person);
    }
    if (picker) {
      submit.disabled = true;
      submit.textContent = '正在上传照片…';
      try {
        uploaded = await sendAfterPhoto(r, picker, uploaded);
      } finally {
        submit.disabled = false;
        submit.textContent = `确认${s.label}`;
      }
      if (!uploaded) return;
    }
    step(r, body, error);
  };
  form.hidden = false;
  form.querySelector('select, textarea')?.focus();
}

/**
 * 处置 needs a photo of the work done (kind=after) before the step (the server refuses the step
 * without one): the chosen photo goes up, unless this form sent it already. Resolves to what was
 * sent (true when nothing new had to be), or null when the step must wait, said at the picker.
 */
async function sendAfterPhoto(r, picker, uploaded) {
  const photo = picker.photo();
  if (!photo) {
    // None chosen: enough when the work already has one (back from 返工); if the list cannot be
    // read, the server decides.
    const known = await requestPhotos(r.id).catch(() => null);
    if (!known || known.some((p) => p.kind === 'after')) return true;
    picker.showError('请先拍摄或选择一张处置后的照片，再确认处置完成。');
    return null;
  }
  if (photo === uploaded) return photo;
  try {
    await uploadPhoto(r.id, photo, 'after');
    return photo;
  } catch (e) {
    picker.showError(photoErrorText(e));
    return null;
  }
}

/** Shows a request's photos small in its entry, from the cache while its count is unchanged. */
async function showPhotos(r, box) {
  if (r.photos === 0) return;
  const draw = (photos) => {
    box.replaceChildren(...photoStrip(photos));
    box.hidden = !photos.length;
  };
  const cached = state.photos.get(r.id);
  if (cached && r.photos !== undefined && cached.count === r.photos) return draw(cached.photos);
  try {
    const photos = await requestPhotos(r.id);
    state.photos.set(r.id, { count: photos.length, photos });
    draw(photos);
  } catch (e) {
    console.warn(`photos of #${r.id}: ${e.message}`);
  }
}

/** Takes one step; the list is read again whatever the answer (someone may have moved it). */
async function step(r, { to, note, assignee, fixed }, error) {
  error.hidden = true;
  const body = { to };
  if (note) body.note = note;
  if (assignee !== undefined) body.assignee = assignee;
  if (fixed !== undefined) body.fixed = fixed;
  const buttons = [...document.querySelectorAll(`#requests-list li[data-request="${r.id}"] button`)];
  buttons.forEach((b) => (b.disabled = true));
  try {
    const { body: answer } = await api(`/api/v1/requests/${r.id}/transitions`, { method: 'POST', body });
    const now = answer.request?.state ?? to;
    setStatus(`#${r.id} ${r.category_name ?? ''}：${STATE_NAMES[now] ?? now}`, 'ok');
    await load();
    if ($('requests-heat-toggle').checked) showHeat().catch(() => {});
  } catch (e) {
    buttons.forEach((b) => (b.disabled = false));
    const text = stepErrorText(e);
    if (e instanceof ApiError && e.status === 409) {
      // The list is stale: read it again, and say why at the top (the item may be gone).
      setStatus(`#${r.id} ${text}`, 'error');
      await load();
    } else {
      error.textContent = text;
      error.hidden = false;
    }
  }
}

// ---- on the map ----

function toMap(lonLat) {
  return ctx.crs === 'gcj02' ? wgs84ToGcj02(lonLat) : lonLat;
}

async function styleReady() {
  if (!ctx.map.isStyleLoaded()) await new Promise((resolve) => ctx.map.once('idle', resolve));
}

async function drawPoints() {
  const { map } = ctx;
  const data = {
    type: 'FeatureCollection',
    features: state.requests
      .filter((r) => Number.isFinite(r.lon) && Number.isFinite(r.lat))
      .map((r) => ({ type: 'Feature', id: r.id, geometry: { type: 'Point', coordinates: toMap([r.lon, r.lat]) }, properties: { id: r.id, overdue: Boolean(r.overdue), state: r.state } })),
  };
  if (!data.features.length && !map.getSource('requests')) return;
  await styleReady();
  const source = map.getSource('requests');
  if (source) {
    source.setData(data);
    return;
  }
  map.addSource('requests', { type: 'geojson', data });
  map.addLayer({
    id: 'requests-points',
    type: 'circle',
    source: 'requests',
    paint: {
      'circle-radius': ['interpolate', ['linear'], ['zoom'], 13, 6, 18, 10],
      'circle-color': ['case', ['get', 'overdue'], '#d7301f', '#f28e2b'],
      'circle-stroke-color': '#ffffff',
      'circle-stroke-width': 2,
    },
  });
  map.addLayer({
    id: 'requests-selected',
    type: 'circle',
    source: 'requests',
    filter: ['==', ['get', 'id'], state.selected ?? -1],
    paint: { 'circle-radius': 14, 'circle-color': 'rgba(0,0,0,0)', 'circle-stroke-color': '#1565c0', 'circle-stroke-width': 3 },
  });
}

/** Marks one request in the list and on the map; `fly` moves the map to it. */
function select(id, { fly = false } = {}) {
  state.selected = id;
  for (const li of document.querySelectorAll('#requests-list li.request')) li.classList.toggle('selected', li.dataset.request === String(id));
  if (ctx.map.getLayer('requests-selected')) ctx.map.setFilter('requests-selected', ['==', ['get', 'id'], id]);
  const r = state.requests.find((x) => x.id === id);
  if (fly && r) ctx.map.flyTo({ center: toMap([r.lon, r.lat]), zoom: Math.max(ctx.map.getZoom(), 17) });
}

/** A click on a request's point opens it in the list (and does not ask which grid it is in). */
export function requestsTakesClick(e) {
  if (!ctx?.map.getLayer('requests-points')) return false;
  const hit = ctx.map.queryRenderedFeatures(e.point, { layers: ['requests-points'] })[0];
  if (!hit) return false;
  const id = Number(hit.properties.id);
  select(id);
  const item = document.querySelector(`#requests-list li[data-request="${id}"]`);
  if (item) revealPanel(item);
  return true;
}

// ---- the heatmap of open requests (secretaries and admins) ----

async function showHeat() {
  // The public list: where and what, never who (Open311's answers carry no reporter).
  const { body } = await api('/open311/v2/requests.json?status=open');
  if (!$('requests-heat-toggle').checked) return;
  const data = {
    type: 'FeatureCollection',
    features: body
      .filter((r) => Number.isFinite(r.long) && Number.isFinite(r.lat))
      .map((r) => ({ type: 'Feature', geometry: { type: 'Point', coordinates: toMap([r.long, r.lat]) }, properties: {} })),
  };
  const { map } = ctx;
  await styleReady();
  const source = map.getSource(HEAT_LAYER);
  if (source) source.setData(data);
  else {
    map.addSource(HEAT_LAYER, { type: 'geojson', data });
    map.addLayer(
      {
        id: HEAT_LAYER,
        type: 'heatmap',
        source: HEAT_LAYER,
        paint: {
          'heatmap-radius': ['interpolate', ['linear'], ['zoom'], 12, 14, 15, 28, 18, 60],
          'heatmap-intensity': ['interpolate', ['linear'], ['zoom'], 12, 0.8, 18, 2],
          'heatmap-opacity': 0.75,
          'heatmap-color': [
            'interpolate', ['linear'], ['heatmap-density'],
            0, 'rgba(255,255,178,0)', 0.2, '#fed976', 0.4, '#feb24c', 0.6, '#fd8d3c', 0.8, '#f03b20', 1, '#bd0026',
          ],
        },
      },
      // Under the requests' own points, if they are drawn.
      map.getLayer('requests-points') ? 'requests-points' : undefined,
    );
  }
  $('requests-heat-summary').textContent = `近 90 天未办结 ${data.features.length} 件`;
  $('requests-heat-summary').dataset.count = String(data.features.length);
}

function hideHeat() {
  const map = ctx?.map;
  if (map?.getLayer(HEAT_LAYER)) map.removeLayer(HEAT_LAYER);
  if (map?.getSource(HEAT_LAYER)) map.removeSource(HEAT_LAYER);
  $('requests-heat-summary').textContent = '';
  delete $('requests-heat-summary').dataset.count;
}

/** Signed out: nothing of the requests stays on the map. */
function clearPoints() {
  const map = ctx?.map;
  for (const id of POINT_LAYERS) if (map?.getLayer(id)) map.removeLayer(id);
  if (map?.getSource('requests')) map.removeSource('requests');
}
