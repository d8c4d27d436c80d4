// How Utter handles voice data, honestly and specifically.

import { renderProse } from './prose.js';

export async function render(root) {
  renderProse(root, `
<h1>Privacy</h1>
<p class="lead">Utter is software that someone — the <em>operator</em> — runs on a server they control. There is no central Utter service: what you upload goes to that server and nowhere else unless the operator configured it to.</p>

<h2>What is stored</h2>
<ul>
  <li><strong>Your account</strong>: email address, a salted hash of your password (never the password itself), and the profile fields you fill in.</li>
  <li><strong>Voices</strong>: the reference recording, its transcript, the description you gave, and measurements of the clip (length, speech ratio, clipping, loudness).</li>
  <li><strong>Generations</strong>: the text you asked to be read, the audio produced, its waveform outline and timings.</li>
  <li><strong>Tasks</strong>: records of background work (queued, running, done), shown in the task dock for a day.</li>
</ul>

<h2>Where it is kept and who can reach it</h2>
<p>Records live in the server's database; audio lives in two private storage buckets (<code>references</code> and <code>generations</code>) on the server's disk or in the operator's S3-compatible storage.
Nothing is public. The database itself enforces that each account reads only its own rows and files, and audio is handed out only through signed links that expire after an hour.
The operator, who runs the machine, can technically read everything stored on it.</p>

<h2>Who else sees it</h2>
<p>By default, nobody: the speech engine and the transcriber run on the server itself.
If the operator chose a remote GPU service or a remote transcription provider, your reference audio and text are sent to that service to do the work. Ask the operator whether they did.</p>

<h2>In your browser</h2>
<p>Your sign-in session and your theme choice are kept in this browser's local storage. Utter sets no tracking cookies, runs no analytics and loads nothing from other websites.</p>

<h2>Deleting</h2>
<p>Deleting a voice deletes its reference recording; deleting a generation deletes its audio. Both are removed from storage, not just hidden.
Deleting a whole account is not in the app yet: ask the operator, who can remove it and everything in it.</p>

<h2>Email</h2>
<p>Your address is used to sign you in (magic links). On a development server those emails are not sent but written to the server's log.</p>
`);
  return null;
}
