// What a page keeps in localStorage between visits (a half-written form, the task it
// started), per user: the next person to sign in on this browser never sees it.

import { currentUser } from './auth.js';

function userKey(key) {
  const user = currentUser();
  return user && user.id ? `${key}:${user.id}` : key;
}

export function readDraft(key) {
  try { return JSON.parse(localStorage.getItem(userKey(key)) || 'null'); } catch { return null; }
}

// `null` forgets it.
export function writeDraft(key, value) {
  try {
    if (value === null || value === undefined) localStorage.removeItem(userKey(key));
    else localStorage.setItem(userKey(key), JSON.stringify(value));
  } catch { /* storage full or blocked: the draft is simply not kept */ }
}
