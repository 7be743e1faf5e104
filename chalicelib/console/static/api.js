// The public JSON API, as the console calls it: same origin, bearer token, errors turned into words.

const state = { token: () => null, unauthorized: () => {} };

// The path in front of /console (API Gateway's stage, e.g. "/api"; empty locally).
export function apiBase() {
  const path = location.pathname;
  const at = path.lastIndexOf('/console');
  return at >= 0 ? path.slice(0, at) : '';
}

export function configure({ token, unauthorized }) {
  state.token = token;
  state.unauthorized = unauthorized;
}

export class ApiError extends Error {
  constructor(status, code, message, field, retryAfter) {
    super(message);
    this.status = status;
    this.code = code;
    this.field = field;
    this.retryAfter = retryAfter;
    this.words = explain(this);
  }
}

function explain(err) {
  const detail = err.field ? `${err.field}: ${err.message}` : err.message;
  switch (err.status) {
    case 0:
      return 'The server could not be reached. Check that it is running, then try again.';
    case 401:
      return `Not signed in: ${err.message}. The key may have been revoked or the session expired; sign in again.`;
    case 403:
      return `Not allowed with this key: ${err.message}.`;
    case 404:
      return `Not found: ${err.message}. It may have been deleted, or it belongs to another tenant.`;
    case 409:
      return `Conflict: ${detail}.`;
    case 413:
      return `Too large: ${detail}.`;
    case 428:
      return `The request needs a precondition: ${detail}.`;
    case 429:
      return `Slow down: ${detail}.${err.retryAfter ? ` Try again in ${err.retryAfter} s.` : ''}`;
    case 503:
      return `The service is busy: ${detail}.${err.retryAfter ? ` Try again in ${err.retryAfter} s.` : ''}`;
    default:
      if (err.status >= 500) return `The server failed (${err.status}): ${err.message}. Try again.`;
      return `Rejected: ${detail}.`;
  }
}

export async function call(method, path, { body, query, headers, quiet401 = false } = {}) {
  const url = new URL(apiBase() + path, location.origin);
  for (const [name, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== '') url.searchParams.set(name, value);
  }
  const sent = { Accept: 'application/json', ...(headers || {}) };
  const token = state.token();
  if (token) sent.Authorization = `Bearer ${token}`;
  const init = { method, headers: sent, cache: 'no-store', credentials: 'omit', redirect: 'error' };
  if (body !== undefined) {
    sent['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, 'network', 'network error');
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = (data && data.error) || {};
    const err = new ApiError(response.status, error.code || `http_${response.status}`,
      error.message || response.statusText || 'request failed', error.field, response.headers.get('Retry-After'));
    if (response.status === 401 && !quiet401) state.unauthorized(err);
    throw err;
  }
  return { data, etag: response.headers.get('ETag') };
}

export const get = (path, query, options) => call('GET', path, { query, ...(options || {}) }).then((r) => r.data);

// Every page of a list, up to `maxItems`.
export async function all(path, query = {}, maxItems = 1000) {
  const items = [];
  let cursor;
  do {
    const page = await get(path, { ...query, limit: 500, cursor });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor && items.length < maxItems);
  return { items, truncated: Boolean(cursor) };
}
