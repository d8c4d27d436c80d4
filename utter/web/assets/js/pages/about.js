// About Utter: what it is, what it needs from a reference recording, what runs where.

import { languages } from '../api.js';
import { renderProse } from './prose.js';

export async function render(root) {
  const section = renderProse(root, `
<h1>About Utter</h1>
<p class="lead">Utter is a voice studio you host yourself. Several people can share one server; each sees only their own voices and audio.</p>

<h2>What it does</h2>
<ul>
  <li><strong>Clone</strong> a voice from a short recording of someone speaking and a transcript of what they say.</li>
  <li><strong>Design</strong> a voice from a written description, hear a preview and keep it.</li>
  <li><strong>Generate</strong> speech from up to 10,000 characters of text in any of your voices, as a background task you can follow, cancel and come back to.</li>
</ul>

<h2>Reference recordings</h2>
<p>Utter accepts WAV, MP3, M4A, FLAC, OGG, Opus and WebM files up to 50 MB, or a recording made in the browser, from 3 seconds to 5 minutes long.
What works best is 10 to 30 seconds of one person speaking clearly in a quiet room, with an exact transcript.
Before you go on, Utter shows a report on the clip — its length, how much of it is speech, whether it clips, how loud it is — with a plain warning for anything likely to spoil the voice.</p>

<h2>What runs where</h2>
<p>The speech engine runs on this server or on GPU workers its operator chose.
By default it is an offline engine that needs no internet connection; an operator can switch to Qwen3-TTS on their own GPUs or on Modal.
<span data-languages></span></p>
<p>Transcription (filling in the transcript for you) uses an offline recogniser unless the operator configured a remote service.</p>

<h2>Keyboard</h2>
<p>Press <kbd>C</kbd>, <kbd>G</kbd> or <kbd>D</kbd> anywhere outside a text field to open Clone, Generate or Design.
Every player can be controlled from the keyboard: focus its waveform and use the arrow keys to move, Space to play or pause.</p>

<h2>For developers</h2>
<p>Everything the app does goes through a documented HTTP API; this server describes it at <a href="/docs" data-native>/docs</a>.
Sign-in speaks the same protocol as Supabase Auth, so its client libraries work too.</p>
`);
  const info = await languages();
  const slot = section.querySelector('[data-languages]');
  if (slot && !info.failed) {
    const names = (info.languages || []).filter((name) => name !== 'Auto');
    slot.textContent = `This server's engine speaks ${names.length === 1 ? '' : `${names.length} languages: `}${names.join(', ')}.`;
  }
  return null;
}
