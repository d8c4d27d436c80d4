// Small DOM helpers. Pages build their markup with h(), which only ever sets text
// through text nodes, so nothing a user typed can become markup.

import { plainWords } from './http.js';

const PROPERTIES = new Set(['value', 'checked', 'disabled', 'selected', 'hidden', 'indeterminate', 'open']);

export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === 'class') el.className = value;
    else if (key === 'dataset') Object.assign(el.dataset, value);
    else if (key === 'style' && typeof value === 'object') Object.assign(el.style, value);
    else if (key.startsWith('on') && typeof value === 'function') {
      el.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (PROPERTIES.has(key)) el[key] = value;
    else el.setAttribute(key, value === true ? '' : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.firstChild.remove();
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

let idCounter = 0;
export function uid(prefix = 'u') {
  idCounter += 1;
  return `${prefix}-${idCounter}`;
}

// m:ss, or h:mm:ss past an hour.
export function formatClock(seconds) {
  const s = Math.max(0, Math.floor(Number(seconds) || 0));
  const hours = Math.floor(s / 3600);
  const minutes = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

// "1 h 4 min", "3 min 20 s", "8.4 s": for amounts of audio.
export function formatDuration(seconds) {
  if (seconds === null || seconds === undefined || Number.isNaN(Number(seconds))) return '—';
  const s = Number(seconds);
  if (s < 60) return `${s.toFixed(s < 10 ? 1 : 0)} s`;
  const total = Math.round(s);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const rest = total % 60;
  if (hours) return `${hours} h ${minutes} min`;
  return rest ? `${minutes} min ${rest} s` : `${minutes} min`;
}

export function formatBytes(bytes) {
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(1)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

export function formatDate(iso) {
  if (!iso) return '';
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return '';
  return date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

export function truncate(text, max) {
  const value = String(text || '');
  return value.length > max ? `${value.slice(0, max - 1).trimEnd()}…` : value;
}

export function debounce(fn, ms) {
  let timer = null;
  const debounced = (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
  debounced.cancel = () => clearTimeout(timer);
  return debounced;
}

// Says something to screen readers without moving focus.
export function announce(message) {
  const region = document.getElementById('live-region');
  if (!region) return;
  region.textContent = '';
  setTimeout(() => { region.textContent = message; }, 30);
}

// A status/error line under a form; role=alert for errors so they are read at once.
// error() takes words or a caught error (shown in its plain words).
export function messageBox() {
  const el = h('div', { class: 'message', hidden: true });
  return {
    el,
    error(problem) { show(el, typeof problem === 'string' ? problem : plainWords(problem), 'error'); },
    success(text) { show(el, text, 'success'); },
    info(text) { show(el, text, 'info'); },
    clear() { el.hidden = true; el.textContent = ''; el.removeAttribute('role'); },
  };
}

function show(el, text, kind) {
  el.className = `message message-${kind}`;
  el.setAttribute('role', kind === 'error' ? 'alert' : 'status');
  el.textContent = text;
  el.hidden = false;
}

// Disables `button` and labels it with what is happening; the returned function puts it back.
export function busy(button, label) {
  const before = button.textContent;
  button.disabled = true;
  button.textContent = label;
  return () => {
    button.disabled = false;
    button.textContent = before;
  };
}

// A character counter tied to a field: "42 / 500" (marked when over), or "42 characters".
export function counter(field, max = null) {
  const el = h('span', { class: 'counter', id: uid('counter') });
  const update = () => {
    const n = field.value.length;
    el.textContent = max
      ? `${n.toLocaleString('en-US')} / ${max.toLocaleString('en-US')}`
      : `${n.toLocaleString('en-US')} ${n === 1 ? 'character' : 'characters'}`;
    el.classList.toggle('over', Boolean(max) && n > max);
  };
  field.addEventListener('input', update);
  const describedBy = field.getAttribute('aria-describedby');
  field.setAttribute('aria-describedby', describedBy ? `${describedBy} ${el.id}` : el.id);
  update();
  return { el, update };
}

// A labelled form field: label, control, optional hint, in one block.
export function field(labelText, control, { hint, extra } = {}) {
  if (!control.id) control.id = uid('field');
  const hintEl = hint ? h('p', { class: 'hint', id: uid('hint') }, hint) : null;
  if (hintEl) {
    const describedBy = control.getAttribute('aria-describedby');
    control.setAttribute('aria-describedby', describedBy ? `${describedBy} ${hintEl.id}` : hintEl.id);
  }
  return h('div', { class: 'field' },
    h('div', { class: 'field-label' }, h('label', { for: control.id }, labelText), extra || null),
    control,
    hintEl);
}

export function pageHeader(title, lead) {
  return h('div', { class: 'page-header' },
    h('h1', { tabindex: '-1' }, title),
    lead ? h('p', { class: 'lead' }, lead) : null);
}
