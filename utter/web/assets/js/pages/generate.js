// Generate: text in one of the user's voices, as a background task. The page follows
// its task through the task manager, so a reload (or another tab) picks up where it was:
// the task id and the form are kept in localStorage until the next generation.

import { api, languages } from '../api.js';
import { voicePicker } from '../components/voice-picker.js';
import { readDraft, writeDraft } from '../drafts.js';
import { announce, counter, field, formatClock, h, messageBox, pageHeader, replace } from '../dom.js';
import { downloadAudio } from '../media.js';
import { createPlayer } from '../player.js';
import {
  cancelTask, elapsedSeconds, getTask, getTasks, isActive, onTasksChange, refreshTasks, statusText, tasksReady,
} from '../tasks.js';

const MAX_TEXT = 10000;
const TASK_KEY = 'utter_generate_task';
const FORM_KEY = 'utter_generate_form';


export function generationIdFrom(task) {
  const url = task && task.result && task.result.audio_url;
  const match = url ? /\/generations\/([^/?#]+)\/audio/.exec(url) : null;
  return match ? decodeURIComponent(match[1]) : null;
}

export async function render(root, ctx) {
  const info = await languages();
  const saved = readDraft(FORM_KEY) || {};
  let taskId = readDraft(TASK_KEY);
  let player = null;
  let shownResultFor = null;
  let languageTouched = false;

  const picker = voicePicker({
    label: 'Voice',
    onChange: (voice) => {
      if (voice && !languageTouched && [...language.options].some((o) => o.value === voice.language)) language.value = voice.language;
      persist();
      updateButton();
    },
  });
  const language = h('select', { class: 'input', name: 'language' },
    (info.languages || ['Auto']).map((lang) => h('option', { value: lang }, lang)));
  language.value = 'Auto';
  language.addEventListener('change', () => { languageTouched = true; persist(); });
  const text = h('textarea', { class: 'input', name: 'text', rows: 8, placeholder: 'What should the voice say?' });
  const textCounter = counter(text, MAX_TEXT);
  text.addEventListener('input', () => { persist(); updateButton(); });
  const message = messageBox();
  const submit = h('button', { type: 'submit', class: 'button button-primary button-large' }, 'Generate speech');
  const busyNote = h('p', { class: 'hint', hidden: true });

  const form = h('form', { class: 'form card', novalidate: true },
    picker.el,
    field('Language', language, { hint: 'Auto lets the engine decide from the text.' }),
    field('Text', text, { extra: textCounter.el }),
    message.el,
    h('div', { class: 'actions' }, submit, busyNote));

  const progressCard = h('section', { class: 'card progress-card', 'aria-labelledby': 'progress-title' });
  root.append(h('section', { class: 'page' },
    pageHeader('Generate speech', 'Up to 10,000 characters, read in any of your voices. It runs in the background: you can leave this page.'),
    h('div', { class: 'generate-layout' }, form, progressCard)));

  // ---- prefill: query parameters win over the saved form --------------------------
  const queryVoice = ctx.params.get('voice');
  const queryText = ctx.params.get('text');
  const queryLanguage = ctx.params.get('language');
  text.value = queryText !== null ? queryText : saved.text || '';
  textCounter.update();
  const wantLanguage = queryLanguage || saved.language;
  if (wantLanguage && [...language.options].some((o) => o.value === wantLanguage)) {
    language.value = wantLanguage;
    languageTouched = Boolean(queryLanguage) || Boolean(saved.languageTouched);
  }
  if (queryVoice) {
    try {
      const voice = await api(`/api/voices/${encodeURIComponent(queryVoice)}`);
      picker.setVoice(voice);
    } catch (err) {
      message.error(err.status === 404 ? 'That voice no longer exists. Pick another one.' : err.detail);
    }
  } else if (saved.voice) {
    picker.setVoice(saved.voice);
  }
  if (queryVoice || queryText !== null || queryLanguage) ctx.setQuery({ voice: null, text: null, language: null });

  function persist() {
    const voice = picker.value;
    writeDraft(FORM_KEY, {
      voice: voice ? { id: voice.id, name: voice.name, language: voice.language, source: voice.source } : null,
      language: language.value,
      languageTouched,
      text: text.value,
    });
  }
  persist();

  function activeGenerate() {
    return getTasks().find((task) => task.type === 'generate' && isActive(task)) || null;
  }

  function updateButton() {
    const running = activeGenerate();
    const length = text.value.trim().length;
    submit.disabled = Boolean(running) || !picker.value || length === 0 || text.value.length > MAX_TEXT;
    busyNote.hidden = !running;
    busyNote.textContent = running ? 'A generation is running; you can start the next one when it finishes.' : '';
  }

  // ---- progress and result ----------------------------------------------------------
  let activeView = null;

  // Built once per task and then updated in place, so the Cancel button keeps focus.
  function buildActiveView(task) {
    const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
    cancel.addEventListener('click', async () => {
      cancel.disabled = true;
      try { await cancelTask(task.id); } catch (err) { message.error(err.detail || err.message); cancel.disabled = false; }
    });
    const view = {
      taskId: task.id,
      status: h('p', { class: 'progress-status', role: 'status' }),
      bar: h('progress', { max: 1, 'aria-label': 'Progress' }),
      chunks: h('span', { dataset: { chunks: '' } }),
      elapsed: h('span', { dataset: { elapsed: '' } }),
    };
    replace(progressCard,
      h('h2', { id: 'progress-title' }, 'Generating'),
      view.status,
      view.bar,
      h('p', { class: 'progress-meta' }, view.chunks, ' · ', view.elapsed),
      task.metadata && task.metadata.text_preview ? h('p', { class: 'muted' }, `“${task.metadata.text_preview}”`) : null,
      h('div', { class: 'actions' }, cancel));
    return view;
  }

  function showTask(task) {
    if (!task) {
      activeView = null;
      shownResultFor = null;
      if (player) { player.destroy(); player = null; }
      replace(progressCard,
        h('h2', { id: 'progress-title' }, 'Your speech'),
        h('p', { class: 'muted' }, 'Pick a voice, write what it should say and press Generate. Progress and the result appear here; the task dock keeps track of it on every page.'));
      return;
    }
    if (isActive(task)) {
      shownResultFor = null;
      if (player) { player.destroy(); player = null; }
      if (!activeView || activeView.taskId !== task.id || !progressCard.contains(activeView.status)) activeView = buildActiveView(task);
      const total = task.chunks_total || 0;
      activeView.status.textContent = statusText(task);
      if (total) {
        activeView.bar.max = total;
        activeView.bar.value = task.chunks_done || 0;
        activeView.chunks.textContent = `Chunk ${task.chunks_done || 0} of ${total}`;
      } else {
        activeView.bar.removeAttribute('value');
        activeView.chunks.textContent = 'Preparing…';
      }
      activeView.elapsed.textContent = `${formatClock(elapsedSeconds(task))} elapsed`;
      return;
    }
    activeView = null;
    if (shownResultFor === `${task.id}:${task.status}`) return;
    shownResultFor = `${task.id}:${task.status}`;
    if (player) { player.destroy(); player = null; }
    if (task.status === 'completed' && task.result && task.result.audio_url) {
      const src = task.result.audio_url;
      const id = task.generation_id || generationIdFrom(task) || task.id;
      player = createPlayer({ src, label: 'generated speech' });
      const download = (format) => async (event) => {
        const button = event.currentTarget;
        button.disabled = true;
        try {
          await downloadAudio(src, `utter-${id}.${format}`, { format: format === 'mp3' ? 'mp3' : undefined });
        } catch (err) {
          message.error(err.detail || err.message);
        }
        button.disabled = false;
      };
      player.preload();
      replace(progressCard,
        h('h2', { id: 'progress-title', tabindex: '-1' }, 'Your speech is ready'),
        h('p', { class: 'muted' }, `Took ${formatClock(elapsedSeconds(task))}.`),
        player.el,
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'button button-primary', onclick: download('wav') }, 'Download WAV'),
          h('button', { type: 'button', class: 'button', onclick: download('mp3') }, 'Download MP3'),
          h('a', { href: '/history', class: 'button button-link' }, 'See it in History')));
      announce('Your speech is ready.');
    } else if (task.status === 'failed') {
      replace(progressCard,
        h('h2', { id: 'progress-title' }, 'Generation failed'),
        h('p', { class: 'message message-error', role: 'alert' }, task.error || 'Generation failed. Please try again.'));
    } else if (task.status === 'cancelled') {
      replace(progressCard,
        h('h2', { id: 'progress-title' }, 'Cancelled'),
        h('p', { class: 'message message-info', role: 'status' }, 'Generation was cancelled.'));
    }
  }

  function follow() {
    const task = taskId ? getTask(taskId) : null;
    showTask(task);
    updateButton();
  }

  const offTasks = onTasksChange(follow);
  const tick = setInterval(() => {
    const task = taskId ? getTask(taskId) : null;
    if (task && isActive(task)) {
      const elapsed = progressCard.querySelector('[data-elapsed]');
      if (elapsed) elapsed.textContent = `${formatClock(elapsedSeconds(task))} elapsed`;
    }
  }, 1000);

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const voice = picker.value;
    if (!voice) { message.error('Please select a voice'); picker.input.focus(); return; }
    if (!text.value.trim()) { message.error('Please enter text to speak'); text.focus(); return; }
    if (text.value.length > MAX_TEXT) { message.error('Text cannot exceed 10000 characters'); text.focus(); return; }
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const started = await api('/api/generate', {
        method: 'POST',
        json: { voice_id: voice.id, text: text.value.trim(), language: language.value },
      });
      taskId = started.task_id;
      writeDraft(TASK_KEY, taskId);
      showTask({ id: taskId, type: 'generate', status: 'pending', metadata: {}, created_at: new Date().toISOString() });
      await refreshTasks({ broadcast: true });
      follow();
    } catch (err) {
      message.error(err.detail || err.message);
    }
    submit.textContent = 'Generate speech';
    updateButton();
  });

  await tasksReady();
  if (taskId && !getTask(taskId)) {
    // Dismissed, or more than a day old: nothing to resume.
    writeDraft(TASK_KEY, null);
    taskId = null;
  }
  follow();

  return {
    destroy() {
      offTasks();
      clearInterval(tick);
      picker.destroy();
      if (player) player.destroy();
    },
  };
}
