import { h } from '../dom.js';

// The text with each search word marked, built from text nodes only.
export function highlight(text, query) {
  const words = String(query || '').trim().split(/\s+/).filter(Boolean).map((w) => w.toLowerCase());
  if (!words.length) return [text];
  const parts = [];
  const lower = text.toLowerCase();
  let i = 0;
  while (i < text.length) {
    let best = null;
    for (const word of words) {
      const at = lower.indexOf(word, i);
      if (at !== -1 && (best === null || at < best.at)) best = { at, length: word.length };
    }
    if (!best) { parts.push(text.slice(i)); break; }
    if (best.at > i) parts.push(text.slice(i, best.at));
    parts.push(h('mark', {}, text.slice(best.at, best.at + best.length)));
    i = best.at + best.length;
  }
  return parts;
}
