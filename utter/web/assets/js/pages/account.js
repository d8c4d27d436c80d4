// The account: profile (display name, handle, avatar), email and sign-out, and a usage
// summary. Utter has no credits or billing; the original's mock-ups of those are gone.

import { api } from '../api.js';
import { currentUser, signOut } from '../auth.js';
import { field, formatDuration, h, messageBox, pageHeader, replace } from '../dom.js';

export async function render(root, ctx) {
  const content = h('div', { class: 'account-content' });
  const tabs = h('nav', { class: 'side-nav', 'aria-label': 'Account sections' },
    h('a', { href: '/account', class: 'side-link' }, 'Profile'),
    h('a', { href: '/account/usage', class: 'side-link' }, 'Usage'));
  root.append(h('section', { class: 'page' },
    pageHeader('Account'),
    h('div', { class: 'account-layout' }, tabs, content)));

  function show(section) {
    for (const link of tabs.querySelectorAll('a')) {
      const current = (link.getAttribute('href') === '/account/usage') === (section === 'usage');
      if (current) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    replace(content);
    if (section === 'usage') usage(content);
    else profile(content, ctx);
  }

  show(ctx.route.section);
  return {
    update(next) { show(next.route.section); },
  };
}

async function profile(content, ctx) {
  const status = h('p', { class: 'page-status', role: 'status' }, 'Loading your profile…');
  content.append(status);
  let me;
  try {
    me = await api('/api/me');
  } catch (err) {
    replace(content, h('p', { class: 'message message-error', role: 'alert' }, err.detail));
    return;
  }
  if (!content.isConnected) return;
  const user = currentUser() || {};
  const data = (me && me.profile) || {};

  const displayName = h('input', { type: 'text', class: 'input', name: 'display_name', maxlength: 100, autocomplete: 'name', value: data.display_name || '' });
  const handle = h('input', {
    type: 'text', class: 'input', name: 'handle', maxlength: 30, autocomplete: 'username', spellcheck: 'false',
    pattern: '[A-Za-z0-9_]{3,30}', value: data.handle || '',
  });
  const avatarUrl = h('input', { type: 'url', class: 'input', name: 'avatar_url', inputmode: 'url', value: data.avatar_url || '' });
  const avatar = h('div', { class: 'avatar', 'aria-hidden': 'true' });
  const message = messageBox();
  const save = h('button', { type: 'submit', class: 'button button-primary' }, 'Save profile');

  function drawAvatar() {
    const url = avatarUrl.value.trim();
    const initial = (displayName.value.trim() || user.email || '?').charAt(0).toUpperCase();
    if (/^https?:\/\//i.test(url)) {
      const img = h('img', { src: url, alt: '', width: 64, height: 64, referrerpolicy: 'no-referrer' });
      img.addEventListener('error', () => replace(avatar, initial), { once: true });
      replace(avatar, img);
    } else {
      replace(avatar, initial);
    }
  }
  drawAvatar();
  avatarUrl.addEventListener('change', drawAvatar);
  displayName.addEventListener('input', () => { if (!avatar.querySelector('img')) drawAvatar(); });

  const form = h('form', { class: 'form card', novalidate: true, 'aria-labelledby': 'profile-title' },
    h('div', { class: 'profile-head' }, avatar,
      h('div', {},
        h('h2', { id: 'profile-title' }, 'Profile'),
        h('p', { class: 'muted' }, 'How you appear in Utter.'))),
    field('Display name', displayName, { hint: '1–100 characters. Leave empty to remove it.' }),
    field('Handle', handle, { hint: '3–30 letters, digits or underscores.' }),
    field('Avatar URL', avatarUrl, { hint: 'A link to a picture (https://…).' }),
    message.el,
    h('div', { class: 'actions' }, save));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const value = (input) => (input.value.trim() ? input.value.trim() : null);
    const handleValue = value(handle);
    if (handleValue && !/^[A-Za-z0-9_]{3,30}$/.test(handleValue)) {
      message.error('Handle must be 3-30 chars and use only letters, numbers, and underscores.');
      handle.focus();
      return;
    }
    save.disabled = true;
    save.textContent = 'Saving…';
    try {
      const body = await api('/api/profile', {
        method: 'PATCH',
        json: { display_name: value(displayName), handle: handleValue, avatar_url: value(avatarUrl) },
      });
      const saved = (body && body.profile) || {};
      displayName.value = saved.display_name || '';
      handle.value = saved.handle || '';
      avatarUrl.value = saved.avatar_url || '';
      drawAvatar();
      message.success('Profile saved.');
    } catch (err) {
      message.error(err.detail || err.message);
    }
    save.disabled = false;
    save.textContent = 'Save profile';
  });

  const signOutButton = h('button', { type: 'button', class: 'button' }, 'Sign out');
  signOutButton.addEventListener('click', async () => {
    signOutButton.disabled = true;
    // Leave the signed-in page first, so the guard does not bounce through sign-in.
    ctx.navigate('/', { replace: true });
    await signOut();
  });

  const emailId = 'account-email';
  replace(content,
    form,
    h('section', { class: 'card', 'aria-labelledby': 'session-title' },
      h('h2', { id: 'session-title' }, 'Sign-in'),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', { id: emailId }, 'Email'), h('dd', { 'aria-labelledby': emailId, 'data-email': '' }, user.email || '—')),
        h('div', {}, h('dt', {}, 'User id'), h('dd', {}, h('code', {}, (me && me.user && me.user.id) || user.id || '—')))),
      h('div', { class: 'actions' }, signOutButton)));
}

