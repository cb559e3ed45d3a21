// 民情责任田 for cadres: the unclaimed areas are filled on the map (the `claimed` property of the
// `areas` tiles), an area of a click's answer can be claimed (认领) or released, and 我的责任田
// lists the signed-in cadre's areas with their household counts.

import { api, ApiError, currentSession, hasRole } from './api.js';
import { $, el, formatTime, showMessage } from './ui.js';

/** {refreshData(layers), relookup(), applyLayers()} from main.js. */
let ctx;

export function initClaims(context) {
  ctx = context;
  window.addEventListener('wangge:session', render);
  render();
}

/** Whether the map fills the unclaimed areas: for those who claim them and their admins. */
export function showsUnclaimed() {
  return hasRole('cadre', 'admin');
}

/** What the side panel shows under one area of a lookup answer: its holder and a button. */
export function areaDetails(area) {
  const parts = [];
  if ('holder' in area) {
    const h = area.holder;
    parts.push(
      h
        ? el('span', { class: 'holder' }, `责任人：${h.display_name || '（未留姓名）'}${h.phone ? `（${h.phone}）` : ''}`)
        : el('span', { class: 'unclaimed' }, '未认领'),
    );
  }
  const me = currentSession()?.user;
  if (me && hasRole('cadre') && 'holder' in area) {
    if (!area.holder) parts.push(el('button', { type: 'button', class: 'claim primary', 'data-area': area.id, onclick: () => claim(area) }, '认领'));
    else if (area.holder.id === me.id) parts.push(el('button', { type: 'button', class: 'release', 'data-area': area.id, onclick: () => release(area) }, '释放'));
  }
  return parts;
}

async function claim(area) {
  try {
    await api(`/api/v1/areas/${area.id}/claim`, { method: 'POST' });
    showMessage(`已认领“${area.name}”`);
  } catch (e) {
    showMessage(e instanceof ApiError && e.code === 'already_claimed' ? `“${area.name}”已被他人认领` : `认领失败：${e.message}`, 'error');
  }
  await afterChange();
}

async function release(area) {
  try {
    await api(`/api/v1/areas/${area.id}/release`, { method: 'POST' });
    showMessage(`已释放“${area.name}”`);
  } catch (e) {
    showMessage(`释放失败：${e.message}`, 'error');
  }
  await afterChange();
}

async function afterChange() {
  ctx.refreshData(['areas']);
  await Promise.all([ctx.relookup(), loadMyAreas()]);
}

async function loadMyAreas() {
  if (!hasRole('cadre')) return;
  const list = $('my-areas-list');
  try {
    const [{ body: mine }, { body: all }] = await Promise.all([api('/api/v1/me/areas'), api('/api/v1/areas/holders')]);
    const unclaimed = all.areas.filter((a) => !a.holder).length;
    $('unclaimed-count').textContent = `未认领 ${unclaimed} 块`;
    list.replaceChildren(
      ...(mine.areas.length
        ? mine.areas.map((a) =>
            el(
              'li',
              { 'data-area': a.id },
              el('div', {}, el('strong', {}, a.name), ' ', el('code', {}, a.code)),
              el('div', { class: 'meta' }, `${a.households} 户 · 认领于 ${formatTime(a.claimed_at)}`),
              el('button', { type: 'button', class: 'release', onclick: () => release(a) }, '释放'),
            ),
          )
        : [el('li', { class: 'none' }, '还没有认领责任田。')]),
    );
  } catch (e) {
    list.replaceChildren(el('li', { class: 'error' }, `读取失败：${e.message}`));
  }
}

function render() {
  $('my-areas').hidden = !hasRole('cadre');
  ctx.applyLayers();
  loadMyAreas();
}
