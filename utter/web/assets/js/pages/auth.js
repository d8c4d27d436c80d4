// Sign in or create an account: with a password, or with a magic link by email.
// `returnTo` says where to go afterwards; only a path on this site is accepted.

import { isSignedIn, sendMagicLink, signInWithPassword, signUp } from '../auth.js';
import { busy, field, h, messageBox, pageHeader, replace } from '../dom.js';
import { safeReturnTo } from '../router.js';

const MIN_PASSWORD = 6;

export async function render(root, ctx) {
  const returnTo = safeReturnTo(ctx.params.get('returnTo'));
  if (isSignedIn()) {
    ctx.navigate(returnTo, { replace: true });
    return null;
  }
  let intent = ctx.params.get('intent') === 'sign_up' ? 'sign_up' : 'sign_in';
  let method = ctx.params.get('method') === 'magic_link' ? 'magic_link' : 'password';

  const heading = pageHeader('Sign in');
  const message = messageBox();
  const pending = sessionStorage.getItem('utter_auth_error');
  if (pending) {
    sessionStorage.removeItem('utter_auth_error');
    message.error(`That sign-in link did not work: ${pending}`);
  }

  const methodSwitch = h('fieldset', { class: 'segmented' },
    h('legend', { class: 'visually-hidden' }, 'How to sign in'),
    ...[['password', 'With a password'], ['magic_link', 'With an email link']].map(([value, text]) => h('label', { class: 'segment' },
      h('input', {
        type: 'radio', name: 'method', value, checked: method === value,
        onchange: () => { method = value; ctx.setQuery({ method: value === 'password' ? null : value }); draw(); },
      }),
      h('span', {}, text))));

  const body = h('div', { class: 'auth-body' });
  root.append(h('section', { class: 'page narrow auth-page' },
    heading,
    h('div', { class: 'card' }, methodSwitch, message.el, body)));

  function setIntent(next) {
    intent = next;
    ctx.setQuery({ intent: next === 'sign_up' ? 'sign_up' : null });
    message.clear();
    draw();
  }

  function draw() {
    const title = method === 'magic_link' ? 'Sign in with a link' : intent === 'sign_up' ? 'Create your account' : 'Sign in';
    heading.querySelector('h1').textContent = title;
    document.title = `${title} · Utter`;
    replace(body, method === 'password' ? passwordForm() : magicLinkForm());
  }

  function emailInput() {
    return h('input', { type: 'email', name: 'email', class: 'input', required: true, autocomplete: 'email', inputmode: 'email' });
  }

  // The address typed, or null after saying what is wrong with it.
  function emailFrom(email) {
    message.clear();
    const address = email.value.trim();
    if (address && email.checkValidity()) return address;
    message.error('Enter a valid email address.');
    email.focus();
    return null;
  }

  function passwordForm() {
    const email = emailInput();
    const password = h('input', {
      type: 'password', name: 'password', class: 'input', required: true, minlength: MIN_PASSWORD,
      autocomplete: intent === 'sign_up' ? 'new-password' : 'current-password',
    });
    const submit = h('button', { type: 'submit', class: 'button button-primary button-block' },
      intent === 'sign_up' ? 'Create account' : 'Sign in');
    const form = h('form', { class: 'form', novalidate: true },
      field('Email', email),
      field('Password', password, { hint: intent === 'sign_up' ? `At least ${MIN_PASSWORD} characters.` : null }),
      submit,
      h('p', { class: 'switch-intent' },
        intent === 'sign_up' ? 'Already have an account? ' : 'New to Utter? ',
        h('button', { type: 'button', class: 'link-button', onclick: () => setIntent(intent === 'sign_up' ? 'sign_in' : 'sign_up') },
          intent === 'sign_up' ? 'Sign in' : 'Create an account')));
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const address = emailFrom(email);
      if (!address) return;
      if (password.value.length < MIN_PASSWORD) {
        message.error(`The password must be at least ${MIN_PASSWORD} characters.`);
        password.focus();
        return;
      }
      const done = busy(submit, intent === 'sign_up' ? 'Creating account…' : 'Signing in…');
      try {
        if (intent === 'sign_up') {
          const session = await signUp(address, password.value, location.origin + returnTo);
          if (session) {
            ctx.navigate(returnTo, { replace: true });
            return;
          }
          message.success('Account created. Check your inbox for a confirmation link, then sign in.');
        } else {
          await signInWithPassword(address, password.value);
          ctx.navigate(returnTo, { replace: true });
          return;
        }
      } catch (err) {
        message.error(err);
      }
      done();
    });
    return form;
  }

  function magicLinkForm() {
    const email = emailInput();
    const submit = h('button', { type: 'submit', class: 'button button-primary button-block' }, 'Email me a sign-in link');
    const form = h('form', { class: 'form', novalidate: true },
      field('Email', email, { hint: 'We send a link that signs you in; no password needed. New addresses get an account.' }),
      submit);
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const address = emailFrom(email);
      if (!address) return;
      const done = busy(submit, 'Sending…');
      try {
        await sendMagicLink(address, location.origin + returnTo);
        replace(body, h('div', { class: 'sent', 'data-sent': '' },
          h('p', { role: 'status' }, 'Check your inbox: a sign-in link is on its way to ', h('strong', {}, address), '.'),
          h('p', { class: 'hint' }, 'On a development server no email is sent; the link is printed in the server log instead.'),
          h('button', { type: 'button', class: 'button', onclick: () => draw() }, 'Use a different address')));
      } catch (err) {
        message.error(err);
        done();
      }
    });
    return form;
  }

  draw();
  return {
    update(next) {
      intent = next.params.get('intent') === 'sign_up' ? 'sign_up' : 'sign_in';
      method = next.params.get('method') === 'magic_link' ? 'magic_link' : 'password';
      for (const input of methodSwitch.querySelectorAll('input')) input.checked = input.value === method;
      draw();
    },
  };
}
