// Voices: search, filter by source, page through; preview, rename, delete.
// `search`, `source` and `page` live in the URL, so a filtered page can be reloaded,
// bookmarked and navigated with Back.

import { api } from '../api.js';
import { confirmDialog } from '../components/confirm.js';
import { highlight } from '../components/highlight.js';
import { pageParam, pagination } from '../components/pagination.js';
import { announce, debounce, formatDate, formatDuration, h, messageBox, pageHeader, replace, truncate, uid } from '../dom.js';
import { createPlayer } from '../player.js';

const PER_PAGE = 20;
const SOURCES = [['', 'All voices'], ['uploaded', 'Cloned'], ['designed', 'Designed']];

export async function render(root, ctx) {
  let state = readState(ctx.params);
  let requestId = 0;
  let players = [];

  const search = h('input', { type: 'search', class: 'input', name: 'search', id: 'voices-search', value: state.search, autocomplete: 'off' });
  const source = h('select', { class: 'input', name: 'source', id: 'voices-source' },
    SOURCES.map(([value, label]) => h('option', { value }, label)));
  source.value = state.source;
  const list = h('div', { class: 'list', 'aria-live': 'polite', 'aria-busy': 'true' });
  const pager = h('div');
  const message = messageBox();

  root.append(h('section', { class: 'page' },
    h('div', { class: 'page-header with-actions' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'Voices'), h('p', { class: 'lead' }, 'Every voice you have cloned or designed.')),
      h('div', { class: 'actions' },
        h('a', { href: '/clone', class: 'button' }, 'Clone a voice'),
        h('a', { href: '/design', class: 'button' }, 'Design a voice'))),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: search.id }, 'Search by name'), search),
      h('div', { class: 'field' }, h('label', { for: source.id }, 'Source'), source)),
    message.el, list, pager));

  function readState(params) {
    return {
      search: params.get('search') || '',
      source: ['uploaded', 'designed'].includes(params.get('source')) ? params.get('source') : '',
      page: pageParam(params.get('page')),
    };
  }

  function sync({ push = false } = {}) {
    ctx.setQuery({ search: state.search, source: state.source, page: state.page > 1 ? state.page : null }, { push });
  }

  async function load() {
    const id = ++requestId;
    list.setAttribute('aria-busy', 'true');
    let body;
    try {
      body = await api('/api/voices', {
        query: { page: state.page, per_page: PER_PAGE, search: state.search, source: state.source },
      });
    } catch (err) {
      if (id !== requestId) return;
      list.setAttribute('aria-busy', 'false');
      replace(list);
      replace(pager);
      message.error(err.detail || err.message);
      return;
    }
    if (id !== requestId) return;
    message.clear();
    const { voices = [], pagination: page = { page: 1, pages: 1, total: voices.length } } = body;
    if (!voices.length && state.page > 1 && page.pages < state.page) {
      state.page = page.pages;
      sync();
      load();
      return;
    }
    for (const player of players) player.destroy();
    players = [];
    list.setAttribute('aria-busy', 'false');
    if (!voices.length) {
      replace(list, h('div', { class: 'empty card' },
        state.search || state.source
          ? h('p', {}, 'No voices match these filters.')
          : h('p', {}, 'No voices yet. ', h('a', { href: '/clone' }, 'Clone one'), ' or ', h('a', { href: '/design' }, 'design one'), '.')));
    } else {
      replace(list, h('ul', { class: 'cards' }, voices.map(card)));
    }
    replace(pager, page.pages > 1 ? pagination({
      page: page.page, pages: page.pages, total: page.total, label: 'Voices',
      onPage: (n) => { state.page = n; sync({ push: true }); load(); list.scrollIntoView({ block: 'start' }); },
    }) : null);
  }

  function card(voice) {
    const designed = voice.source === 'designed';
    const titleId = uid('voice');
    const title = h('h2', { class: 'card-title', id: titleId }, highlight(voice.name, state.search));
    const playerSlot = h('div', { class: 'player-slot' });
    const renameSlot = h('div');
    const cardMessage = messageBox();
    const transcriptLabel = designed ? 'Preview text (saved transcript)' : 'Reference transcript';
    const report = voice.report || null;

    const previewButton = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, 'Preview');
    previewButton.addEventListener('click', () => {
      if (playerSlot.firstChild) return;
      const player = createPlayer({ src: `/api/voices/${encodeURIComponent(voice.id)}/preview`, duration: voice.duration_seconds, label: `${voice.name} preview` });
      players.push(player);
      playerSlot.append(player.el);
      previewButton.hidden = true;
      player.play();
    });

    const renameButton = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, 'Rename');
    renameButton.addEventListener('click', () => {
      const input = h('input', { type: 'text', class: 'input', value: voice.name, maxlength: 100, id: uid('rename'), required: true });
      const close = () => { replace(renameSlot); renameButton.hidden = false; renameButton.focus(); };
      const form = h('form', { class: 'rename-form', novalidate: true },
        h('label', { for: input.id }, `New name for ${voice.name}`),
        h('div', { class: 'inline' }, input,
          h('button', { type: 'submit', class: 'button button-primary button-small' }, 'Save'),
          h('button', { type: 'button', class: 'button button-small', onclick: close }, 'Cancel')));
      form.addEventListener('keydown', (event) => { if (event.key === 'Escape') { event.preventDefault(); close(); } });
      form.addEventListener('submit', async (event) => {
        event.preventDefault();
        const next = input.value.trim();
        if (!next || next.length > 100) { cardMessage.error('Name must be 1-100 characters.'); input.focus(); return; }
        try {
          const updated = await api(`/api/voices/${encodeURIComponent(voice.id)}`, { method: 'PATCH', json: { name: next } });
          voice.name = (updated && updated.name) || next;
          replace(title, highlight(voice.name, state.search));
          cardMessage.clear();
          close();
          announce(`Renamed to ${voice.name}.`);
        } catch (err) {
          cardMessage.error(err.detail || err.message);
        }
      });
      renameButton.hidden = true;
      replace(renameSlot, form);
      input.focus();
      input.select();
    });

    const deleteButton = h('button', { type: 'button', class: 'button button-small button-danger', 'aria-describedby': titleId }, 'Delete');
    deleteButton.addEventListener('click', async () => {
      const ok = await confirmDialog({
        title: `Delete “${voice.name}”?`,
        message: 'The voice and its reference audio are deleted for good. Speech you generated with it stays in History.',
      });
      if (!ok) return;
      deleteButton.disabled = true;
      try {
        await api(`/api/voices/${encodeURIComponent(voice.id)}`, { method: 'DELETE' });
        announce(`Deleted ${voice.name}.`);
        await load();
        const heading = root.querySelector('h1');
        if (heading) heading.focus();
      } catch (err) {
        deleteButton.disabled = false;
        cardMessage.error(err.detail || err.message);
      }
    });

    const facts = [voice.language || 'Auto'];
    if (voice.duration_seconds) facts.push(formatDuration(voice.duration_seconds));
    if (report && report.speech_ratio !== undefined && report.speech_ratio !== null) facts.push(`${Math.round(report.speech_ratio * 100)}% speech`);
    if (voice.created_at) facts.push(formatDate(voice.created_at));

    return h('li', { class: 'card voice-card', dataset: { voiceId: voice.id }, 'aria-labelledby': titleId },
      h('div', { class: 'card-head' },
        h('span', { class: `badge-source ${designed ? 'designed' : 'clone'}` }, designed ? 'Designed' : 'Clone'),
        title),
      h('p', { class: 'muted' }, facts.join(' · ')),
      voice.reference_transcript
        ? h('p', {}, h('span', { class: 'label' }, `${transcriptLabel}: `), truncate(voice.reference_transcript, 120))
        : h('p', { class: 'muted' }, 'No transcript'),
      voice.description
        ? h('p', {}, h('span', { class: 'label' }, designed ? 'Design prompt: ' : 'Description: '), truncate(voice.description, 160))
        : null,
      report && report.warnings && report.warnings.length
        ? h('p', { class: 'warning-line' }, `⚠ ${report.warnings[0]}`) : null,
      playerSlot,
      renameSlot,
      cardMessage.el,
      h('div', { class: 'actions' },
        h('a', { href: `/generate?voice=${encodeURIComponent(voice.id)}`, class: 'button button-small button-primary', 'aria-describedby': titleId }, 'Generate'),
        previewButton, renameButton, deleteButton));
  }

  const onSearch = debounce(() => {
    state.search = search.value.trim();
    state.page = 1;
    sync();
    load();
  }, 250);
  search.addEventListener('input', onSearch);
  source.addEventListener('change', () => {
    state.source = source.value;
    state.page = 1;
    sync();
    load();
  });

  await load();
  return {
    update(next) {
      state = readState(next.params);
      search.value = state.search;
      source.value = state.source;
      load();
    },
    destroy() {
      onSearch.cancel();
      requestId += 1;
      for (const player of players) player.destroy();
    },
  };
}
