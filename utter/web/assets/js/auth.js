// A small client for Utter's /auth/v1, which speaks Supabase Auth's (GoTrue's) REST dialect,
// through http.js like every other request.
//
// The session (access token, refresh token, expiry, user) lives in localStorage, so
// every tab shares it: a sign-in or sign-out in one tab reaches the others through the
// `storage` event. The access token is refreshed a minute before it expires; tabs take
// a Web Lock around the refresh and re-read storage inside it, so with several tabs
// open only one of them spends the (rotating) refresh token.

import { plainWords, request, wordsFrom } from './http.js';

const STORAGE_KEY = 'utter_session';
const AUTH = '/auth/v1';
const REFRESH_MARGIN_S = 60;

const listeners = new Set();
let session = readStored();
let refreshTimer = null;
let confirmedAt = 0;

function readStored() {
  try {
    const raw = localStorage.getItem(STORAGE_KEY);
    if (!raw) return null;
    const value = JSON.parse(raw);
    return value && value.access_token && value.refresh_token ? value : null;
  } catch {
    return null;
  }
}

function nowSeconds() {
  return Math.floor(Date.now() / 1000);
}

function emit(event) {
  for (const fn of listeners) {
    try { fn(event, session); } catch (err) { console.warn('auth listener failed', err); }
  }
}

function store(next, event) {
  session = next;
  confirmedAt = next ? Date.now() : 0;
  try {
    if (next) localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
    else localStorage.removeItem(STORAGE_KEY);
  } catch { /* private mode: the session lasts for this tab only */ }
  schedule();
  emit(event);
}

function schedule() {
  clearTimeout(refreshTimer);
  if (!session) return;
  const wait = Math.max(5, session.expires_at - nowSeconds() - REFRESH_MARGIN_S);
  refreshTimer = setTimeout(() => { refresh().catch(() => {}); }, wait * 1000);
}

// Turns a GoTrue token response into the stored session.
function toSession(body) {
  const expiresAt = body.expires_at || nowSeconds() + Number(body.expires_in || 3600);
  return {
    access_token: body.access_token,
    refresh_token: body.refresh_token,
    token_type: body.token_type || 'bearer',
    expires_at: Number(expiresAt),
    user: body.user || null,
  };
}

// GoTrue words its errors in several shapes across versions; take the first that says something.
const gotrueWords = wordsFrom(['msg', 'error_description', 'message', 'detail', 'error']);

function call(path, { method = 'GET', body, token, query } = {}) {
  return request(AUTH + path, {
    method, query, json: body, token, describe: gotrueWords, failure: 'The sign-in service answered with an error',
  });
}

export function onAuthChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function getSession() {
  return session;
}

export function currentUser() {
  return session ? session.user : null;
}

export function isSignedIn() {
  return Boolean(session);
}

// A valid access token, refreshed first when it is about to expire; null when signed out.
export async function getAccessToken() {
  if (!session) return null;
  if (session.expires_at - nowSeconds() <= REFRESH_MARGIN_S) {
    try {
      await refresh();
    } catch {
      return session ? session.access_token : null;
    }
  }
  return session ? session.access_token : null;
}

async function withRefreshLock(fn) {
  if (navigator.locks && navigator.locks.request) return navigator.locks.request('utter-auth-refresh', fn);
  return fn();
}

let refreshing = null;

// Spends the refresh token for a new session. Another tab may have refreshed already:
// then its session (newer in storage) is adopted instead of spending a used token.
export function refresh() {
  if (refreshing) return refreshing;
  const stale = session;
  refreshing = withRefreshLock(async () => {
    const stored = readStored();
    if (stored && stale && stored.refresh_token !== stale.refresh_token
      && stored.expires_at - nowSeconds() > REFRESH_MARGIN_S) {
      session = stored;
      schedule();
      emit('TOKEN_REFRESHED');
      return session;
    }
    const current = stored || session;
    if (!current) return null;
    try {
      const body = await call('/token', {
        method: 'POST',
        query: { grant_type: 'refresh_token' },
        body: { refresh_token: current.refresh_token },
      });
      const next = toSession(body);
      if (!next.user) next.user = current.user;
      store(next, 'TOKEN_REFRESHED');
      return session;
    } catch (err) {
      // A rejected refresh token means the session is over (signed out elsewhere, or expired).
      if (err.status >= 400 && err.status < 500) store(null, 'SIGNED_OUT');
      throw err;
    }
  }).finally(() => { refreshing = null; });
  return refreshing;
}

