// The History-API router. The server answers every app path with index.html, so the
// router decides what a URL shows: it guards signed-in pages, loads the page's module,
// and lets a page keep itself when only its query string changes (search, filters, page).

import { confirmUser, isSignedIn, onAuthChange } from './auth.js';
import { h, replace } from './dom.js';
import { plainWords } from './http.js';

export const routes = [
  { path: '/', page: 'landing', title: 'Utter — clone, design and generate voices' },
  { path: '/auth', page: 'auth', title: 'Sign in' },
  { path: '/clone', page: 'clone', auth: true, title: 'Clone a voice' },
  { path: '/generate', page: 'generate', auth: true, title: 'Generate speech' },
  { path: '/design', page: 'design', auth: true, title: 'Design a voice' },
  { path: '/voices', page: 'voices', auth: true, title: 'Voices' },
  { path: '/history', page: 'history', auth: true, title: 'History' },
  { path: '/account', page: 'account', auth: true, title: 'Account', section: 'profile' },
  { path: '/account/usage', page: 'account', auth: true, title: 'Usage', section: 'usage' },
  { path: '/account/keys', page: 'account', auth: true, title: 'API keys', section: 'keys' },
  { path: '/about', page: 'about', title: 'About Utter' },
  { path: '/privacy', page: 'privacy', title: 'Privacy' },
  { path: '/terms', page: 'terms', title: 'Terms of use' },
];

const aliases = { '/account/profile': '/account', '/account/auth': '/auth', '/sign-in': '/auth' };
const notFound = { path: null, page: 'not-found', title: 'Page not found' };

const listeners = new Set();
let current = null; // { route, view, path }
let renderToken = 0;
let started = false;
let rendered = null; // path + query the page on screen was rendered for

