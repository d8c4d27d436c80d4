// Voices: search, filter by source, page through; preview, rename, delete.
// `search`, `source` and `page` live in the URL, so a filtered page can be reloaded,
// bookmarked and navigated with Back.

import { api, limits, nameProblem } from '../api.js';
import { highlight } from '../components/highlight.js';
import { pagedList } from '../components/paged-list.js';
import { announce, formatDate, formatDuration, h, messageBox, replace, truncate, uid } from '../dom.js';
import { createPlayer } from '../player.js';

const SOURCES = [['', 'All voices'], ['uploaded', 'Cloned'], ['designed', 'Designed']];
// What a card shows; a reload redraws a card only when one of these changed.
const CARD_FIELDS = ['name', 'source', 'language', 'duration_seconds', 'created_at', 'reference_transcript', 'description', 'report'];

export async function render(root, ctx) {
  const rules = await limits();
  const search = h('input', { type: 'search', class: 'input', name: 'search', id: 'voices-search', autocomplete: 'off' });
  const source = h('select', { class: 'input', name: 'source', id: 'voices-source' },
    SOURCES.map(([value, label]) => h('option', { value }, label)));
  const view = pagedList({
    ctx,
    path: '/api/voices',
    itemsKey: 'voices',
    label: 'Voices',
    search,
    filter: ['source', source, SOURCES.map(([value]) => value)],
    card,
    fields: CARD_FIELDS,
    empty: ['No voices match these filters.', ['No voices yet. ', h('a', { href: '/clone' }, 'Clone one'), ' or ', h('a', { href: '/design' }, 'design one'), '.']],
    live: true,
  });

  root.append(h('section', { class: 'page' },
    h('div', { class: 'page-header with-actions' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'Voices'), h('p', { class: 'lead' }, 'Every voice you have cloned or designed.')),
      h('div', { class: 'actions' },
        h('a', { href: '/clone', class: 'button' }, 'Clone a voice'),
        h('a', { href: '/design', class: 'button' }, 'Design a voice'))),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: search.id }, 'Search by name'), search),
      h('div', { class: 'field' }, h('label', { for: source.id }, 'Source'), source)),
    view.message.el, view.list, view.pager));

  function card(voice, state, deleteButton) {
    const designed = voice.source === 'designed';
    const titleId = uid('voice');
    const title = h('h2', { class: 'card-title', id: titleId }, highlight(voice.name, state.search));
    const playerSlot = h('div', { class: 'player-slot' });
    const renameSlot = h('div');
    const cardMessage = messageBox();
    const transcriptLabel = designed ? 'Preview text (saved transcript)' : 'Reference transcript';
    const report = voice.report || null;

    let cardPlayer = null;
    const previewButton = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, 'Preview');
    previewButton.addEventListener('click', () => {
      if (playerSlot.firstChild) return;
      const player = createPlayer({ src: `/api/voices/${encodeURIComponent(voice.id)}/preview`, duration: voice.duration_seconds, label: `${voice.name} preview` });
      cardPlayer = player;
      playerSlot.append(player.el);
      previewButton.hidden = true;
      player.play();
    });

    const renameButton = h('button', { type: 'button', class: 'button button-small', 'aria-describedby': titleId }, 'Rename');
    renameButton.addEventListener('click', () => {
      const input = h('input', { type: 'text', class: 'input', value: voice.name, maxlength: rules.voice_name_max, id: uid('rename'), required: true });
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
        const badName = nameProblem(next, rules);
        if (badName) { cardMessage.error(badName); input.focus(); return; }
        try {
          const updated = await api(`/api/voices/${encodeURIComponent(voice.id)}`, { method: 'PATCH', json: { name: next } });
          voice.name = (updated && updated.name) || next;
          replace(title, highlight(voice.name, state.search));
          cardMessage.clear();
          close();
          announce(`Renamed to ${voice.name}.`);
        } catch (err) {
          cardMessage.error(err);
        }
      });
      renameButton.hidden = true;
      replace(renameSlot, form);
      input.focus();
      input.select();
    });

    const remove = deleteButton({
      path: `/api/voices/${encodeURIComponent(voice.id)}`,
      ask: {
        title: `Delete “${voice.name}”?`,
        message: 'The voice and its reference audio are deleted for good. Speech you generated with it stays in History.',
      },
      done: `Deleted ${voice.name}.`,
      message: cardMessage,
      describedBy: titleId,
    });

    const facts = [voice.language || 'Auto'];
    if (voice.duration_seconds) facts.push(formatDuration(voice.duration_seconds));
    if (report && report.speech_ratio !== undefined && report.speech_ratio !== null) facts.push(`${Math.round(report.speech_ratio * 100)}% speech`);
    if (voice.created_at) facts.push(formatDate(voice.created_at));

    const el = h('li', { class: 'card voice-card', dataset: { voiceId: voice.id }, 'aria-labelledby': titleId },
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
        previewButton, renameButton, remove));
    return { el, destroy: () => { if (cardPlayer) cardPlayer.destroy(); } };
  }

  await view.load();
  return {
    update(next) {
      view.update(next.params);
    },
    destroy() {
      view.destroy();
    },
  };
}
