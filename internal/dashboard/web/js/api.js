// api.js is the ONLY module that calls fetch. Everything the dashboard
// does goes through the public /v1 API with the browser session: the
// session cookie (sent by the browser, credentials: same-origin) and, on
// unsafe methods, the CSRF header carrying the script-readable CSRF cookie
// (docs/identity.md, internal/session).

export const CSRF_COOKIE = 'plexsphere_csrf';
export const CSRF_HEADER = 'X-Plexsphere-CSRF';

// ApiError is a failed call: the problem+json answer decoded.
export class ApiError extends Error {
  constructor(status, problem = {}) {
    super(problem.detail || problem.title || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = problem.code || '';
    this.title = problem.title || '';
    this.detail = problem.detail || '';
    // errors: [{location: 'body.name', message, value}] (huma's shape).
    this.errors = Array.isArray(problem.errors) ? problem.errors : [];
    // acrValues: what a 401 step_up_required asks for (WWW-Authenticate).
    this.acrValues = [];
  }
}

// The signed-in user (GET /v1/auth/whoami), for step-up.
let currentUser = null;
export function setCurrentUser(u) { currentUser = u; }

export const RETURN_KEY = 'plexsphere.returnTo';

// stepUp answers a 401 step_up_required: sign in again asking the IdP for
// the ACRs the operation needs, then come back to this page (retry there).
export async function stepUp(err) {
  sessionStorage.setItem(RETURN_KEY, location.hash);
  const started = await post('/v1/auth/sign-in', {
    domain_id: currentUser?.domain_id || undefined,
    acr_values: err?.acrValues?.length ? err.acrValues : undefined,
    return_to: '/ui/',
  });
  location.assign(started.authorization_url);
}

function cookie(name) {
  for (const part of document.cookie.split(';')) {
    const [k, ...v] = part.trim().split('=');
    if (k === name) return decodeURIComponent(v.join('='));
  }
  return '';
}

// hasSessionHint reports whether this browser holds the CSRF cookie that
// comes with a session (it may have ended since: whoami tells).
export function hasSessionHint() {
  return cookie(CSRF_COOKIE) !== '';
}

// forgetSession drops the CSRF cookie (after a sign-out or a 401), so the
// next load does not take the browser for signed in.
export function forgetSession() {
  document.cookie = `${CSRF_COOKIE}=; Max-Age=0; Path=/; SameSite=Strict`;
}

// query renders params (skipping empty values) as a query string.
export function query(params = {}) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v === undefined || v === null || v === '') continue;
    q.set(k, String(v));
  }
  const s = q.toString();
  return s ? `?${s}` : '';
}

const listeners = new Set();
// onUnauthenticated registers fn, called when a call answers 401.
export function onUnauthenticated(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

// request calls the API. path starts with /v1/. Answers 204 as null.
export async function request(method, path, { body, params, signal, headers = {} } = {}) {
  if (!path.startsWith('/v1/')) throw new Error(`api: not an API path: ${path}`);
  const h = { Accept: 'application/json, application/problem+json', ...headers };
  const unsafe = !['GET', 'HEAD', 'OPTIONS'].includes(method);
  if (unsafe) {
    const csrf = cookie(CSRF_COOKIE);
    if (csrf) h[CSRF_HEADER] = csrf;
  }
  let payload;
  if (body !== undefined) {
    h['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const resp = await fetch(path + query(params), {
    method, headers: h, body: payload, signal, credentials: 'same-origin', cache: 'no-store', redirect: 'error',
  });
  const type = resp.headers.get('Content-Type') || '';
  const text = await resp.text();
  let data = null;
  if (text && type.includes('json')) {
    try { data = JSON.parse(text); } catch { data = null; }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data || { detail: text.slice(0, 200) });
    const acr = /acr_values="([^"]*)"/.exec(resp.headers.get('WWW-Authenticate') || '');
    if (acr) err.acrValues = acr[1].split(/\s+/).filter(Boolean);
    // A step-up requirement keeps the session; anything else 401 ends it.
    if (resp.status === 401 && err.code !== 'step_up_required') {
      forgetSession();
      listeners.forEach((fn) => fn(err));
    }
    throw err;
  }
  return resp.status === 204 ? null : data ?? text;
}

export const get = (path, params, opts) => request('GET', path, { ...opts, params });
export const post = (path, body, opts) => request('POST', path, { ...opts, body });
export const put = (path, body, opts) => request('PUT', path, { ...opts, body });
export const patch = (path, body, opts) => request('PATCH', path, { ...opts, body });
export const del = (path, opts) => request('DELETE', path, opts);

// list fetches one page of a cursor-paged list: {items, next_cursor}.
// params may carry cursor and limit (1..200) and the list's filters. A
// bare-array answer (the contract's lists) becomes {items}.
export async function list(path, params = {}, opts) {
  const data = await get(path, params, opts);
  if (Array.isArray(data)) return { items: data, next_cursor: '' };
  return { items: data?.items || [], next_cursor: data?.next_cursor || '' };
}

// socket opens a WebSocket to an API path on this origin (the browser
// sends the session cookie; the server checks the Origin).
export function socket(path, params) {
  if (!path.startsWith('/v1/')) throw new Error(`api: not an API path: ${path}`);
  const u = new URL(path + query(params), location.href);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  const ws = new WebSocket(u);
  ws.binaryType = 'arraybuffer';
  return ws;
}

// stream opens an SSE stream of the API; handlers maps event names to
// functions taking the parsed data (JSON when it parses). Returns a close
// function.
export function stream(path, handlers = {}, params) {
  if (!path.startsWith('/v1/')) throw new Error(`api: not an API path: ${path}`);
  const es = new EventSource(path + query(params), { withCredentials: false });
  for (const [name, fn] of Object.entries(handlers)) {
    if (name === 'error' || name === 'open') continue;
    es.addEventListener(name, (ev) => {
      let data = ev.data;
      try { data = JSON.parse(ev.data); } catch { /* keep text */ }
      fn(data, ev);
    });
  }
  if (handlers.error) es.onerror = handlers.error;
  if (handlers.open) es.onopen = handlers.open;
  return () => es.close();
}
