// The account: profile (display name, handle, avatar), email and sign-out, a usage
// summary, and personal API keys. Utter has no credits or billing, so there is nothing
// about them here.

import { api, limits } from '../api.js';
import { currentUser, signOut } from '../auth.js';
import { confirmDialog } from '../components/confirm.js';
import { announce, busy, field, formatDate, formatDuration, h, messageBox, pageHeader, replace } from '../dom.js';
import { plainWords } from '../http.js';

// Each section's link and what draws it; the route names the section.
const SECTIONS = [
  { section: 'profile', href: '/account', label: 'Profile', draw: (content, ctx) => profile(content, ctx) },
  { section: 'usage', href: '/account/usage', label: 'Usage', draw: (content) => usage(content) },
  { section: 'keys', href: '/account/keys', label: 'API keys', draw: (content) => apiKeys(content) },
];

export async function render(root, ctx) {
  const content = h('div', { class: 'account-content' });
  const tabs = h('nav', { class: 'side-nav', 'aria-label': 'Account sections' },
    SECTIONS.map(({ href, label }) => h('a', { href, class: 'side-link' }, label)));
  root.append(h('section', { class: 'page' },
    pageHeader('Account'),
    h('div', { class: 'account-layout' }, tabs, content)));

  function show(section) {
    const shown = SECTIONS.find((s) => s.section === section) || SECTIONS[0];
    for (const link of tabs.querySelectorAll('a')) {
      if (link.getAttribute('href') === shown.href) link.setAttribute('aria-current', 'page');
      else link.removeAttribute('aria-current');
    }
    replace(content);
    shown.draw(content, ctx);
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

// Personal API keys: made here with a name, the secret shown once (the server keeps only
// its hash, so it cannot be shown again), listed without secrets, revoked after a
// confirmation. Revoking takes effect on the server's next request with that key.
async function apiKeys(content) {
  const [listed, rules] = await Promise.all([fetchInto(content, 'Loading your API keys…', '/api/keys'), limits()]);
  if (!listed) return;
  let keys = Array.isArray(listed.keys) ? listed.keys : [];

  const message = messageBox();
  const name = h('input', { type: 'text', class: 'input', name: 'key_name', maxlength: rules.api_key_name_max, autocomplete: 'off', spellcheck: 'false', placeholder: 'e.g. Home Assistant' });
  const create = h('button', { type: 'submit', class: 'button button-primary' }, 'Create key');
  const created = h('div', { class: 'new-key', hidden: true });
  const form = h('form', { class: 'form card', novalidate: true, 'aria-labelledby': 'new-key-title' },
    h('h2', { id: 'new-key-title' }, 'Create an API key'),
    h('p', { class: 'muted' },
      'A key lets a script or another app use Utter as you, sent as ',
      h('code', {}, 'Authorization: Bearer <key>'),
      '. It can use your voices, generations and tasks, but cannot sign in, change your account or make other keys.'),
    field('Name', name, {
      hint: rules.api_key_name_max
        ? `What the key is for, so you can tell your keys apart (up to ${rules.api_key_name_max} characters).`
        : 'What the key is for, so you can tell your keys apart.',
    }),
    message.el,
    h('div', { class: 'actions' }, create),
    created);
  const list = h('ul', { class: 'cards key-list', 'aria-label': 'Your API keys' });
  const listMessage = messageBox();
  const listSection = h('section', { class: 'key-section', 'aria-labelledby': 'keys-title' },
    h('h2', { id: 'keys-title' }, 'Your keys'),
    listMessage.el,
    list);

  function drawList() {
    replace(list, keys.length
      ? keys.map(keyCard)
      : h('li', { class: 'empty' }, 'You have no API keys.'));
  }

  function keyCard(key) {
    const titleId = `key-${key.id}`;
    const revoke = h('button', { type: 'button', class: 'button button-danger button-small' }, 'Revoke');
    revoke.addEventListener('click', async () => {
      const sure = await confirmDialog({
        title: 'Revoke this API key?',
        message: `Anything using “${key.name}” stops working at once. This cannot be undone.`,
        confirmLabel: 'Revoke',
      });
      if (!sure) return;
      listMessage.clear();
      const done = busy(revoke, 'Revoking…');
      try {
        await api(`/api/keys/${encodeURIComponent(key.id)}`, { method: 'DELETE' });
      } catch (err) {
        done();
        // Already gone (revoked in another tab): the list is simply out of date.
        if (err.status !== 404) { listMessage.error(err); return; }
      }
      keys = keys.filter((k) => k.id !== key.id);
      drawList();
      listMessage.success(`Key “${key.name}” revoked.`);
      announce(`Key ${key.name} revoked.`);
    });
    return h('li', { class: 'card key-card', dataset: { keyId: key.id }, 'aria-labelledby': titleId },
      h('div', { class: 'card-head' },
        h('h3', { class: 'card-title', id: titleId }, key.name),
        revoke),
      h('dl', { class: 'facts' },
        h('div', {}, h('dt', {}, 'Key'), h('dd', {}, h('code', {}, `${key.prefix}…`))),
        h('div', {}, h('dt', {}, 'Created'), h('dd', {}, formatDate(key.created_at))),
        h('div', {}, h('dt', {}, 'Last used'), h('dd', { dataset: { lastUsed: '' } }, key.last_used_at ? formatDate(key.last_used_at) : 'Never'))));
  }

  // The secret, once: a read-only field to select from and a copy button.
  function showSecret(made) {
    const secret = h('input', { type: 'text', class: 'input secret', readonly: true, value: made.key, spellcheck: 'false', 'aria-label': `New API key ${made.name}` });
    secret.addEventListener('focus', () => secret.select());
    const copyNote = h('span', { class: 'hint', role: 'status' });
    const copy = h('button', { type: 'button', class: 'button' }, 'Copy');
    copy.addEventListener('click', async () => {
      secret.select();
      try {
        await navigator.clipboard.writeText(made.key);
        copyNote.textContent = 'Copied.';
      } catch {
        copyNote.textContent = 'Could not copy here: select the key and copy it yourself.';
      }
    });
    const dismiss = h('button', { type: 'button', class: 'button button-link' }, 'Done');
    dismiss.addEventListener('click', () => {
      created.hidden = true;
      replace(created);
      name.focus();
    });
    replace(created,
      h('p', { class: 'message message-info', role: 'status' },
        `Your new key “${made.name}”. Copy it now: it will not be shown again.`),
      h('div', { class: 'inline' }, secret, copy),
      h('div', { class: 'actions' }, copyNote, dismiss));
    created.hidden = false;
    secret.focus();
  }

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    message.clear();
    const value = name.value.trim();
    if (!value) { message.error('Give the key a name.'); name.focus(); return; }
    const done = busy(create, 'Creating…');
    try {
      const made = await api('/api/keys', { method: 'POST', json: { name: value } });
      name.value = '';
      keys = [{ id: made.id, name: made.name, prefix: made.prefix, created_at: made.created_at, last_used_at: null }, ...keys];
      drawList();
      showSecret(made);
    } catch (err) {
      message.error(err);
    }
    done();
  });

  drawList();
  replace(content, form, listSection);
}
