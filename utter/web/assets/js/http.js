// The one place the app talks HTTP: /api, /auth/v1, audio and signed uploads all go
// through request() or upload(), so every failure reaches a page as an HttpError with
// the HTTP `status` (0 when nothing came back) and a `detail` in plain words: the
// server's own when it sent one, else a sentence saying what happened.

export class HttpError extends Error {
  constructor(status, detail) {
    super(detail);
    this.name = 'HttpError';
    this.status = status;
    this.detail = detail;
  }
}

const OFFLINE = 'Could not reach the server. Check your connection and try again.';

// What to show for any error a page catches: an HttpError's detail, or a thrown Error's
// message (a bug, or the browser refusing something), never "undefined".
export function plainWords(err) {
  if (err && typeof err.detail === 'string' && err.detail) return err.detail;
  if (err && typeof err.message === 'string' && err.message) return err.message;
  return 'Something went wrong. Please try again.';
}

// Reads an error body: the first of `keys` that holds some words. Utter's own errors are
// `{"detail": "..."}`; other services word theirs differently.
export function wordsFrom(keys) {
  return (data) => {
    if (!data || typeof data !== 'object') return null;
    const key = keys.find((k) => typeof data[k] === 'string' && data[k]);
    return key ? data[key] : null;
  };
}

const apiDetail = wordsFrom(['detail']);
// A signed upload URL may be this server's storage route or an S3-compatible store.
const storageDetail = wordsFrom(['detail', 'message', 'error']);

export function buildUrl(path, query) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue;
    url.searchParams.set(key, String(value));
  }
  return url;
}

function parse(text) {
  if (!text) return { ok: true, data: null };
  try {
    return { ok: true, data: JSON.parse(text) };
  } catch {
    return { ok: false, data: null };
  }
}

async function send(url, { method, json, form, headers: extra, token, expect, offline }) {
  const headers = { ...(expect === 'json' ? { Accept: 'application/json' } : {}), ...(extra || {}) };
  let body;
  if (json !== undefined) {
    headers['Content-Type'] = 'application/json';
    body = JSON.stringify(json);
  } else if (form !== undefined) {
    body = form; // the browser sets the multipart boundary
  }
  if (token) headers.Authorization = `Bearer ${token}`;
  try {
    return await fetch(url, { method, headers, body });
  } catch {
    throw new HttpError(0, offline || OFFLINE);
  }
}

// One request, answered with its parsed JSON (null for an empty body) or, with
// `expect: 'blob'`, its bytes.
//
// `session` ({ token(), renew(), expire() }) sends the bearer token; a 401 then gets one
// retry with the token renew() returns, and a second 401 calls expire(), which signs the
// user out. `token` sends a fixed token with no retry (the auth service's own calls).
// `describe(data, status)` reads an error body in another dialect than Utter's `detail`.
export async function request(path, {
  method = 'GET', query, json, form, headers, session = null, token = null,
  expect = 'json', describe = apiDetail, offline, failure = 'The server answered with an error',
} = {}) {
  const url = buildUrl(path, query);
  const options = { method, json, form, headers, expect, offline };
  let sent = session ? await session.token() : token;
  let response = await send(url, { ...options, token: sent });
  if (response.status === 401 && session && sent) {
    try {
      sent = await session.renew();
    } catch {
      sent = null;
    }
    if (sent) response = await send(url, { ...options, token: sent });
    if (response.status === 401) session.expire();
  }
  if (!response.ok) {
    const { data } = parse(await response.text().catch(() => ''));
    throw new HttpError(response.status, describe(data, response.status) || `${failure} (${response.status}).`);
  }
  if (expect === 'blob') return response.blob();
  if (response.status === 204) return null;
  const { ok, data } = parse(await response.text());
  // A proxy's error page or a captive portal answers 200 with HTML.
  if (!ok) throw new HttpError(response.status, 'The server sent an answer that is not what Utter expected. Try again in a moment.');
  return data;
}

// A PUT of a file with upload progress, which fetch() cannot report: the one
// XMLHttpRequest in the app. Failures read like request()'s.
export function upload(url, file, { contentType, onProgress, describe = storageDetail } = {}) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open('PUT', url);
    if (contentType) xhr.setRequestHeader('Content-Type', contentType);
    xhr.upload.addEventListener('progress', (event) => {
      if (event.lengthComputable && onProgress) onProgress(event.loaded / event.total);
    });
    xhr.addEventListener('load', () => {
      if (xhr.status >= 200 && xhr.status < 300) { resolve(); return; }
      const { data } = parse(xhr.responseText);
      reject(new HttpError(xhr.status, describe(data, xhr.status) || `The upload failed (${xhr.status}).`));
    });
    xhr.addEventListener('error', () => reject(new HttpError(0, 'The upload was interrupted. Check your connection and try again.')));
    xhr.send(file);
  });
}
