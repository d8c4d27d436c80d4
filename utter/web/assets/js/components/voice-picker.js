// A combobox that finds any of the user's voices: typing searches the server
// (GET /api/voices?search=…), and "Show more" pages through the rest, so a user with
// hundreds of voices can reach every one, not only the first page of 20.
// Keyboard: arrows move, Enter picks, Escape closes; it follows the ARIA combobox pattern.

import { api } from '../api.js';
import { debounce, h, replace, uid } from '../dom.js';
import { plainWords } from '../http.js';

const PER_PAGE = 20;

export function voicePicker({ label = 'Voice', onChange } = {}) {
  const listId = uid('voices');
  const input = h('input', {
    type: 'text', id: uid('voice-input'), role: 'combobox', autocomplete: 'off', spellcheck: 'false',
    'aria-autocomplete': 'list', 'aria-expanded': 'false', 'aria-controls': listId,
    placeholder: 'Search your voices…', class: 'input',
  });
  const list = h('ul', { role: 'listbox', id: listId, class: 'listbox', hidden: true, 'aria-label': 'Voices' });
  const status = h('p', { class: 'hint', 'aria-live': 'polite' });
  const el = h('div', { class: 'field combobox' },
    h('div', { class: 'field-label' }, h('label', { for: input.id }, label)),
    h('div', { class: 'combobox-wrap' }, input, list),
    status);

  let selected = null;
  let options = [];
  let active = -1;
  let query = '';
  let page = 1;
  let pages = 1;
  let total = 0;
  let requestId = 0;

  function open() {
    if (!list.hidden) return;
    list.hidden = false;
    input.setAttribute('aria-expanded', 'true');
  }

  function close() {
    list.hidden = true;
    input.setAttribute('aria-expanded', 'false');
    input.removeAttribute('aria-activedescendant');
    active = -1;
  }

  function describeSelection() {
    status.textContent = selected
      ? `Selected: ${selected.name}${selected.language ? ` (${selected.language})` : ''}`
      : 'Type to search all of your voices.';
  }

  function setActive(index) {
    const items = list.querySelectorAll('[role="option"]');
    if (!items.length) return;
    active = (index + items.length) % items.length;
    items.forEach((item, i) => item.classList.toggle('active', i === active));
    const current = items[active];
    input.setAttribute('aria-activedescendant', current.id);
    current.scrollIntoView({ block: 'nearest' });
  }

  function pick(voice) {
    selected = voice;
    input.value = voice ? voice.name : '';
    close();
    describeSelection();
    if (onChange) onChange(voice);
  }

  function renderList(message) {
    const items = options.map((voice) => h('li', {
      role: 'option', id: `${listId}-${voice.id}`, class: 'option',
      'aria-selected': String(Boolean(selected && selected.id === voice.id)),
      onmousedown: (event) => event.preventDefault(),
      onclick: () => pick(voice),
    }, h('span', { class: 'option-name' }, voice.name),
    h('span', { class: 'option-meta' }, `${voice.source === 'designed' ? 'Designed' : 'Clone'} · ${voice.language || 'Auto'}`)));
    if (page < pages) {
      items.push(h('li', {
        role: 'option', id: `${listId}-more`, class: 'option option-more', 'aria-selected': 'false',
        onmousedown: (event) => event.preventDefault(),
        onclick: () => fetchPage(page + 1),
      }, `Show more (${options.length} of ${total})`));
    }
    if (!items.length) items.push(h('li', { class: 'option-empty', role: 'presentation' }, message || 'No voices found.'));
    replace(list, items);
    active = -1;
  }

  async function fetchPage(nextPage) {
    const id = ++requestId;
    if (nextPage === 1) replace(list, h('li', { class: 'option-empty', role: 'presentation' }, 'Searching…'));
    try {
      const body = await api('/api/voices', { query: { search: query, page: nextPage, per_page: PER_PAGE } });
      if (id !== requestId) return;
      const voices = body.voices || [];
      options = nextPage === 1 ? voices : options.concat(voices);
      page = body.pagination ? body.pagination.page : nextPage;
      pages = body.pagination ? body.pagination.pages : 1;
      total = body.pagination ? body.pagination.total : options.length;
      const empty = query ? `No voices match “${query}”.` : 'You have no voices yet. Clone or design one first.';
      renderList(empty);
      if (nextPage > 1) setActive(options.length - voices.length);
    } catch (err) {
      if (id !== requestId) return;
      options = [];
      renderList(plainWords(err));
    }
  }

  const search = debounce(() => fetchPage(1), 250);

  input.addEventListener('focus', () => {
    open();
    query = selected && input.value === selected.name ? '' : input.value.trim();
    fetchPage(1);
  });
  input.addEventListener('input', () => {
    open();
    query = input.value.trim();
    search();
  });
  input.addEventListener('keydown', (event) => {
    if (event.key === 'ArrowDown') {
      event.preventDefault();
      if (list.hidden) { open(); fetchPage(1); } else setActive(active + 1);
    } else if (event.key === 'ArrowUp') {
      event.preventDefault();
      setActive(active - 1);
    } else if (event.key === 'Enter') {
      if (list.hidden || active < 0) return;
      event.preventDefault();
      const item = list.querySelectorAll('[role="option"]')[active];
      if (item) item.click();
    } else if (event.key === 'Escape') {
      if (!list.hidden) {
        event.preventDefault();
        close();
        input.value = selected ? selected.name : '';
      }
    }
  });
  input.addEventListener('blur', () => {
    close();
    // Leaving the field with a half-typed search keeps the voice that was chosen.
    input.value = selected ? selected.name : '';
  });

  describeSelection();
  return {
    el,
    input,
    get value() { return selected; },
    setVoice(voice) { pick(voice); },
    destroy() { search.cancel(); requestId += 1; },
  };
}
