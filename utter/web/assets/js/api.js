// The client for Utter's /api: JSON in and out, the session's bearer token, and errors
// carrying the API's own plain-words `detail` so pages can show it as it is.

import { expire, getAccessToken, refresh } from './auth.js';

export class ApiError extends Error {
  constructor(status, detail) {
    super(detail);
    this.status = status;
    this.detail = detail;
  }
}

function buildUrl(path, query) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value === undefined || value === null || value === '') continue;
    url.searchParams.set(key, String(value));
  }
  return url;
}

async function send(url, { method, json, form, headers: extra, token }) {
  const headers = { Accept: 'application/json', ...(extra || {}) };
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
    throw new ApiError(0, 'Could not reach the server. Check your connection and try again.');
  }
}

async function detailOf(response) {
  try {
    const data = await response.json();
    if (data && typeof data.detail === 'string') return data.detail;
  } catch { /* not JSON */ }
  return `The server answered with an error (${response.status}).`;
}

// Calls the API and returns the parsed JSON body (or null for an empty one).
// A 401 gets one retry after refreshing the session; a second 401 signs out, and the
// router's guard then sends the user to sign in.
export async function api(path, { method = 'GET', json, form, query, auth = true, headers } = {}) {
  const url = buildUrl(path, query);
  let token = auth ? await getAccessToken() : null;
  let response = await send(url, { method, json, form, headers, token });
  if (response.status === 401 && auth && token) {
    try {
      await refresh();
      token = await getAccessToken();
    } catch {
      token = null;
    }
    if (token) response = await send(url, { method, json, form, headers, token });
    if (response.status === 401) expire();
  }
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  if (response.status === 204) return null;
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// An authenticated GET that follows the API's 302 to a signed URL and returns the bytes.
export async function apiBlob(path, { query } = {}) {
  const url = buildUrl(path, query);
  const sameOrigin = url.origin === location.origin;
  const token = sameOrigin && url.pathname.startsWith('/api/') ? await getAccessToken() : null;
  let response;
  try {
    response = await fetch(url, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
  } catch {
    throw new ApiError(0, 'Could not load the audio. Check your connection and try again.');
  }
  if (!response.ok) throw new ApiError(response.status, await detailOf(response));
  return response.blob();
}

let languagesPromise = null;

// GET /api/languages, once per page load: the engine's languages and whether
// transcription is on. Never throws; a failure gives a minimal list.
export function languages() {
  if (!languagesPromise) {
    languagesPromise = api('/api/languages', { auth: false }).catch(() => {
      languagesPromise = null;
      return { languages: ['Auto'], default: 'Auto', provider: null, transcription: { enabled: false }, failed: true };
    });
  }
  return languagesPromise;
}
