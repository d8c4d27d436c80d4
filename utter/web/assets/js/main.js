// Starts the app: theme, the shell (header, footer, shortcuts), the task dock, a
// session arriving in the URL from a magic link, and the router.

import { consumeUrlSession } from './auth.js';
import { start } from './router.js';
import { initShell } from './shell.js';
import { initTasks } from './tasks.js';
import { initTheme } from './theme.js';

async function boot() {
  initTheme();
  // A magic link or an email confirmation lands here with the session in the fragment;
  // take it before the router looks at the page, so a guarded page opens signed in.
  const arrived = await consumeUrlSession();
  if (arrived && arrived.error) sessionStorage.setItem('utter_auth_error', arrived.error);
  initShell();
  initTasks();
  start();
}

boot();
