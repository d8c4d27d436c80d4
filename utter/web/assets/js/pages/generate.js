// Generate: text in one of the user's voices, as a background task. The page follows
// its task through the task manager, so a reload (or another tab) picks up where it was:
// the task id and the form are kept in localStorage until the next generation. While the
// task runs, the pieces the worker has finished play back to back (stream-player.js);
// the finished file then takes over in the normal player where they had got to.

import { api, languages, limits, overLimit } from '../api.js';
import { voicePicker } from '../components/voice-picker.js';
import { readDraft, writeDraft } from '../drafts.js';
import { announce, busy, counter, field, formatClock, h, messageBox, pageHeader, replace } from '../dom.js';
import { downloadAudio } from '../media.js';
import { createPlayer } from '../player.js';
import { createLivePlayer } from '../stream-player.js';
import { followTask } from '../task-follow.js';
import { elapsedSeconds, getTask, getTasks, isActive, onTasksChange } from '../tasks.js';

const TASK_KEY = 'utter_generate_task';
const FORM_KEY = 'utter_generate_form';
// What the result card says while a task runs, with none, and when one fails or is cancelled.
const WORDS = {
  title: 'Generating',
  idle: [
    'Your speech',
    'Pick a voice, write what it should say and press Generate. Progress and the result appear here; the task dock keeps track of it on every page.',
  ],
  failed: ['Generation failed', 'Generation failed. Please try again.'],
  cancelled: 'Generation was cancelled.',
};

export function generationIdFrom(task) {
  const url = task && task.result && task.result.audio_url;
  const match = url ? /\/generations\/([^/?#]+)\/audio/.exec(url) : null;
  return match ? decodeURIComponent(match[1]) : null;
}

export async function render(root, ctx) {
  const [info, rules] = await Promise.all([languages(), limits()]);
  const maxText = rules.generation_text_max;
  const saved = readDraft(FORM_KEY) || {};
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
  const textCounter = counter(text, maxText);
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
    pageHeader('Generate speech', `${maxText ? `Up to ${maxText.toLocaleString('en-US')} characters, read` : 'Text read'} in any of your voices. It runs in the background: you can leave this page.`),
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
      message.error(err.status === 404 ? 'That voice no longer exists. Pick another one.' : err);
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
    submit.disabled = Boolean(running) || !picker.value || length === 0 || overLimit(text.value, maxText);
    busyNote.hidden = !running;
    busyNote.textContent = running ? 'A generation is running; you can start the next one when it finishes.' : '';
  }

  // ---- progress and result ----------------------------------------------------------
  const live = createLivePlayer();
  const follower = followTask({
    key: TASK_KEY, type: 'generate', card: progressCard, titleId: 'progress-title', words: WORDS, message, onDone: showResult,
    note: (task) => (task.metadata && task.metadata.text_preview ? `“${task.metadata.text_preview}”` : null),
    live: live.el,
    onCancel: () => live.stop(),
  });
  const followLive = () => live.follow(follower.id ? getTask(follower.id) : null);

  function showResult(task) {
    const src = task.result.audio_url;
    const id = task.generation_id || generationIdFrom(task) || task.id;
    const player = createPlayer({ src, label: 'generated speech' });
    const download = (format) => async (event) => {
      const button = event.currentTarget;
      button.disabled = true;
      try {
        await downloadAudio(src, `utter-${id}.${format}`, { format: format === 'mp3' ? 'mp3' : undefined });
      } catch (err) {
        message.error(err);
      }
      button.disabled = false;
    };
    player.preload();
    // Someone listening to the pieces as they came goes on in the finished file from where
    // they had got to: starting it stops the live playback (stream-player.js), so the
    // speech is heard once. Should the browser refuse to start it, the pieces play on.
    live.follow(task);
    if (live.listening()) {
      player.loaded().then(() => {
        if (live.listening()) player.playFrom(live.position(), { quiet: true });
      }).catch(() => {});
    }
    replace(progressCard,
      h('h2', { id: 'progress-title', tabindex: '-1' }, 'Your speech is ready'),
      h('p', { class: 'muted' }, `Took ${formatClock(elapsedSeconds(task))}.`),
      player.el,
      h('div', { class: 'actions' },
        h('button', { type: 'button', class: 'button button-primary', onclick: download('wav') }, 'Download WAV'),
        h('button', { type: 'button', class: 'button', onclick: download('mp3') }, 'Download MP3'),
        h('a', { href: '/history', class: 'button button-link' }, 'See it in History')));
    announce('Your speech is ready.');
    return player;
  }

  const offTasks = onTasksChange(() => { updateButton(); followLive(); });

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const voice = picker.value;
    if (!voice) { message.error('Please select a voice'); picker.input.focus(); return; }
    if (!text.value.trim()) { message.error('Please enter text to speak'); text.focus(); return; }
    if (overLimit(text.value, maxText)) { message.error(`Text cannot exceed ${maxText} characters`); text.focus(); return; }
    const done = busy(submit, 'Starting…');
    // In the click itself: browsers let a page make sound only after a gesture.
    live.prime();
    try {
      await follower.start(() => api('/api/generate', {
        method: 'POST',
        json: { voice_id: voice.id, text: text.value.trim(), language: language.value },
      }));
      followLive();
    } catch (err) {
      live.stop();
      message.error(err);
    }
    done();
    updateButton();
  });

  await follower.resume();
  updateButton();

  return {
    destroy() {
      offTasks();
      live.stop();
      follower.destroy();
      picker.destroy();
    },
  };
}
