// History: every generation, searchable and filterable by status, paged, all in the URL.
// Finished rows draw their waveform from the peaks the API stored, play, download as WAV
// or MP3, regenerate (back to Generate, prefilled) and delete. While anything is still
// running the list refreshes itself, keeping the rows (and any playing audio) that did
// not change.

import { api } from '../api.js';
import { confirmDialog } from '../components/confirm.js';
import { highlight } from '../components/highlight.js';
import { pageParam, pagination } from '../components/pagination.js';
import { announce, debounce, formatDate, formatDuration, h, messageBox, replace, truncate, uid } from '../dom.js';
import { downloadAudio } from '../media.js';
import { createPlayer } from '../player.js';
import { activeCount, onTasksChange } from '../tasks.js';

const PER_PAGE = 20;
const REFRESH_MS = 5000;
const STATUSES = [['', 'All'], ['pending', 'Pending'], ['processing', 'Processing'], ['completed', 'Completed'], ['failed', 'Failed'], ['cancelled', 'Cancelled']];
const ACTIVE = new Set(['pending', 'processing']);

export async function render(root, ctx) {
  let state = readState(ctx.params);
  let requestId = 0;
  let refreshTimer = null;
  let rows = new Map(); // `${id}:${status}` -> { li, player }

  const search = h('input', { type: 'search', class: 'input', name: 'search', id: 'history-search', value: state.search, autocomplete: 'off' });
  const status = h('select', { class: 'input', name: 'status', id: 'history-status' },
    STATUSES.map(([value, label]) => h('option', { value }, label)));
  status.value = state.status;
  const list = h('div', { class: 'list', 'aria-busy': 'true' });
  const pager = h('div');
  const message = messageBox();

  root.append(h('section', { class: 'page' },
    h('div', { class: 'page-header with-actions' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'History'), h('p', { class: 'lead' }, 'Everything you have generated.')),
      h('div', { class: 'actions' }, h('a', { href: '/generate', class: 'button' }, 'Generate speech'))),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: search.id }, 'Search the text'), search),
      h('div', { class: 'field' }, h('label', { for: status.id }, 'Status'), status)),
    message.el, list, pager));

  function readState(params) {
    const wanted = params.get('status') || '';
    return {
      search: params.get('search') || '',
      status: STATUSES.some(([value]) => value === wanted) ? wanted : '',
      page: pageParam(params.get('page')),
    };
  }

  function sync({ push = false } = {}) {
    ctx.setQuery({ search: state.search, status: state.status, page: state.page > 1 ? state.page : null }, { push });
  }

  async function load() {
    const id = ++requestId;
    clearTimeout(refreshTimer);
    let body;
    try {
      body = await api('/api/generations', {
        query: { page: state.page, per_page: PER_PAGE, search: state.search, status: state.status },
      });
    } catch (err) {
      if (id !== requestId) return;
      list.setAttribute('aria-busy', 'false');
      message.error(err.detail || err.message);
      refreshTimer = setTimeout(load, REFRESH_MS * 2);
      return;
    }
    if (id !== requestId) return;
    message.clear();
    const { generations = [], pagination: page = { page: 1, pages: 1, total: generations.length } } = body;
    if (!generations.length && state.page > 1 && page.pages < state.page) {
      state.page = page.pages;
      sync();
      load();
      return;
    }
    list.setAttribute('aria-busy', 'false');
    const next = new Map();
    const items = generations.map((generation) => {
      const key = `${generation.id}:${generation.status}`;
      const kept = rows.get(key);
      if (kept) {
        rows.delete(key);
        next.set(key, kept);
        return kept.li;
      }
      const made = card(generation);
      next.set(key, made);
      return made.li;
    });
    for (const gone of rows.values()) if (gone.player) gone.player.destroy();
    rows = next;
    if (!items.length) {
      replace(list, h('div', { class: 'empty card' },
        state.search || state.status
          ? h('p', {}, 'Nothing matches these filters.')
          : h('p', {}, 'Nothing generated yet. ', h('a', { href: '/generate' }, 'Generate some speech'), '.')));
    } else {
      let ul = list.querySelector('ul.cards');
      if (!ul) { ul = h('ul', { class: 'cards' }); replace(list, ul); }
      // Re-append in order; kept rows move without being rebuilt.
      items.forEach((li, index) => { if (ul.children[index] !== li) ul.insertBefore(li, ul.children[index] || null); });
      while (ul.children.length > items.length) ul.lastChild.remove();
    }
    replace(pager, page.pages > 1 ? pagination({
      page: page.page, pages: page.pages, total: page.total, label: 'History',
      onPage: (n) => { state.page = n; sync({ push: true }); forgetRows(); load(); list.scrollIntoView({ block: 'start' }); },
    }) : null);
    if (generations.some((g) => ACTIVE.has(g.status))) refreshTimer = setTimeout(load, REFRESH_MS);
  }

  function card(generation) {
    const titleId = uid('generation');
    const cardMessage = messageBox();
    const completed = generation.status === 'completed';
    let player = null;
    const src = generation.audio_path || `/api/generations/${encodeURIComponent(generation.id)}/audio`;
    if (completed) {
      player = createPlayer({ src, peaks: generation.peaks, duration: generation.duration_seconds, label: truncate(generation.text, 40) });
    }
    const download = (format) => {
      const button = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, `Download ${format.toUpperCase()}`);
      button.addEventListener('click', async () => {
        button.disabled = true;
        try {
          await downloadAudio(src, `utter-${generation.id}.${format}`, { format: format === 'mp3' ? 'mp3' : undefined });
        } catch (err) {
          cardMessage.error(err.detail || err.message);
        }
        button.disabled = false;
      });
      return button;
    };
    const regenerate = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, 'Regenerate');
    regenerate.addEventListener('click', async () => {
      regenerate.disabled = true;
      try {
        const body = await api(`/api/generations/${encodeURIComponent(generation.id)}/regenerate`, { method: 'POST' });
        ctx.navigate(body.redirect_url);
      } catch (err) {
        regenerate.disabled = false;
        cardMessage.error(err.detail || err.message);
      }
    });
    const remove = h('button', { type: 'button', class: 'button button-small button-danger', 'aria-describedby': titleId }, 'Delete');
    remove.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: 'Delete this generation?', message: 'Its text and audio are deleted for good.' });
      if (!ok) return;
      remove.disabled = true;
      try {
        await api(`/api/generations/${encodeURIComponent(generation.id)}`, { method: 'DELETE' });
        announce('Generation deleted.');
        await load();
        const heading = root.querySelector('h1');
        if (heading) heading.focus();
      } catch (err) {
        remove.disabled = false;
        cardMessage.error(err.detail || err.message);
      }
    });
    const facts = [generation.language || 'Auto'];
    if (generation.duration_seconds) facts.push(`Duration ${formatDuration(generation.duration_seconds)}`);
    if (generation.generation_time_seconds) facts.push(`Generated in ${formatDuration(generation.generation_time_seconds)}`);
    if (generation.created_at) facts.push(formatDate(generation.created_at));
    const li = h('li', { class: 'card generation-card', dataset: { generationId: generation.id, status: generation.status }, 'aria-labelledby': titleId },
      h('div', { class: 'card-head' },
        h('span', { class: `status-badge status-${generation.status}` }, generation.status),
        h('h2', { class: 'card-title', id: titleId }, generation.voice_name || 'Unknown voice')),
      h('p', { class: 'generation-text' }, highlight(truncate(generation.text, 160), state.search)),
      generation.error_message ? h('p', { class: 'message message-error' }, truncate(generation.error_message, 160)) : null,
      h('p', { class: 'muted' }, facts.join(' · ')),
      ACTIVE.has(generation.status) ? h('p', { class: 'progress-status' }, 'Generating…') : null,
      player ? player.el : null,
      cardMessage.el,
      h('div', { class: 'actions' },
        completed ? download('wav') : null,
        completed ? download('mp3') : null,
        regenerate, remove));
    return { li, player };
  }

  // Rows are kept across refreshes only while the filters stay the same.
  function forgetRows() {
    for (const row of rows.values()) if (row.player) row.player.destroy();
    rows = new Map();
    replace(list);
  }

  const onSearch = debounce(() => {
    state.search = search.value.trim();
    state.page = 1;
    sync();
    forgetRows();
    load();
  }, 250);
  search.addEventListener('input', onSearch);
  status.addEventListener('change', () => {
    state.status = status.value;
    state.page = 1;
    sync();
    forgetRows();
    load();
  });

  // A task finishing (seen by the task manager) is news for this list.
  let lastActive = activeCount();
  const offTasks = onTasksChange(() => {
    const now = activeCount();
    if (now !== lastActive) load();
    lastActive = now;
  });

  await load();
  return {
    update(next) {
      state = readState(next.params);
      search.value = state.search;
      status.value = state.status;
      forgetRows();
      load();
    },
    destroy() {
      onSearch.cancel();
      offTasks();
      clearTimeout(refreshTimer);
      requestId += 1;
      for (const row of rows.values()) if (row.player) row.player.destroy();
    },
  };
}