async function usage(content) {
  const status = h('p', { class: 'page-status', role: 'status' }, 'Loading usage…');
  content.append(status);
  let totals;
  try {
    totals = await api('/api/usage');
  } catch (err) {
    replace(content, h('p', { class: 'message message-error', role: 'alert' }, err.detail));
    return;
  }
  if (!content.isConnected) return;
  const stat = (label, value, key) => h('div', { class: 'stat card', dataset: { stat: key } },
    h('dt', {}, label), h('dd', {}, value));
  replace(content,
    h('section', { 'aria-labelledby': 'usage-title' },
      h('h2', { id: 'usage-title' }, 'Usage'),
      h('p', { class: 'muted' }, 'Totals for your account. This server does not charge for use or limit it by credits.'),
      h('dl', { class: 'stats' },
        stat('Voices', String(totals.voices ?? 0), 'voices'),
        stat('Generations', String(totals.generations ?? 0), 'generations'),
        stat('Audio generated', formatDuration(totals.generated_seconds ?? 0), 'generated_seconds'))),
    totals.daily ? today(totals.daily, stat) : null);
}

// Today's use against the server's daily limits. The day is the UTC calendar day, so it is
// said in those words rather than converted to the reader's own midnight.
function today(daily, stat) {
  const count = (n) => Number(n).toLocaleString('en-US');
  const of = (used, limit, show) => (limit === null || limit === undefined
    ? `${show(used)} (no daily limit)`
    : `${show(used)} of ${show(limit)}`);
  const limited = daily.characters.limit !== null || daily.transcription_seconds.limit !== null;
  return h('section', { 'aria-labelledby': 'today-title' },
    h('h2', { id: 'today-title' }, `Today (UTC, ${daily.day})`),
    h('p', { class: 'muted' }, limited
      ? 'This server limits what each account may use per day. The limits reset at midnight UTC.'
      : 'This server sets no daily limits.'),
    h('dl', { class: 'stats' },
      stat('Characters spoken', of(daily.characters.used, daily.characters.limit, count), 'characters_today'),
      stat('Audio transcribed', of(daily.transcription_seconds.used, daily.transcription_seconds.limit, formatDuration), 'transcription_today')));
}
