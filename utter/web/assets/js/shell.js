// The parts of every page: the header (navigation, the History badge, the account link,
// the mobile menu), the keyboard shortcuts and the footer.

import { currentUser, onAuthChange } from './auth.js';
import { h, replace } from './dom.js';
import { currentPath, navigate, onNavigate } from './router.js';
import { activeCount, onTasksChange } from './tasks.js';

const appLinks = [
  { href: '/clone', label: 'Clone', key: 'c' },
  { href: '/generate', label: 'Generate', key: 'g' },
  { href: '/design', label: 'Design', key: 'd' },
];
const libraryLinks = [
  { href: '/voices', label: 'Voices' },
  { href: '/history', label: 'History', badge: true },
];
const shortcuts = Object.fromEntries(appLinks.map((link) => [link.key, link.href]));

let header;
let menuButton;
let nav;
let badge;
let accountLink;

function navLink({ href, label, key, badge: withBadge }) {
  const link = h('a', { href, class: 'nav-link', dataset: { path: href } }, label);
  if (key) {
    link.append(' ', h('kbd', { class: 'shortcut', 'aria-hidden': 'true' }, key.toUpperCase()));
    link.setAttribute('aria-keyshortcuts', key);
  }
  if (withBadge) {
    badge = h('span', { class: 'badge', hidden: true });
    link.append(' ', badge);
  }
  return link;
}

function setMenu(open) {
  header.classList.toggle('menu-open', open);
  menuButton.setAttribute('aria-expanded', String(open));
}

function renderHeader() {
  header = document.getElementById('site-header');
  menuButton = h('button', {
    type: 'button', class: 'menu-button', 'aria-expanded': 'false', 'aria-controls': 'site-nav',
    onclick: () => setMenu(!header.classList.contains('menu-open')),
  }, h('span', { class: 'visually-hidden' }, 'Menu'), h('span', { class: 'menu-icon', 'aria-hidden': 'true' }));
  accountLink = h('a', { href: '/auth', class: 'nav-link nav-account', dataset: { path: '/auth' } }, 'Sign in');
  nav = h('nav', { id: 'site-nav', class: 'site-nav', 'aria-label': 'Main' },
    h('div', { class: 'nav-group' }, appLinks.map(navLink)),
    h('span', { class: 'nav-divider', 'aria-hidden': 'true' }),
    h('div', { class: 'nav-group' }, libraryLinks.map(navLink)),
    h('div', { class: 'nav-group nav-end' },
      h('a', { href: '/about', class: 'nav-link', dataset: { path: '/about' } }, 'About'),
      accountLink));
  replace(header,
    h('div', { class: 'header-inner' },
      h('a', { href: '/', class: 'brand', 'aria-label': 'Utter home' },
        h('img', { src: '/assets/icon.svg', alt: '', width: 28, height: 28 }), h('span', {}, 'Utter')),
      menuButton,
      nav));
  nav.addEventListener('click', (event) => {
    if (event.target.closest('a')) setMenu(false);
  });
}

function updateAccount() {
  const user = currentUser();
  accountLink.textContent = user ? 'Account' : 'Sign in';
  accountLink.href = user ? '/account' : '/auth';
  accountLink.dataset.path = user ? '/account' : '/auth';
  markActive(currentPath());
}

function markActive(path) {
  for (const link of header.querySelectorAll('a.nav-link')) {
    const target = link.dataset.path;
    const active = path === target || (target !== '/' && path.startsWith(`${target}/`));
    if (active) link.setAttribute('aria-current', 'page');
    else link.removeAttribute('aria-current');
  }
}

function updateBadge() {
  const n = activeCount();
  badge.hidden = n === 0;
  badge.textContent = String(n);
  badge.setAttribute('aria-label', `${n} running`);
}

function renderFooter() {
  const footer = document.getElementById('site-footer');
  replace(footer,
    h('div', { class: 'footer-inner' },
      h('p', { class: 'footer-brand' }, 'Utter — a self-hosted voice studio.'),
      h('nav', { 'aria-label': 'Footer' },
        h('ul', { class: 'footer-links' },
          [['/account', 'Account'], ['/privacy', 'Privacy'], ['/terms', 'Terms'], ['/about', 'About']]
            .map(([href, label]) => h('li', {}, h('a', { href }, label))),
          h('li', {}, h('a', { href: '/docs', 'data-native': '' }, 'API docs'))))));
}

function isTyping(target) {
  if (!(target instanceof Element)) return false;
  if (target.isContentEditable) return true;
  return Boolean(target.closest('input, textarea, select, [contenteditable=""], [contenteditable="true"], [role="combobox"], [role="slider"]'));
}

// c / g / d open Clone, Generate and Design: not while typing, not with a modifier,
// not on key repeat, and not when that page is already open.
function onKeydown(event) {
  if (event.key === 'Escape' && header.classList.contains('menu-open')) {
    setMenu(false);
    menuButton.focus();
    return;
  }
  if (event.defaultPrevented || event.repeat || event.metaKey || event.ctrlKey || event.altKey) return;
  if (isTyping(event.target) || document.querySelector('dialog[open]')) return;
  const target = shortcuts[event.key.toLowerCase()];
  if (!target || currentPath() === target) return;
  event.preventDefault();
  navigate(target);
}

export function initShell() {
  renderHeader();
  renderFooter();
  updateAccount();
  updateBadge();
  onAuthChange(updateAccount);
  onTasksChange(updateBadge);
  onNavigate((path) => {
    markActive(path);
    setMenu(false);
  });
  document.addEventListener('keydown', onKeydown);
}
