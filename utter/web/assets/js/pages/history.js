// History: every generation, searchable and filterable by status, paged, all in the URL.
// Finished rows draw their waveform from the peaks the API stored, play, download as WAV
// or MP3, regenerate (back to Generate, prefilled) and delete. While anything is still
// running the list refreshes itself, keeping the rows (and any playing audio) that did
// not change.

import { api } from '../api.js';
import { highlight } from '../components/highlight.js';
import { pagedList } from '../components/paged-list.js';
import { formatDate, formatDuration, h, messageBox, truncate, uid } from '../dom.js';
import { downloadAudio } from '../media.js';
import { createPlayer } from '../player.js';
import { repeater } from '../poll.js';
import { activeCount, onTasksChange } from '../tasks.js';

const REFRESH_MS = 5000;
const STATUSES = [['', 'All'], ['pending', 'Pending'], ['processing', 'Processing'], ['completed', 'Completed'], ['failed', 'Failed'], ['cancelled', 'Cancelled']];
const ACTIVE = new Set(['pending', 'processing']);
// What a card shows; a refresh redraws a card only when one of these changed.
const CARD_FIELDS = [
  'status', 'voice_name', 'text', 'error_message', 'language', 'duration_seconds', 'generation_time_seconds', 'created_at',
];

export async function render(root, ctx) {
  const search = h('input', { type: 'search', class: 'input', name: 'search', id: 'history-search', autocomplete: 'off' });
  const status = h('select', { class: 'input', name: 'status', id: 'history-status' },
    STATUSES.map(([value, label]) => h('option', { value }, label)));
  // While a listed generation runs, the list refreshes itself (slower in a hidden tab).
  const refresher = repeater(() => load());
  const view = pagedList({
    ctx,
    path: '/api/generations',
    itemsKey: 'generations',
    label: 'History',
    search,
    filter: ['status', status, STATUSES.map(([value]) => value)],
    card,
    fields: CARD_FIELDS,
    empty: ['Nothing matches these filters.', ['Nothing generated yet. ', h('a', { href: '/generate' }, 'Generate some speech'), '.']],
    keepOnError: true,
    loaded(items) {
      if (!items) refresher.later(REFRESH_MS * 2);
      else if (items.some((generation) => ACTIVE.has(generation.status))) refresher.later(REFRESH_MS);
      else refresher.cancel();
    },
  });
  const load = () => view.load();

  root.append(h('section', { class: 'page' },
    h('div', { class: 'page-header with-actions' },
      h('div', {}, h('h1', { tabindex: '-1' }, 'History'), h('p', { class: 'lead' }, 'Everything you have generated.')),
      h('div', { class: 'actions' }, h('a', { href: '/generate', class: 'button' }, 'Generate speech'))),
    h('div', { class: 'toolbar', role: 'search' },
      h('div', { class: 'field' }, h('label', { for: search.id }, 'Search the text'), search),
      h('div', { class: 'field' }, h('label', { for: status.id }, 'Status'), status)),
    view.message.el, view.list, view.pager));

  function card(generation, state, deleteButton) {
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
          cardMessage.error(err);
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
        cardMessage.error(err);
      }
    });
    const remove = deleteButton({
      path: `/api/generations/${encodeURIComponent(generation.id)}`,
      ask: { title: 'Delete this generation?', message: 'Its text and audio are deleted for good.' },
      done: 'Generation deleted.',
      message: cardMessage,
      describedBy: titleId,
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
    return { el: li, destroy: () => { if (player) player.destroy(); } };
  }

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
      view.update(next.params);
    },
    destroy() {
      offTasks();
      refresher.stop();
      view.destroy();
    },
  };
}
