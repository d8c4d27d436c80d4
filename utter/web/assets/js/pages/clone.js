// Clone: reference audio (a file, a recording, or Utter's own example) plus its
// transcript becomes a voice. The upload goes straight to storage through a signed URL
// (POST /api/clone/upload-url → PUT → POST /api/clone/finalize); finalize measures the
// clip, and its report is shown before the user goes on, with a way to throw the voice
// away and try a better recording.

import { api, languages, limits, overLimit } from '../api.js';
import { ACCEPT, FORMATS_TEXT, contentType, isAccepted, sayBytes, saySeconds } from '../audio-files.js';
import { confirmDialog } from '../components/confirm.js';
import {
  announce, counter, field, formatBytes, formatClock, formatDuration, h, messageBox, pageHeader, replace,
} from '../dom.js';
import { HttpError, request, upload } from '../http.js';
import { peaksFromBlob } from '../media.js';
import { createPlayer } from '../player.js';
import { recordingSupported, startRecording } from '../recorder.js';

const count = (n) => n.toLocaleString('en-US');

export async function render(root) {
  const [info, rules] = await Promise.all([languages(), limits()]);
  const reference = rules.reference || {};
  const maxBytes = reference.max_bytes;
  const lengths = typeof reference.min_seconds === 'number' && typeof reference.max_seconds === 'number'
    ? [reference.min_seconds, reference.max_seconds] : null;
  const transcription = Boolean(info.transcription && info.transcription.enabled);
  let examples = [];
  try {
    examples = (await request('/assets/examples/examples.json')).examples || [];
  } catch { /* no examples */ }

  const state = { file: null, duration: null, peaks: null, recorder: null, player: null, timer: null };
  const cleanups = [];

  // ---- reference audio -----------------------------------------------------------
  const fileInput = h('input', { type: 'file', id: 'clone-file', accept: ACCEPT, class: 'visually-hidden' });
  const dropZone = h('label', { for: 'clone-file', class: 'drop-zone' },
    h('span', { class: 'drop-title' }, 'Drop a recording here, or choose a file'),
    h('span', { class: 'hint' }, `${FORMATS_TEXT}${maxBytes ? `; up to ${sayBytes(maxBytes)}` : ''}. 10–30 seconds of clear speech works best.`));
  const chosen = h('div', { class: 'chosen', hidden: true });

  const recordButton = h('button', { type: 'button', class: 'button button-primary' }, 'Start recording');
  const meter = h('meter', { min: 0, max: 1, low: 0.6, high: 0.9, optimum: 0.3, value: 0, 'aria-label': 'Input level' });
  const timer = h('span', { class: 'record-timer', role: 'timer', 'aria-label': 'Recording time' }, '0:00');
  const recordHint = h('p', { class: 'hint' },
    transcription
      ? 'Speak for 10–30 seconds. When you stop, Utter writes down what you said; check it before cloning.'
      : 'Speak for 10–30 seconds, then type exactly what you said in the transcript.');
  const recordPanel = h('div', { class: 'record-panel', hidden: true },
    h('div', { class: 'record-controls' }, recordButton, meter, timer), recordHint);
  const uploadPanel = h('div', { class: 'upload-panel' }, fileInput, dropZone);

  const modeSwitch = h('fieldset', { class: 'segmented' },
    h('legend', { class: 'visually-hidden' }, 'Where the reference audio comes from'),
    ...[['upload', 'Upload a file'], ['record', 'Record']].map(([value, text]) => h('label', { class: 'segment' },
      h('input', { type: 'radio', name: 'clone-mode', value, checked: value === 'upload', onchange: () => setMode(value) }),
      h('span', {}, text))));
  if (!recordingSupported()) modeSwitch.querySelector('input[value="record"]').closest('label').hidden = true;

  const exampleButton = examples.length
    ? h('button', { type: 'button', class: 'link-button', onclick: () => loadExample(examples[0]) }, 'Try the example voice')
    : null;

  // ---- about the voice -------------------------------------------------------------
  const name = h('input', { type: 'text', class: 'input', name: 'name', maxlength: rules.voice_name_max, autocomplete: 'off', required: true });
  const nameCounter = counter(name, rules.voice_name_max);
  const language = h('select', { class: 'input', name: 'language' },
    (info.languages || ['Auto']).map((lang) => h('option', { value: lang, selected: lang === (info.default || 'Auto') }, lang)));
  const transcript = h('textarea', { class: 'input', name: 'transcript', rows: 4, required: true });
  const transcriptCounter = counter(transcript);
  const transcribeButton = transcription
    ? h('button', { type: 'button', class: 'button button-small', disabled: true, onclick: () => transcribe() }, 'Transcribe')
    : null;
  // No maxlength: a pasted description that is too long is refused in words, not cut short.
  const description = h('textarea', { class: 'input', name: 'description', rows: 2 });
  const descriptionCounter = counter(description, rules.voice_description_max);

  const checks = h('ul', { class: 'checks', 'aria-label': 'Checks before cloning' });
  const message = messageBox();
  const submit = h('button', { type: 'submit', class: 'button button-primary button-large' }, 'Clone voice');

  const form = h('form', { class: 'form clone-form', novalidate: true },
    h('section', { class: 'card', 'aria-labelledby': 'clone-audio-title' },
      h('div', { class: 'card-head' }, h('h2', { id: 'clone-audio-title' }, '1. Reference audio'), exampleButton),
      modeSwitch, uploadPanel, recordPanel, chosen),
    h('section', { class: 'card', 'aria-labelledby': 'clone-about-title' },
      h('h2', { id: 'clone-about-title' }, '2. About the voice'),
      field('Voice name', name, { extra: nameCounter.el }),
      field('Language', language, { hint: 'The language spoken in the recording.' }),
      field('Transcript', transcript, {
        hint: 'Exactly what is said in the recording.',
        extra: h('span', { class: 'field-extra' }, transcribeButton, transcriptCounter.el),
      }),
      field('Description (optional)', description, { extra: descriptionCounter.el })),
    h('section', { class: 'card', 'aria-labelledby': 'clone-checks-title' },
      h('h2', { id: 'clone-checks-title' }, '3. Check and clone'),
      checks, message.el,
      h('div', { class: 'actions' }, submit)));

  const result = h('div', { class: 'clone-result', hidden: true });
  root.append(h('section', { class: 'page' },
    pageHeader('Clone a voice', 'A short recording of one person speaking, and what they say, becomes a voice you can use.'),
    form, result));

  function setMode(mode) {
    uploadPanel.hidden = mode !== 'upload';
    recordPanel.hidden = mode !== 'record';
  }

  // ---- choosing audio ----------------------------------------------------------------
  async function useFile(file, { label } = {}) {
    if (state.player) state.player.destroy();
    state.player = null;
    state.file = file;
    state.duration = null;
    state.peaks = null;
    message.clear();
    if (!file) {
      chosen.hidden = true;
      replace(chosen);
      updateChecks();
      return;
    }
    const removeButton = h('button', { type: 'button', class: 'button button-small', onclick: () => { fileInput.value = ''; useFile(null); } }, 'Remove');
    const summary = h('p', { class: 'chosen-name' }, `${label || file.name} • ${formatBytes(file.size)}`);
    chosen.hidden = false;
    replace(chosen, h('div', { class: 'chosen-head' }, summary, removeButton));
    updateChecks();
    if (!isAccepted(file) || tooBig(file)) return;
    try {
      const measured = await peaksFromBlob(file);
      if (state.file !== file) return;
      state.duration = measured.duration;
      state.peaks = measured.peaks;
      summary.textContent = `${label || file.name} • ${formatBytes(file.size)} • ${formatClock(measured.duration)}`;
    } catch {
      // The browser cannot decode it; the server may still, and its report will say.
    }
    if (state.file !== file) return;
    state.player = createPlayer({ blob: file, peaks: state.peaks, duration: state.duration, label: 'reference audio' });
    chosen.append(state.player.el);
    updateChecks();
  }

  fileInput.addEventListener('change', () => useFile(fileInput.files[0] || null));
  dropZone.addEventListener('dragover', (event) => { event.preventDefault(); dropZone.classList.add('dragging'); });
  dropZone.addEventListener('dragleave', () => dropZone.classList.remove('dragging'));
  dropZone.addEventListener('drop', (event) => {
    event.preventDefault();
    dropZone.classList.remove('dragging');
    const file = event.dataTransfer && event.dataTransfer.files[0];
    if (file) useFile(file);
  });

  async function loadExample(example) {
    message.clear();
    try {
      const [audio, text] = await Promise.all([
        request(example.audio, { expect: 'blob' }),
        example.transcript,
      ]);
      const file = new File([audio], example.file_name || 'example.wav', { type: 'audio/wav' });
      setMode('upload');
      modeSwitch.querySelector('input[value="upload"]').checked = true;
      transcript.value = text;
      transcriptCounter.update();
      if (!name.value.trim()) { name.value = example.name; nameCounter.update(); }
      if (example.language && [...language.options].some((o) => o.value === example.language)) language.value = example.language;
      await useFile(file, { label: `${example.name} (example made by Utter)` });
      announce('Example voice loaded.');
    } catch {
      message.error('The example could not be loaded.');
    }
  }

  // ---- recording -------------------------------------------------------------------
  async function toggleRecording() {
    if (state.recorder) {
      const recorder = state.recorder;
      state.recorder = null;
      clearInterval(state.timer);
      recordButton.disabled = true;
      recordButton.textContent = 'Finishing…';
      try {
        const file = await recorder.stop();
        await useFile(file, { label: 'Your recording' });
        if (transcription && !transcript.value.trim()) transcribe();
      } catch {
        message.error('The recording could not be finished. Try again.');
      }
      meter.value = 0;
      recordButton.disabled = false;
      recordButton.textContent = 'Record again';
      return;
    }
    message.clear();
    try {
      state.recorder = await startRecording({ onLevel: (level) => { meter.value = Math.min(1, level * 4); } });
    } catch (err) {
      message.error(err && err.name === 'NotAllowedError'
        ? 'Utter needs permission to use your microphone. Allow it in the browser and try again.'
        : 'No microphone could be opened.');
      return;
    }
    recordButton.textContent = 'Stop recording';
    timer.textContent = '0:00';
    state.timer = setInterval(() => { if (state.recorder) timer.textContent = formatClock(state.recorder.elapsed()); }, 250);
  }
  recordButton.addEventListener('click', toggleRecording);

  // ---- transcription ---------------------------------------------------------------
  async function transcribe() {
    if (!state.file || !transcribeButton) return;
    transcribeButton.disabled = true;
    transcribeButton.textContent = 'Transcribing…';
    const form = new FormData();
    form.append('audio', state.file, state.file.name);
    form.append('language', language.value);
    try {
      const body = await api('/api/transcriptions', { method: 'POST', form });
      transcript.value = body.text || '';
      transcriptCounter.update();
      updateChecks();
      announce('Transcript filled in. Check it against the recording.');
    } catch (err) {
      message.error(err);
    }
    transcribeButton.textContent = 'Transcribe';
    transcribeButton.disabled = !state.file;
  }

  // ---- live checks -------------------------------------------------------------------
  function tooBig(file) {
    return typeof maxBytes === 'number' && file.size > maxBytes;
  }

  function problems() {
    const list = [];
    const nameValue = name.value.trim();
    list.push({
      ok: nameValue.length >= 1 && !overLimit(nameValue, rules.voice_name_max),
      text: rules.voice_name_max ? `A name of 1–${count(rules.voice_name_max)} characters` : 'A name',
      target: name,
    });
    let audioText = 'Reference audio chosen';
    let audioOk = Boolean(state.file);
    if (state.file && !isAccepted(state.file)) { audioOk = false; audioText = `The file is ${FORMATS_TEXT}`; }
    if (state.file && tooBig(state.file)) { audioOk = false; audioText = `The file is at most ${sayBytes(maxBytes)}`; }
    list.push({ ok: audioOk, text: audioText, target: fileInput });
    if (state.duration !== null && lengths) {
      const [least, most] = lengths;
      const fits = state.duration >= least && state.duration <= most;
      list.push({
        ok: fits, warn: !fits,
        text: fits
          ? `Length ${formatClock(state.duration)} (${saySeconds(least, { short: true })} – ${saySeconds(most, { short: true })})`
          : `Length ${formatClock(state.duration)}: ${saySeconds(least)} to ${saySeconds(most)} works best`,
      });
    }
    list.push({ ok: transcript.value.trim().length > 0, text: 'A transcript of what is said', target: transcript });
    list.push({
      ok: !overLimit(description.value.trim(), rules.voice_description_max),
      text: `A description of at most ${count(rules.voice_description_max || 0)} characters`,
      target: description,
      hideWhenOk: true,
    });
    return list;
  }

  function updateChecks() {
    if (transcribeButton && transcribeButton.textContent === 'Transcribe') transcribeButton.disabled = !state.file;
    replace(checks, problems().filter((c) => !(c.ok && c.hideWhenOk)).map((check) => h('li', {
      class: check.ok ? 'check-ok' : check.warn ? 'check-warn' : 'check-missing',
    }, h('span', { class: 'check-icon', 'aria-hidden': 'true' }, check.ok ? '✓' : check.warn ? '!' : '○'),
    h('span', { class: 'visually-hidden' }, check.ok ? 'Done: ' : check.warn ? 'Warning: ' : 'Missing: '),
    check.text)));
  }
  for (const input of [name, transcript, description]) input.addEventListener('input', updateChecks);

  // ---- submitting ---------------------------------------------------------------------
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const failing = problems().find((check) => !check.ok && !check.warn);
    if (failing) {
      message.error(`Before cloning: ${failing.text.charAt(0).toLowerCase()}${failing.text.slice(1)}.`);
      if (failing.target === fileInput) dropZone.focus(); else if (failing.target) failing.target.focus();
      return;
    }
    const payload = {
      name: name.value.trim(),
      language: language.value,
      transcript: transcript.value.trim(),
      ...(description.value.trim() ? { description: description.value.trim() } : {}),
    };
    const started = Date.now();
    let uploaded = null; // percent while the upload runs
    const label = () => (uploaded === null
      ? `Cloning… ${formatClock((Date.now() - started) / 1000)}`
      : `Uploading… ${uploaded}%`);
    submit.disabled = true;
    submit.textContent = label();
    const clock = setInterval(() => { submit.textContent = label(); }, 500);
    try {
      const target = await api('/api/clone/upload-url', { method: 'POST', json: payload });
      if (target.max_bytes && state.file.size > target.max_bytes) {
        throw new HttpError(400, `This server takes files up to ${formatBytes(target.max_bytes)}; this one is ${formatBytes(state.file.size)}.`);
      }
      // Signed upload URLs are same-origin here, but may be an S3 presigned URL elsewhere.
      const uploadUrl = new URL(target.upload_url, location.origin).href;
      uploaded = 0;
      await upload(uploadUrl, state.file, {
        contentType: contentType(state.file),
        onProgress: (fraction) => {
          uploaded = Math.round(fraction * 100);
          submit.textContent = label();
        },
      });
      uploaded = null;
      const voice = await api('/api/clone/finalize', { method: 'POST', json: { voice_id: target.voice_id, ...payload } });
      clearInterval(clock);
      showResult(voice);
    } catch (err) {
      clearInterval(clock);
      message.error(err);
    }
    submit.disabled = false;
    submit.textContent = 'Clone voice';
  });

  function showResult(voice) {
    form.hidden = true;
    result.hidden = false;
    const report = voice.report || null;
    const warnings = (report && report.warnings) || [];
    const percent = (value, digits = 0) => (value === null || value === undefined ? '—' : `${(Number(value) * 100).toFixed(digits)}%`);
    const number = (value, unit, digits = 1) => (value === null || value === undefined ? '—' : `${Number(value).toFixed(digits)} ${unit}`);
    const discard = h('button', { type: 'button', class: 'button button-danger' }, 'Delete it and try again');
    discard.addEventListener('click', async () => {
      const ok = await confirmDialog({ title: `Delete “${voice.name}”?`, message: 'The voice and its reference audio are deleted. You can then clone it again from a better recording.' });
      if (!ok) return;
      discard.disabled = true;
      try {
        await api(`/api/voices/${encodeURIComponent(voice.id)}`, { method: 'DELETE' });
        reset({ keepFields: true });
        message.info('The voice was deleted. Choose or record a better clip and clone again.');
      } catch (err) {
        discard.disabled = false;
        resultMessage.error(err);
      }
    });
    const resultMessage = messageBox();
    replace(result, h('section', { class: 'card report', 'aria-labelledby': 'report-title' },
      h('h2', { id: 'report-title', tabindex: '-1' }, `Voice “${voice.name}” is ready`),
      report ? h('p', {}, 'Here is what Utter measured in the reference clip. A clean clip makes a better voice.') : null,
      report ? h('dl', { class: 'facts report-facts' },
        h('div', {}, h('dt', {}, 'Length'), h('dd', { dataset: { fact: 'duration' } }, formatDuration(report.duration_seconds))),
        h('div', {}, h('dt', {}, 'Speech'), h('dd', { dataset: { fact: 'speech' } }, `${percent(report.speech_ratio)} of the clip`)),
        h('div', {}, h('dt', {}, 'Clipping'), h('dd', { dataset: { fact: 'clipping' } }, report.clipping_ratio ? `${percent(report.clipping_ratio, 2)} of samples` : 'None')),
        h('div', {}, h('dt', {}, 'Loudness'), h('dd', { dataset: { fact: 'loudness' } }, number(report.loudness_lufs, 'LUFS'))),
        report.snr_db !== undefined ? h('div', {}, h('dt', {}, 'Signal to noise'), h('dd', { dataset: { fact: 'snr' } }, number(report.snr_db, 'dB', 0))) : null) : null,
      report ? (warnings.length
        ? h('div', { class: 'warnings', role: 'alert' }, h('h3', {}, 'Worth fixing'), h('ul', {}, warnings.map((w) => h('li', {}, w))))
        : h('p', { class: 'message message-success' }, 'No problems found in the recording.')) : null,
      resultMessage.el,
      h('div', { class: 'actions' },
        h('a', { href: `/generate?voice=${encodeURIComponent(voice.id)}`, class: 'button button-primary', 'data-go-generate': '' }, 'Go to Generate →'),
        h('button', { type: 'button', class: 'button', onclick: () => reset({ keepFields: false }) }, 'Clone another voice'),
        discard)));
    result.querySelector('h2').focus();
  }

  function reset({ keepFields }) {
    result.hidden = true;
    replace(result);
    form.hidden = false;
    fileInput.value = '';
    useFile(null);
    if (!keepFields) {
      name.value = '';
      transcript.value = '';
      description.value = '';
      nameCounter.update();
      transcriptCounter.update();
      descriptionCounter.update();
    }
    updateChecks();
    name.focus();
  }

  updateChecks();
  cleanups.push(() => {
    if (state.recorder) state.recorder.cancel();
    clearInterval(state.timer);
    if (state.player) state.player.destroy();
  });
  return { destroy() { for (const fn of cleanups) fn(); } };
}
