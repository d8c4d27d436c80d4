// "Previous · Page X of Y · Next" for a paginated list.

import { h } from '../dom.js';

export function pagination({ page, pages, total, label, onPage }) {
  const prev = h('button', { type: 'button', class: 'button', disabled: page <= 1, onclick: () => onPage(page - 1) },
    h('span', { 'aria-hidden': 'true' }, '← '), 'Previous');
  const next = h('button', { type: 'button', class: 'button', disabled: page >= pages, onclick: () => onPage(page + 1) },
    'Next', h('span', { 'aria-hidden': 'true' }, ' →'));
  return h('nav', { class: 'pagination', 'aria-label': `${label} pages` },
    prev,
    h('span', { class: 'pagination-status', 'aria-live': 'polite' },
      `Page ${page} of ${pages}`, total !== undefined ? h('span', { class: 'muted' }, ` · ${total} in all`) : null),
    next);
}

// A positive integer from a query parameter, or the fallback.
export function pageParam(value, fallback = 1) {
  const n = Math.floor(Number(value));
  return Number.isFinite(n) && n >= 1 ? n : fallback;
}
