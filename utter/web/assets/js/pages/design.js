// Design: a description and a preview text become a preview clip (a background task);
// the user listens first and saves it as a voice if they like it
// (POST /api/voices/design {task_id, name}), then takes it to Generate.

import { api, languages } from '../api.js';
import { readDraft, writeDraft } from '../drafts.js';
import { announce, counter, field, formatClock, h, messageBox, pageHeader, replace } from '../dom.js';
import { createPlayer } from '../player.js';
import {
  cancelTask, elapsedSeconds, getTask, isActive, onTasksChange, refreshTasks, statusText, tasksReady,
} from '../tasks.js';

const MAX_NAME = 100;
const MAX_TEXT = 500;
const TASK_KEY = 'utter_design_task';
const FORM_KEY = 'utter_design_form';
const SAVED_KEY = 'utter_design_saved';

const PRESETS = [
  {
    label: 'Warm & steady',
    name: 'Warm narrator',
    instruct: 'A warm, steady adult voice with a calm pace and a gentle, reassuring tone, like an audiobook narrator.',
  },
  {
    label: 'Bright & fast',
    name: 'Bright presenter',
    instruct: 'A bright, energetic young voice that speaks quickly and clearly with a smile, like an upbeat podcast host.',
  },
  {
    label: 'Low & cinematic',
    name: 'Cinematic trailer',
    instruct: 'A deep, low, resonant voice with slow, dramatic delivery and weighty pauses, like a film trailer narrator.',
  },
];
const DEFAULT_TEXT = 'Hello! This is a preview of a voice designed in Utter. How does it sound to you?';


