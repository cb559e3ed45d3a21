// The signed-in session and calls to wangge's API. The bearer token lives in sessionStorage: it
// survives a reload of the tab but not the tab itself, and other tabs do not share it, so a
// shared office computer does not stay signed in after the browser is closed.

const KEY = 'wangge.session';

/** Chinese names of the roles (src/auth.rs `Role`). */
export const ROLE_NAMES = { admin: '管理员', planner: '规划员', cadre: '街道干部', secretary: '支部书记' };

/** The session {token, expires_at, user: {id, name, role, display_name?}} or null. */
export function currentSession() {
  try {
    const s = JSON.parse(sessionStorage.getItem(KEY));
    if (s?.token && s.user && !(Date.parse(s.expires_at) <= Date.now())) return s;
  } catch {
    // unreadable: treated as signed out
  }
  return null;
}

function storeSession(session) {
  if (session) sessionStorage.setItem(KEY, JSON.stringify(session));
  else sessionStorage.removeItem(KEY);
}

/**
 * An error answer of the API: HTTP status, the error's code, message and problems, and for a 429
 * the seconds to wait (Retry-After), else null.
 */
export class ApiError extends Error {
  constructor(status, body, retryAfter = null) {
    super(body?.error?.message ?? `HTTP ${status}`);
    this.status = status;
    this.code = body?.error?.code ?? null;
    this.problems = body?.error?.problems ?? [];
    this.retryAfter = retryAfter;
  }
}

/**
 * Calls the API with the session's token: resolves to {body, etag, status}, rejects with an
 * ApiError on a 4xx or 5xx. A 401 means the token expired or was revoked: the session ends.
 * No answer at all (offline, the server unreachable) rejects with fetch's TypeError, not an
 * ApiError: that is how the visit outbox tells "try again later" from "refused".
 * `anonymous` sends no token (the residents' page: what it sends must not depend on who else
 * signed in on that browser). `body` is sent as JSON, unless it is a FormData or a Blob.
 */
export async function api(path, { method = 'GET', body, ifMatch, headers: extra = {}, anonymous = false } = {}) {
  const headers = { ...extra };
  const session = anonymous ? null : currentSession();
  if (session) headers.authorization = `Bearer ${session.token}`;
  // A form (multipart, the browser sets its boundary) or a file (its type in `headers`) goes as
  // it is; anything else as JSON.
  const raw = (typeof FormData !== 'undefined' && body instanceof FormData) || (typeof Blob !== 'undefined' && body instanceof Blob);
  if (body !== undefined && !raw) headers['content-type'] = 'application/json';
  if (ifMatch !== undefined) headers['if-match'] = `"${ifMatch}"`;
  const res = await fetch(path, { method, headers, body: body === undefined || raw ? body : JSON.stringify(body) });
  const text = await res.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!res.ok) {
    if (res.status === 401 && session && !path.endsWith('/auth/login')) {
      storeSession(null);
      window.dispatchEvent(new CustomEvent('wangge:session'));
    }
    const retryAfter = Number.parseInt(res.headers.get('retry-after') ?? '', 10);
    throw new ApiError(res.status, json, Number.isFinite(retryAfter) ? retryAfter : null);
  }
  const etag = res.headers.get('etag');
  return { body: json, etag: etag ? etag.replace(/^W\//, '').replace(/"/g, '') : null, status: res.status };
}

/** Signs in; the session is kept and announced (event `wangge:session` on window). */
export async function signIn(name, password) {
  const { body } = await api('/api/v1/auth/login', { method: 'POST', body: { name, password } });
  storeSession(body);
  window.dispatchEvent(new CustomEvent('wangge:session'));
  return body;
}

/** Signs out: the server revokes the token; the session ends here whatever it answers. */
export async function signOut() {
  try {
    if (currentSession()) await api('/api/v1/auth/logout', { method: 'POST' });
  } finally {
    storeSession(null);
    window.dispatchEvent(new CustomEvent('wangge:session'));
  }
}

/** Whether the signed-in user has one of these roles. */
export function hasRole(...roles) {
  return roles.includes(currentSession()?.user.role);
}

/**
 * The query of GET /api/v1/lookup for [lon, lat] in `crs` (wgs84 or gcj02). The numbers go out
 * as JavaScript prints them, the shortest text that parses back to the same double, so the server
 * decides for exactly the point the page has: a point on a shared edge or vertex gets the owner
 * the server's boundary rule gives it, not the owner of a point rounded a few millimetres away.
 */
export function lookupQuery([lon, lat], crs) {
  const params = new URLSearchParams({ lon: String(lon), lat: String(lat) });
  if (crs !== 'wgs84') params.set('crs', crs);
  return params;
}

/**
 * The TileJSON of every layer the server lists at /tiles, by name, in the map's CRS (`crs`:
 * wgs84, or gcj02 under a GCJ-02 basemap): the style takes its sources' zooms and the layers it
 * can draw from them. A layer whose TileJSON does not come is left off the map.
 */
export async function loadTileJson(crs = 'wgs84') {
  const crsQuery = crs === 'wgs84' ? '' : `?crs=${crs}`;
  const get = async (url) => {
    const res = await fetch(url);
    const body = await res.json().catch(() => null);
    if (!res.ok) throw new ApiError(res.status, body);
    return body;
  };
  const { layers } = await get('/tiles');
  const docs = await Promise.all(
    layers.map((l) => get(`${l.tilejson}${crsQuery}`).catch((e) => console.warn(`no TileJSON for ${l.name}: ${e.message}`))),
  );
  return Object.fromEntries(layers.map((l, i) => [l.name, docs[i]]).filter(([, doc]) => doc));
}
