// The landing page: what Utter is, in plain words, and a way in.

import { languages } from '../api.js';
import { isSignedIn } from '../auth.js';
import { h } from '../dom.js';

const features = [
  ['Clone', 'Upload or record 10 to 30 seconds of someone speaking, with what they say, and Utter keeps it as a voice. It measures the clip first — length, how much is speech, clipping, loudness — and tells you what to fix.'],
  ['Design', 'Describe a voice in words (“warm, unhurried, low”) and hear a preview before you keep it.'],
  ['Generate', 'Type up to 10,000 characters and have them read in any of your voices. Long text is split at sentence boundaries and runs in the background; you can watch it progress, cancel it, and leave the page.'],
  ['History', 'Every generation is kept with its text and waveform: play it again, download WAV or MP3, regenerate or delete it.'],
];

const steps = [
  ['Bring a voice', 'Clone one from a recording you have the right to use, or design a new one from a description.'],
  ['Write', 'Paste your script and pick a language.'],
  ['Listen and download', 'Follow progress in the task dock; play the result, download it as WAV or MP3.'],
];

export async function render(root) {
  const count = h('span', { class: 'language-count' });
  const start = isSignedIn() ? '/clone' : '/auth?intent=sign_up&returnTo=%2Fclone';
  root.append(
    h('section', { class: 'hero' },
      h('h1', { tabindex: '-1' },
        h('span', {}, 'Clone voices.'), ' ', h('span', {}, 'Design new ones.'), ' ', h('span', {}, 'Generate speech.')),
      h('p', { class: 'lead' },
        'Utter is a voice studio you run yourself. Your recordings, voices and generated audio stay on the server you control.'),
      h('p', { class: 'hero-meta' }, count),
      h('div', { class: 'actions' },
        h('a', { href: start, class: 'button button-primary button-large' }, isSignedIn() ? 'Open the studio' : 'Create an account'),
        h('a', { href: '/#how', class: 'button button-large' }, 'How it works'))),
    h('section', { id: 'features', class: 'section', 'aria-labelledby': 'features-title' },
      h('h2', { id: 'features-title' }, 'What you can do'),
      h('ul', { class: 'feature-grid' },
        features.map(([title, text]) => h('li', { class: 'card' }, h('h3', {}, title), h('p', {}, text))))),
    h('section', { id: 'how', class: 'section', 'aria-labelledby': 'how-title' },
      h('h2', { id: 'how-title' }, 'How it works'),
      h('ol', { class: 'steps' },
        steps.map(([title, text]) => h('li', {}, h('h3', {}, title), h('p', {}, text))))),
    h('section', { id: 'self-hosted', class: 'section', 'aria-labelledby': 'self-title' },
      h('h2', { id: 'self-title' }, 'Yours to run'),
      h('p', {},
        'Utter is one Python program. On a laptop it needs nothing else: it brings its own database and an offline speech engine. ',
        'When one machine is not enough, point it at your own Postgres, object storage and GPU workers.'),
      h('p', {}, h('a', { href: '/about' }, 'More about Utter'), ' · ', h('a', { href: '/privacy' }, 'How your voice data is handled'))),
  );
  const info = await languages();
  if (!root.isConnected) return null;
  const n = (info.languages || []).filter((name) => name !== 'Auto').length;
  count.textContent = info.failed ? '' : `${n} ${n === 1 ? 'language' : 'languages'} supported by this server`;
  return null;
}
