// The API client. Every call carries the bearer token; the dashboard's own
// files need none, so a page without a token still loads and asks for one.
//
// The token comes from the URL fragment (#token=..., which browsers never
// send to a server, so it stays out of access logs and Referer headers) or
// the sign-in box, and is kept in sessionStorage: it dies with the tab and
// is not shared with other tabs or written to disk as a cookie would be.

const KEY = 'inbond.token';

/** Moves a #token=... fragment into sessionStorage and out of the address bar. */
export function takeTokenFromFragment() {
  const params = new URLSearchParams(location.hash.replace(/^#\/?/, ''));
  const t = params.get('token');
  if (!t) return;
  sessionStorage.setItem(KEY, t);
  params.delete('token');
  const rest = params.toString();
  history.replaceState(null, '', location.pathname + location.search + (rest ? '#' + rest : '#/'));
}

export const token = () => sessionStorage.getItem(KEY) || '';
export const setToken = (t) => sessionStorage.setItem(KEY, t.trim());
export const clearToken = () => sessionStorage.removeItem(KEY);

/** The API's error: its status, message and the field it names, if any. */
export class APIError extends Error {
  constructor(status, body) {
    super(body?.error || `HTTP ${status}`);
    this.status = status;
    this.field = body?.field;
  }
}

/** Sends a request; resolves to the JSON (or text) answer, rejects with an APIError. */
export async function request(method, path, body) {
  const headers = { Authorization: `Bearer ${token()}`, Accept: 'application/json, text/plain' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const res = await fetch(path, { method, headers, cache: 'no-store',
    body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await res.text();
  const isJSON = (res.headers.get('Content-Type') || '').includes('json');
  const data = isJSON && text ? JSON.parse(text) : text;
  if (res.status === 401) window.dispatchEvent(new CustomEvent('inbond:unauthorized', { detail: data?.error }));
  if (!res.ok) throw new APIError(res.status, isJSON ? data : { error: text });
  return data;
}

export const get = (path) => request('GET', path);
export const post = (path, body) => request('POST', path, body);

/** Every item of a paged list, following next_cursor (bounded by pages). */
export async function all(path, pages = 20) {
  const sep = path.includes('?') ? '&' : '?';
  let items = [], cursor = '';
  for (let i = 0; i < pages; i++) {
    const p = await get(path + (cursor ? `${sep}cursor=${encodeURIComponent(cursor)}` : ''));
    items = items.concat(p.items);
    if (!p.next_cursor) break;
    cursor = p.next_cursor;
  }
  return items;
}

/** The role the token has, found by what it may read: cbp reads alerts, doe only aggregates. */
export async function whoAmI() {
  try { await get('/v1/alerts?limit=1'); } catch (e) {
    if (e.status === 403) return 'doe';
    throw e;
  }
  try { await get('/v1/aggregates'); return 'cbp'; } catch (e) {
    if (e.status === 403) return 'carrier';
    throw e;
  }
}