export async function signInWithPassword(email, password) {
  const body = await call('/token', {
    method: 'POST',
    query: { grant_type: 'password' },
    body: { email, password },
  });
  store(toSession(body), 'SIGNED_IN');
  return session;
}

// Returns the session when the server signs the new user in at once, or null when it
// asked them to confirm their email first.
export async function signUp(email, password, redirectTo) {
  const body = await call('/signup', {
    method: 'POST',
    query: redirectTo ? { redirect_to: redirectTo } : {},
    body: { email, password },
  });
  if (body && body.access_token) {
    store(toSession(body), 'SIGNED_IN');
    return session;
  }
  return null;
}

export async function sendMagicLink(email, redirectTo) {
  await call('/otp', {
    method: 'POST',
    query: redirectTo ? { redirect_to: redirectTo } : {},
    body: { email, create_user: true },
  });
}

// Asks the server whether the stored session is still good. Cached for a minute, so
// moving between pages does not cost a round trip each time.
export async function confirmUser({ force = false } = {}) {
  if (!session) return null;
  if (!force && Date.now() - confirmedAt < 60_000) return session.user;
  const token = await getAccessToken();
  if (!token) return null;
  try {
    const user = await call('/user', { token });
    session = { ...session, user };
    confirmedAt = Date.now();
    try { localStorage.setItem(STORAGE_KEY, JSON.stringify(session)); } catch { /* ignore */ }
    return user;
  } catch (err) {
    if (err.status === 401 || err.status === 403) {
      store(null, 'SIGNED_OUT');
      return null;
    }
    throw err;
  }
}

export async function signOut() {
  const token = session ? session.access_token : null;
  store(null, 'SIGNED_OUT');
  if (token) {
    try { await call('/logout', { method: 'POST', token }); } catch { /* the local session is gone either way */ }
  }
}

// Called when the API said the token is no longer accepted.
export function expire() {
  if (session) store(null, 'SIGNED_OUT');
}

// A magic link (or email confirmation) lands on the app with the session in the URL
// fragment: `#access_token=…&refresh_token=…&expires_in=…`, or `#error=…` when it failed.
// Returns {error} or {signedIn} or null when the URL carries nothing for us.
export async function consumeUrlSession() {
  const hash = location.hash.startsWith('#') ? location.hash.slice(1) : '';
  if (!hash) return null;
  const params = new URLSearchParams(hash);
  const cleanUrl = location.pathname + location.search;
  if (params.get('error') || params.get('error_description')) {
    history.replaceState(history.state, '', cleanUrl);
    return { error: params.get('error_description') || params.get('error') };
  }
  if (!params.get('access_token') || !params.get('refresh_token')) return null;
  history.replaceState(history.state, '', cleanUrl);
  const candidate = toSession({
    access_token: params.get('access_token'),
    refresh_token: params.get('refresh_token'),
    expires_in: params.get('expires_in'),
    expires_at: params.get('expires_at'),
    token_type: params.get('token_type'),
  });
  try {
    candidate.user = await call('/user', { token: candidate.access_token });
  } catch (err) {
    return { error: plainWords(err) };
  }
  store(candidate, 'SIGNED_IN');
  return { signedIn: true };
}

window.addEventListener('storage', (event) => {
  if (event.key !== STORAGE_KEY) return;
  const next = readStored();
  const wasSignedIn = Boolean(session);
  session = next;
  confirmedAt = next ? Date.now() : 0;
  schedule();
  if (!next) emit('SIGNED_OUT');
  else emit(wasSignedIn ? 'TOKEN_REFRESHED' : 'SIGNED_IN');
});

schedule();