export function onNavigate(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function currentPath() {
  return normalize(location.pathname);
}

function normalize(pathname) {
  const trimmed = pathname.length > 1 ? pathname.replace(/\/+$/, '') : pathname;
  return trimmed || '/';
}

export function matchRoute(pathname) {
  const path = normalize(pathname);
  return routes.find((route) => route.path === path) || notFound;
}

// Only a place on this site is accepted to return to after signing in. The browser's own
// URL parser decides (it drops tabs and newlines and reads `\` as `/`, so string checks miss
// forms like `/\t/evil.example`); a path starting `//` would itself leave the site.
export function safeReturnTo(value, fallback = '/clone') {
  if (typeof value !== 'string' || value === '') return fallback;
  let url;
  try {
    url = new URL(value, location.origin);
  } catch {
    return fallback;
  }
  if (url.origin !== location.origin || url.pathname.startsWith('//')) return fallback;
  return url.pathname + url.search + url.hash;
}

export function navigate(to, { replace: replaceEntry = false } = {}) {
  const url = new URL(to, location.origin);
  if (url.origin !== location.origin) {
    location.assign(url.href);
    return;
  }
  const target = url.pathname + url.search + url.hash;
  const samePage = normalize(url.pathname) === currentPath() && current;
  if (replaceEntry) history.replaceState({}, '', target);
  else history.pushState({}, '', target);
  render({ push: !replaceEntry, samePage });
}

// Pages call this to mirror their filters in the URL without being rebuilt.
export function setQuery(values, { push = false } = {}) {
  const url = new URL(location.href);
  for (const [key, value] of Object.entries(values)) {
    if (value === undefined || value === null || value === '' || value === false) url.searchParams.delete(key);
    else url.searchParams.set(key, String(value));
  }
  const target = url.pathname + url.search + url.hash;
  if (target === location.pathname + location.search + location.hash) return;
  if (push) history.pushState({}, '', target);
  else history.replaceState({}, '', target);
  rendered = location.pathname + location.search;
}

function context(route) {
  const url = new URL(location.href);
  return { route, url, params: url.searchParams, path: normalize(url.pathname), navigate, setQuery };
}

function guardRedirect() {
  const returnTo = location.pathname + location.search + location.hash;
  navigate(`/auth?returnTo=${encodeURIComponent(returnTo)}`, { replace: true });
}

function destroyCurrent() {
  if (current && current.view && typeof current.view.destroy === 'function') {
    try { current.view.destroy(); } catch (err) { console.warn('page cleanup failed', err); }
  }
  current = null;
}

function scrollToHash(hash) {
  if (!hash) return false;
  const target = document.getElementById(decodeURIComponent(hash.slice(1)));
  if (!target) return false;
  target.scrollIntoView({ behavior: matchMedia('(prefers-reduced-motion: reduce)').matches ? 'auto' : 'smooth' });
  return true;
}

export async function render({ push = false, samePage = false, initial = false } = {}) {
  const token = ++renderToken;
  const main = document.getElementById('main');
  const path = currentPath();
  rendered = location.pathname + location.search;
  if (aliases[path]) {
    history.replaceState({}, '', aliases[path] + location.search + location.hash);
    return render({ push, initial });
  }
  const route = matchRoute(path);
  for (const fn of listeners) fn(path, route);

  if (samePage && current && current.route === route && current.view && typeof current.view.update === 'function') {
    current.view.update(context(route));
    if (!scrollToHash(location.hash) && push) window.scrollTo(0, 0);
    return;
  }

  destroyCurrent();
  if (route.auth) {
    if (!isSignedIn()) {
      guardRedirect();
      return;
    }
    replace(main, h('p', { class: 'page-status', role: 'status' }, 'Checking session…'));
    let user = null;
    try {
      user = await confirmUser();
    } catch (err) {
      if (token !== renderToken) return;
      replace(main, h('div', { class: 'page-status' },
        h('p', { role: 'alert' }, plainWords(err)),
        h('button', { type: 'button', class: 'button', onclick: () => render() }, 'Try again')));
      return;
    }
    if (token !== renderToken) return;
    if (!user) {
      guardRedirect();
      return;
    }
  }

  let module;
  try {
    module = await import(`./pages/${route.page}.js`);
  } catch (err) {
    console.warn('page failed to load', err);
    if (token !== renderToken) return;
    replace(main, h('p', { class: 'page-status', role: 'alert' }, 'This page failed to load. Reload to try again.'));
    return;
  }
  if (token !== renderToken) return;
  document.title = route.title === routes[0].title ? route.title : `${route.title} · Utter`;
  replace(main);
  main.dataset.page = route.page;
  const view = await module.render(main, context(route));
  if (token !== renderToken) {
    if (view && typeof view.destroy === 'function') view.destroy();
    return;
  }
  current = { route, view: view || null };
  if (!scrollToHash(location.hash)) {
    if (push) window.scrollTo(0, 0);
    if (!initial) {
      const heading = main.querySelector('h1');
      if (heading) heading.focus({ preventScroll: true });
    }
  }
}

function onClick(event) {
  if (event.defaultPrevented || event.button !== 0) return;
  if (event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
  const link = event.target.closest('a[href]');
  if (!link || link.target || link.hasAttribute('download') || link.dataset.native !== undefined) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin) return;
  // The server owns these; let the browser go there.
  if (/^\/(api|auth\/v1|storage|docs|redoc|openapi\.json)(\/|$)/.test(url.pathname)) return;
  // A link within this page (the skip link, a section anchor): the browser scrolls and
  // moves focus itself.
  if (url.pathname === location.pathname && url.search === location.search && url.hash) return;
  event.preventDefault();
  navigate(url.pathname + url.search + url.hash);
}

export function start() {
  if (started) return;
  started = true;
  document.addEventListener('click', onClick);
  window.addEventListener('popstate', () => {
    // Only the fragment changed (an in-page link, or Back over one): nothing to render.
    if (location.pathname + location.search === rendered) return;
    render({ samePage: true });
  });
  onAuthChange((event) => {
    // Signed out (here or in another tab) while on a page that needs a user.
    if (event === 'SIGNED_OUT' && current && current.route.auth) render();
  });
  render({ initial: true });
}
