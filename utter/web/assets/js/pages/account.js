// The account: profile (display name, handle, avatar), email and sign-out, and a usage
// summary. Utter has no credits or billing, so there is nothing about them here.

import { api, limits } from '../api.js';
import { currentUser, signOut } from '../auth.js';
import { busy, field, formatDuration, h, messageBox, pageHeader, replace } from '../dom.js';
import { plainWords } from '../http.js';

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

// Shows `loading` in `content` until GET `path` answers, and returns the answer; null
// when it failed (its words are shown instead) or the section was left meanwhile.
async function fetchInto(content, loading, path) {
  content.append(h('p', { class: 'page-status', role: 'status' }, loading));
  try {
    const body = await api(path);
    return content.isConnected ? body : null;
  } catch (err) {
    replace(content, h('p', { class: 'message message-error', role: 'alert' }, plainWords(err)));
    return null;
  }
}

// The handle rule as the server states it (GET /api/limits); without it, only the
// characters are checked here and the server checks the length.
function handleRule(rules) {
  const sized = typeof rules.handle_min === 'number' && typeof rules.handle_max === 'number';
  return {
    pattern: sized ? `[A-Za-z0-9_]{${rules.handle_min},${rules.handle_max}}` : '[A-Za-z0-9_]+',
    hint: sized ? `${rules.handle_min}–${rules.handle_max} letters, digits or underscores.` : 'Letters, digits or underscores.',
    message: sized
      ? `Handle must be ${rules.handle_min}-${rules.handle_max} chars and use only letters, numbers, and underscores.`
      : 'Handle must use only letters, numbers, and underscores.',
  };
}

async function profile(content, ctx) {
  const [me, rules] = await Promise.all([fetchInto(content, 'Loading your profile…', '/api/me'), limits()]);
  if (!me) return;
  const user = currentUser() || {};
  const data = me.profile || {};
  const handleRules = handleRule(rules);

  const displayName = h('input', { type: 'text', class: 'input', name: 'display_name', maxlength: rules.display_name_max, autocomplete: 'name', value: data.display_name || '' });
  const handle = h('input', {
    type: 'text', class: 'input', name: 'handle', maxlength: rules.handle_max, autocomplete: 'username', spellcheck: 'false',
    pattern: handleRules.pattern, value: data.handle || '',
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
    field('Display name', displayName, {
      hint: rules.display_name_max ? `1–${rules.display_name_max} characters. Leave empty to remove it.` : 'Leave empty to remove it.',
    }),
    field('Handle', handle, { hint: handleRules.hint }),
    field('Avatar URL', avatarUrl, { hint: 'A link to a picture (https://…).' }),
    message.el,
    h('div', { class: 'actions' }, save));

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const value = (input) => (input.value.trim() ? input.value.trim() : null);
    const handleValue = value(handle);
    if (handleValue && !new RegExp(`^${handleRules.pattern}$`).test(handleValue)) {
      message.error(handleRules.message);
      handle.focus();
      return;
    }
    const done = busy(save, 'Saving…');
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
      message.error(err);
    }
    done();
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
        h('div', {}, h('dt', {}, 'User id'), h('dd', {}, h('code', {}, (me.user && me.user.id) || user.id || '—')))),
      h('div', { class: 'actions' }, signOutButton)));
}

async function usage(content) {
  const totals = await fetchInto(content, 'Loading usage…', '/api/usage');
  if (!totals) return;
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