export async function render(root) {
  const info = await languages();
  const saved = readDraft(FORM_KEY) || {};
  let taskId = readDraft(TASK_KEY);
  let player = null;
  let shown = null;

  const name = h('input', { type: 'text', class: 'input', name: 'name', maxlength: MAX_NAME, autocomplete: 'off', value: saved.name || '' });
  const nameCounter = counter(name, MAX_NAME);
  const instruct = h('textarea', { class: 'input', name: 'instruct', rows: 4, placeholder: 'Who is speaking, and how? Age, pitch, pace, mood…' });
  instruct.value = saved.instruct || '';
  const instructCounter = counter(instruct, MAX_TEXT);
  const text = h('textarea', { class: 'input', name: 'text', rows: 3 });
  text.value = saved.text || DEFAULT_TEXT;
  const textCounter = counter(text, MAX_TEXT);
  const language = h('select', { class: 'input', name: 'language' },
    (info.languages || ['English']).map((lang) => h('option', { value: lang }, lang)));
  const wanted = saved.language || 'English';
  language.value = [...language.options].some((o) => o.value === wanted) ? wanted : language.options[0].value;

  const presets = h('div', { class: 'presets', role: 'group', 'aria-label': 'Presets' },
    PRESETS.map((preset) => h('button', {
      type: 'button', class: 'chip',
      onclick: () => {
        name.value = preset.name;
        instruct.value = preset.instruct;
        if (!text.value.trim()) text.value = DEFAULT_TEXT;
        for (const c of [nameCounter, instructCounter, textCounter]) c.update();
        persist();
        announce(`${preset.label} preset filled in.`);
      },
    }, preset.label)));

  const message = messageBox();
  const submit = h('button', { type: 'submit', class: 'button button-primary button-large' }, 'Generate preview');
  const form = h('form', { class: 'form card', novalidate: true },
    h('div', { class: 'field' }, h('p', { class: 'field-label' }, 'Start from a preset'), presets),
    field('Voice name', name, { extra: nameCounter.el }),
    field('Voice description', instruct, { extra: instructCounter.el }),
    field('Preview text', text, { extra: textCounter.el, hint: 'What the preview says; it is kept as the voice’s transcript.' }),
    field('Language', language),
    message.el,
    h('div', { class: 'actions' }, submit));
  const previewCard = h('section', { class: 'card progress-card', 'aria-labelledby': 'preview-title' });

  root.append(h('section', { class: 'page' },
    pageHeader('Design a voice', 'Describe a voice in words, listen to a preview, and keep it if you like it.'),
    h('div', { class: 'generate-layout' }, form, previewCard)));

  function persist() {
    writeDraft(FORM_KEY, { name: name.value, instruct: instruct.value, text: text.value, language: language.value });
  }
  for (const input of [name, instruct, text, language]) input.addEventListener('input', persist);

  function problems() {
    if (!name.value.trim() || name.value.trim().length > MAX_NAME) return [name, 'Name must be 1-100 characters.'];
    if (!instruct.value.trim()) return [instruct, 'Voice description is required.'];
    if (instruct.value.trim().length > MAX_TEXT) return [instruct, 'Voice description must be 500 characters or less.'];
    if (!text.value.trim()) return [text, 'Preview text is required.'];
    if (text.value.trim().length > MAX_TEXT) return [text, 'Preview text must be 500 characters or less.'];
    return null;
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const problem = problems();
    if (problem) {
      message.error(problem[1]);
      problem[0].focus();
      return;
    }
    submit.disabled = true;
    submit.textContent = 'Starting…';
    try {
      const started = await api('/api/voices/design/preview', {
        method: 'POST',
        json: { text: text.value.trim(), language: language.value, instruct: instruct.value.trim() },
      });
      taskId = started.task_id;
      writeDraft(TASK_KEY, taskId);
      writeDraft(SAVED_KEY, null);
      show({ id: taskId, type: 'design_preview', status: 'pending', metadata: {}, created_at: new Date().toISOString() });
      await refreshTasks({ broadcast: true });
      follow();
    } catch (err) {
      message.error(err.detail || err.message);
    }
    submit.disabled = false;
    submit.textContent = 'Generate preview';
  });

  function savedState() {
    const value = readDraft(SAVED_KEY);
    return value && value.task_id === taskId ? value : null;
  }

  function show(task) {
    if (!task) {
      shown = null;
      delete previewCard.dataset.task;
      if (player) { player.destroy(); player = null; }
      replace(previewCard,
        h('h2', { id: 'preview-title' }, 'Preview'),
        h('p', { class: 'muted' }, 'Describe the voice, or start from a preset, then generate a preview. You can listen before you decide to keep it.'));
      return;
    }
    if (isActive(task)) {
      shown = null;
      if (player) { player.destroy(); player = null; }
      let status = previewCard.querySelector('[data-status]');
      if (!status || previewCard.dataset.task !== task.id) {
        previewCard.dataset.task = task.id;
        const cancel = h('button', { type: 'button', class: 'button' }, 'Cancel');
        cancel.addEventListener('click', async () => {
          cancel.disabled = true;
          try { await cancelTask(task.id); } catch (err) { message.error(err.detail || err.message); cancel.disabled = false; }
        });
        status = h('p', { class: 'progress-status', role: 'status', dataset: { status: '' } });
        replace(previewCard,
          h('h2', { id: 'preview-title' }, 'Designing the preview'),
          status,
          h('progress', { 'aria-label': 'Progress' }),
          h('p', { class: 'progress-meta' }, h('span', { dataset: { elapsed: '' } })),
          h('div', { class: 'actions' }, cancel));
      }
      status.textContent = statusText(task);
      previewCard.querySelector('[data-elapsed]').textContent = `${formatClock(elapsedSeconds(task))} elapsed`;
      return;
    }
    const key = `${task.id}:${task.status}:${savedState() ? 'saved' : ''}`;
    if (shown === key) return;
    shown = key;
    previewCard.dataset.task = task.id;
    if (player) { player.destroy(); player = null; }
    if (task.status === 'completed' && task.result && task.result.audio_url) {
      player = createPlayer({ src: task.result.audio_url, label: 'voice preview' });
      player.preload();
      const outcome = h('div', { class: 'save-outcome' });
      replace(previewCard,
        h('h2', { id: 'preview-title', tabindex: '-1' }, 'Preview ready'),
        h('p', { class: 'muted' }, 'Listen, then keep it as a voice — or change the description and try again.'),
        player.el,
        outcome);
      drawSave(task, outcome);
      announce('The preview is ready.');
    } else if (task.status === 'failed') {
      replace(previewCard,
        h('h2', { id: 'preview-title' }, 'The preview failed'),
        h('p', { class: 'message message-error', role: 'alert' }, task.error || 'Voice design failed. Please try again.'));
    } else if (task.status === 'cancelled') {
      replace(previewCard,
        h('h2', { id: 'preview-title' }, 'Cancelled'),
        h('p', { class: 'message message-info', role: 'status' }, 'The preview was cancelled.'));
    }
  }

  function drawSave(task, outcome) {
    const done = savedState();
    if (done) {
      replace(outcome,
        h('p', { class: 'message message-success', role: 'status' }, `Voice “${done.name}” saved and ready to use.`),
        h('div', { class: 'actions' },
          h('a', { href: `/generate?voice=${encodeURIComponent(done.voice_id)}`, class: 'button button-primary' }, 'Use voice'),
          h('a', { href: '/voices', class: 'button button-link' }, 'See your voices')));
      return;
    }
    const saveMessage = messageBox();
    const save = h('button', { type: 'button', class: 'button button-primary' }, 'Save voice');
    save.addEventListener('click', async () => {
      saveMessage.clear();
      const voiceName = name.value.trim();
      if (!voiceName || voiceName.length > MAX_NAME) {
        saveMessage.error('Name must be 1-100 characters.');
        name.focus();
        return;
      }
      save.disabled = true;
      save.textContent = 'Saving…';
      try {
        const voice = await api('/api/voices/design', { method: 'POST', json: { task_id: task.id, name: voiceName } });
        writeDraft(SAVED_KEY, { task_id: task.id, voice_id: voice.id, name: voice.name });
        drawSave(task, outcome);
        announce(`Voice ${voice.name} saved.`);
      } catch (err) {
        saveMessage.error(err.detail || err.message);
        save.disabled = false;
        save.textContent = 'Save voice';
      }
    });
    replace(outcome, saveMessage.el, h('div', { class: 'actions' }, save));
  }

  function follow() {
    show(taskId ? getTask(taskId) : null);
  }
  const offTasks = onTasksChange(follow);
  const tick = setInterval(() => {
    const task = taskId ? getTask(taskId) : null;
    const elapsed = previewCard.querySelector('[data-elapsed]');
    if (task && isActive(task) && elapsed) elapsed.textContent = `${formatClock(elapsedSeconds(task))} elapsed`;
  }, 1000);

  await tasksReady();
  if (taskId && !getTask(taskId)) {
    writeDraft(TASK_KEY, null);
    taskId = null;
  }
  follow();

  return {
    destroy() {
      offTasks();
      clearInterval(tick);
      if (player) player.destroy();
    },
  };
}
