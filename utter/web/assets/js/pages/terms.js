// Terms of use: consent first.

import { renderProse } from './prose.js';

export async function render(root) {
  renderProse(root, `
<h1>Terms of use</h1>
<p class="lead">A voice belongs to the person it comes from. Use Utter accordingly.</p>

<h2>Consent</h2>
<p>Clone only voices you have the right to use: your own, or a voice whose owner has agreed. Do not use Utter to impersonate anyone, to deceive, defraud or harass, or to break the law.</p>

<h2>Be clear about synthetic speech</h2>
<p>Where listeners could take generated audio for a real person speaking, tell them it is generated.</p>

<h2>The operator</h2>
<p>This server is run by its operator, not by the authors of Utter. The operator decides who may have an account, may set further rules, and may suspend accounts that break them.</p>

<h2>Your content</h2>
<p>What you upload and generate remains yours, subject to the rights of the people whose voices you use. See <a href="/privacy">Privacy</a> for how it is stored and deleted.</p>

<h2>No warranty</h2>
<p>Utter is open-source software provided as is, without warranty of any kind. Generated speech can contain mistakes; check it before you rely on it.</p>
`);
  return null;
}
