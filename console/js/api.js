// The REST API (/api/v1/) with the logged-in user's credentials, which are
// kept in sessionStorage (gone when the tab closes).

const KEY = 'castor.console.credentials';

export function credentials() {
  try {
    const c = JSON.parse(sessionStorage.getItem(KEY) || 'null');
    return c && typeof c.name === 'string' ? c : null;
  } catch {
    return null;
  }
}

export function saveCredentials(name, password) {
  sessionStorage.setItem(KEY, JSON.stringify({ name, password }));
}

export function forgetCredentials() {
  sessionStorage.removeItem(KEY);
}

function basic(name, password) {
  const bytes = new TextEncoder().encode(`${name}:${password}`);
  let bin = '';
  for (const b of bytes) bin += String.fromCharCode(b);
  return 'Basic ' + btoa(bin);
}

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || code || `HTTP ${status}`);
    this.status = status;
    this.code = code || `HTTP_${status}`;
  }
}

// Called when the server refuses the stored credentials (401).
let onUnauthorized = () => {};
export function setUnauthorizedHandler(fn) { onUnauthorized = fn; }

// One request. `creds` overrides the stored credentials (the login check).
// Resolves to the answer's JSON; rejects with an ApiError.
export async function request(method, path, body, creds) {
  const c = creds || credentials();
  const headers = { Accept: 'application/json', 'X-Requested-With': 'castor-console' };
  if (c && (c.name || c.password)) headers.Authorization = basic(c.name, c.password);
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res;
  try {
    res = await fetch('/api/v1' + path, {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body),
      credentials: 'omit', cache: 'no-store',
    });
  } catch (e) {
    throw new ApiError(0, 'UNREACHABLE', `the server is not reachable (${e.message})`);
  }
  let json = null;
  try { json = await res.json(); } catch { /* not JSON */ }
  if (res.ok && (!json || json.ok !== false)) return json || {};
  const err = (json && json.error) || {};
  const e = new ApiError(res.status, err.code, err.message || `${res.status} ${res.statusText}`);
  if (res.status === 401 && !creds) onUnauthorized(e);
  throw e;
}

// Checks credentials against the API: the server refuses wrong ones with
// 401; an answer or another refusal (403: the user may not list sessions)
// means it knows them.
export async function checkLogin(name, password) {
  try {
    await request('GET', '/sessions', undefined, { name, password });
    return { ok: true };
  } catch (e) {
    if (e.status === 401 || e.status === 0) return { ok: false, error: e };
    return { ok: true };
  }
}

// A path of the API with each level percent-encoded ('/' kept between).
export function pathPart(p) {
  return p.split('/').map(encodeURIComponent).join('/');
}

export const api = {
  get: (p) => request('GET', p),
  post: (p, b) => request('POST', p, b),
  put: (p, b) => request('PUT', p, b),
  del: (p) => request('DELETE', p),
};
