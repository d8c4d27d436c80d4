// Shown for any path the app does not know.

import { h } from '../dom.js';

export async function render(root) {
  root.append(h('section', { class: 'page narrow not-found' },
    h('h1', { tabindex: '-1' }, 'Page not found'),
    h('p', {}, 'There is nothing at ', h('code', {}, location.pathname), '.'),
    h('p', {}, h('a', { href: '/', class: 'button' }, 'Go to the home page'))));
  return null;
}
