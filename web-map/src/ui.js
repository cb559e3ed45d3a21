// Small DOM helpers shared by the page's modules.

import { wgs84ToGcj02 } from './geo.js';

export const $ = (id) => document.getElementById(id);

/** Builds an element; children are nodes or text (never parsed as HTML). */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === 'class') node.className = v;
    else if (k.startsWith('on')) node.addEventListener(k.slice(2), v);
    else if (v !== false && v !== null && v !== undefined) node.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children.flat(Infinity)) if (c !== null && c !== undefined && c !== false) node.append(c);
  return node;
}

let messageTimer = null;
/** A line in the side panel: info (fades out), warn or error (stays). */
export function showMessage(text, kind = 'info') {
  const box = $('message');
  box.textContent = text;
  box.className = kind;
  box.hidden = false;
  clearTimeout(messageTimer);
  if (kind === 'info') messageTimer = setTimeout(() => (box.hidden = true), 4000);
}

/** A date-time of the API (RFC 3339) in China Standard Time, as 2026-11-28 20:15. */
/** Says in the page, and in the console, when the map fails to load its data. */
export function reportMapErrors(map) {
  map.on('error', (e) => {
    const text = e.error?.message ?? String(e.error ?? e);
    console.error(`map error: ${text}`);
    showMessage(`地图数据加载失败：${text}`, 'error');
  });
}

export function formatTime(rfc3339) {
  if (!rfc3339) return '';
  const d = new Date(rfc3339);
  if (Number.isNaN(d.getTime())) return rfc3339;
  return d.toLocaleString('zh-CN', { timeZone: 'Asia/Shanghai', hour12: false, year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit' });
}

/** Whether the page has the phone layout (map on top, the panel as a sheet under it; map.css). */
export function isPhone() {
  return window.matchMedia('(max-width: 720px)').matches;
}

/**
 * The panel as a bottom sheet on a phone: folded down to its header at start, so that the map
 * has the screen, and opened by its handle or by whatever needs the panel (an answer, a list).
 * The map shrinks above it rather than being covered (MapLibre follows its container's size).
 */
export function initSheet() {
  $('sheet-toggle').addEventListener('click', () => setSheetOpen(!document.body.classList.contains('sheet-open')));
  setSheetOpen(false);
}

export function setSheetOpen(open) {
  document.body.classList.toggle('sheet-open', open);
  $('sheet-toggle').setAttribute('aria-expanded', String(open));
  $('sheet-toggle').textContent = open ? '收起 ▾' : '展开 ▴';
}

/** Brings a part of the panel into view: on a phone the sheet opens first. */
export function revealPanel(node) {
  if (!isPhone()) return;
  setSheetOpen(true);
  node.scrollIntoView({ block: 'nearest', behavior: 'smooth' });
}

/**
 * Asks the browser where the phone is and flies `map` there. The Geolocation API reports WGS84
 * (GPS) whatever the map shows: `onPosition(wgs84, mapPoint)` gets that, for the server, and the
 * same point in the map's CRS (`crs`, 'wgs84' or 'gcj02': GCJ-02 under an AMap/Tencent basemap),
 * for the marker. `instead` says what the user can do when there is no position ("点击地图查询").
 */
export function locateMe(map, crs, instead, onPosition) {
  if (!window.isSecureContext) {
    showMessage(`浏览器只在 HTTPS 或 localhost 页面上提供定位；请${instead}。`, 'warn');
    return;
  }
  if (!('geolocation' in navigator)) {
    showMessage(`此浏览器不支持定位；请${instead}。`, 'warn');
    return;
  }
  showMessage('正在定位…');
  navigator.geolocation.getCurrentPosition(
    (pos) => {
      const wgs84 = [pos.coords.longitude, pos.coords.latitude];
      const mapPoint = crs === 'gcj02' ? wgs84ToGcj02(wgs84) : wgs84;
      showMessage(`已定位（精度约 ${Math.round(pos.coords.accuracy)} 米）`);
      map.flyTo({ center: mapPoint, zoom: Math.max(map.getZoom(), 16) });
      onPosition(wgs84, mapPoint);
    },
    (err) => {
      const text =
        {
          1: `定位被拒绝：请在浏览器的网站设置中允许使用位置信息，或${instead}。`,
          2: `无法获取当前位置（定位服务不可用），请${instead}。`,
          3: `定位超时，请稍后重试或${instead}。`,
        }[err.code] ?? `定位失败：${err.message}`;
      showMessage(text, 'warn');
    },
    { enableHighAccuracy: true, timeout: 15000, maximumAge: 30000 },
  );
}
