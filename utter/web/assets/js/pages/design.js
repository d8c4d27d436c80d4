// Design: a description and a preview text become a preview clip (a background task);
// the user listens first and saves it as a voice if they like it
// (POST /api/voices/design {task_id, name}), then takes it to Generate.

import { api, languages, limits, nameProblem, overLimit } from '../api.js';
import { readDraft, writeDraft } from '../drafts.js';
import { announce, busy, counter, field, h, messageBox, pageHeader, replace } from '../dom.js';
import { createPlayer } from '../player.js';
import { followTask } from '../task-follow.js';

const TASK_KEY = 'utter_design_task';
const FORM_KEY = 'utter_design_form';
const SAVED_KEY = 'utter_design_saved';
// What the result card says while a task runs, with none, and when one fails or is cancelled.
const WORDS = {
  title: 'Designing the preview',
  idle: [
    'Preview',
    'Describe the voice, or start from a preset, then generate a preview. You can listen before you decide to keep it.',
  ],
  failed: ['The preview failed', 'Voice design failed. Please try again.'],
  cancelled: 'The preview was cancelled.',
};

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
  const [info, rules] = await Promise.all([languages(), limits()]);
  const saved = readDraft(FORM_KEY) || {};

  const name = h('input', { type: 'text', class: 'input', name: 'name', maxlength: rules.voice_name_max, autocomplete: 'off', value: saved.name || '' });
  const nameCounter = counter(name, rules.voice_name_max);
  const instruct = h('textarea', { class: 'input', name: 'instruct', rows: 4, placeholder: 'Who is speaking, and how? Age, pitch, pace, mood…' });
  instruct.value = saved.instruct || '';
  const instructCounter = counter(instruct, rules.design_instruct_max);
  const text = h('textarea', { class: 'input', name: 'text', rows: 3 });
  text.value = saved.text || DEFAULT_TEXT;
  const textCounter = counter(text, rules.design_text_max);
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

  const follower = followTask({
    key: TASK_KEY, type: 'design_preview', card: previewCard, titleId: 'preview-title', words: WORDS, message, onDone: showResult,
  });

  function persist() {
    writeDraft(FORM_KEY, { name: name.value, instruct: instruct.value, text: text.value, language: language.value });
  }
  for (const input of [name, instruct, text, language]) input.addEventListener('input', persist);

  function problems() {
    const badName = nameProblem(name.value, rules);
    if (badName) return [name, badName];
    if (!instruct.value.trim()) return [instruct, 'Voice description is required.'];
    if (overLimit(instruct.value.trim(), rules.design_instruct_max)) return [instruct, `Voice description must be ${rules.design_instruct_max} characters or less.`];
    if (!text.value.trim()) return [text, 'Preview text is required.'];
    if (overLimit(text.value.trim(), rules.design_text_max)) return [text, `Preview text must be ${rules.design_text_max} characters or less.`];
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
    const done = busy(submit, 'Starting…');
    try {
      await follower.start(async () => {
        const started = await api('/api/voices/design/preview', {
          method: 'POST',
          json: { text: text.value.trim(), language: language.value, instruct: instruct.value.trim() },
        });
        writeDraft(SAVED_KEY, null);
        return started;
      });
    } catch (err) {
      message.error(err);
    }
    done();
  });

  function savedState() {
    const value = readDraft(SAVED_KEY);
    return value && value.task_id === follower.id ? value : null;
  }

  function showResult(task) {
    const player = createPlayer({ src: task.result.audio_url, label: 'voice preview' });
    player.preload();
    const outcome = h('div', { class: 'save-outcome' });
    replace(previewCard,
      h('h2', { id: 'preview-title', tabindex: '-1' }, 'Preview ready'),
      h('p', { class: 'muted' }, 'Listen, then keep it as a voice — or change the description and try again.'),
      player.el,
      outcome);
    drawSave(task, outcome);
    announce('The preview is ready.');
    return player;
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
      const badName = nameProblem(voiceName, rules);
      if (badName) {
        saveMessage.error(badName);
        name.focus();
        return;
      }
      const done = busy(save, 'Saving…');
      try {
        const voice = await api('/api/voices/design', { method: 'POST', json: { task_id: task.id, name: voiceName } });
        writeDraft(SAVED_KEY, { task_id: task.id, voice_id: voice.id, name: voice.name });
        drawSave(task, outcome);
        announce(`Voice ${voice.name} saved.`);
      } catch (err) {
        saveMessage.error(err);
        done();
      }
    });
    replace(outcome, saveMessage.el, h('div', { class: 'actions' }, save));
  }

  await follower.resume();

  return {
    destroy() {
      follower.destroy();
    },
  };
}
