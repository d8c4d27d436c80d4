// The client for Utter's /api: request() from http.js with the signed-in user's session,
// so every call sends the bearer token and gets one retry after a refresh. Errors are
// HttpErrors carrying the API's own plain-words `detail`, for pages to show as it is.

import { expire, getAccessToken, refresh } from './auth.js';
import { request } from './http.js';

// A second 401 after the refresh signs out, and the router's guard then sends the user
// to sign in.
export const session = {
  token: getAccessToken,
  async renew() {
    await refresh();
    return getAccessToken();
  },
  expire,
};

// Calls the API and returns the parsed JSON body (or null for an empty one).
export function api(path, { auth = true, ...options } = {}) {
  return request(path, { ...options, session: auth ? session : null });
}

// A public GET asked once per page load; a failure is forgotten so the next caller asks
// again, and meanwhile `fallback` stands in.
function once(path, fallback) {
  let promise = null;
  return () => {
    if (!promise) {
      promise = api(path, { auth: false }).catch(() => {
        promise = null;
        return fallback;
      });
    }
    return promise;
  };
}

// GET /api/languages: the engine's languages and whether transcription is on. Never
// throws; a failure gives a minimal list.
export const languages = once('/api/languages', {
  languages: ['Auto'], default: 'Auto', provider: null, transcription: { enabled: false }, failed: true,
});

// GET /api/limits: the length rules the server enforces, so the forms check and word the
// same numbers. Never throws; without them (`failed`) the forms leave the checks to the
// server, whose refusal is shown as it is.
export const limits = once('/api/limits', { reference: {}, failed: true });

// True when `value` is longer than `max`; an unknown limit never is.
export function overLimit(value, max) {
  return typeof max === 'number' && String(value).length > max;
}

// What is wrong with a voice's name, in the server's words, or null when nothing is.
export function nameProblem(value, rules) {
  const name = String(value).trim();
  if (name && !overLimit(name, rules.voice_name_max)) return null;
  return rules.voice_name_max ? `Name must be 1-${rules.voice_name_max} characters.` : 'A name is required.';
}
