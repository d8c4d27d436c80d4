// Light and dark themes. The choice is stored in localStorage `utter_theme` (`light` or
// `dark`; anything else, such as `system`, which older versions stored, means light) and
// follows the user across tabs.

const KEY = 'utter_theme';

export function storedTheme() {
  try {
    return localStorage.getItem(KEY) === 'dark' ? 'dark' : 'light';
  } catch {
    return 'light';
  }
}

const listeners = new Set();

export function onThemeChange(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function applyTheme(theme) {
  const root = document.documentElement;
  root.classList.toggle('dark', theme === 'dark');
  root.style.colorScheme = theme;
  const meta = document.querySelector('meta[name="theme-color"]');
  if (meta) meta.setAttribute('content', theme === 'dark' ? '#0d0d0d' : '#ffffff');
  const toggle = document.getElementById('theme-toggle');
  if (toggle) {
    // The label says what pressing it does (no aria-pressed: that would contradict it).
    toggle.setAttribute('aria-label', theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme');
    toggle.title = toggle.getAttribute('aria-label');
  }
  for (const fn of listeners) fn(theme);
}

export function setTheme(theme) {
  try { localStorage.setItem(KEY, theme); } catch { /* not persisted */ }
  applyTheme(theme);
}

export function initTheme() {
  applyTheme(storedTheme());
  const toggle = document.getElementById('theme-toggle');
  if (toggle) {
    toggle.addEventListener('click', () => setTheme(document.documentElement.classList.contains('dark') ? 'light' : 'dark'));
  }
  window.addEventListener('storage', (event) => {
    if (event.key === KEY) applyTheme(storedTheme());
  });
}
