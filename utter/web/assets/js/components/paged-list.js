// A list of cards the server pages (Voices, History): a search box and one filter, both
// with the page number in the URL (so a filtered page can be reloaded, bookmarked and
// navigated with Back), the empty state, the pager, and rows kept across reloads while
// what they show stays the same (keyed.js).

import { api } from '../api.js';
import { announce, debounce, h, messageBox, replace } from '../dom.js';
import { keyedRows, signatureOf } from '../keyed.js';
import { confirmDialog } from './confirm.js';
import { pageParam, pagination } from './pagination.js';

const PER_PAGE = 20;

// path/itemsKey: the API list and the field its items come in; label: the pager's name;
// search: the search input; filter: [query name, select, allowed values]; card(item,
// state, deleteButton) → { el, destroy? }; fields: the item's fields the card shows (it
// is redrawn when one changes, or the search it highlights); empty: [words when the
// filters match nothing, what to say when there is nothing at all]; loaded(items): told after each load (null when it
// failed); keepOnError:
// leave the rows up when a load fails (the page retries); live: announce changes.
export function pagedList({
  ctx, path, itemsKey, label, search, filter, card, fields, empty, loaded, keepOnError = false, live = false,
}) {
  const [filterKey, filterSelect, allowed] = filter;
  const list = h('div', { class: 'list', 'aria-live': live ? 'polite' : null, 'aria-busy': 'true' });
  const pager = h('div');
  const message = messageBox();
  const cards = h('ul', { class: 'cards' });
  const rows = keyedRows(cards, {
    signature: (item) => signatureOf(item, fields) + state.search,
    draw: (item) => card(item, state, deleteButton),
  });
  let state = readState(ctx.params);
  let requestId = 0;

  function readState(params) {
    const wanted = params.get(filterKey) || '';
    return { search: params.get('search') || '', filter: allowed.includes(wanted) ? wanted : '', page: pageParam(params.get('page')) };
  }

  function showState() {
    search.value = state.search;
    filterSelect.value = state.filter;
  }

  function sync({ push = false } = {}) {
    ctx.setQuery({ search: state.search, [filterKey]: state.filter, page: state.page > 1 ? state.page : null }, { push });
  }

  // Rows are kept across loads only while the search and filter stay the same.
  function restart() {
    rows.clear();
    replace(list);
    return load();
  }

  async function load() {
    const id = ++requestId;
    list.setAttribute('aria-busy', 'true');
    let body;
    try {
      body = await api(path, { query: { page: state.page, per_page: PER_PAGE, search: state.search, [filterKey]: state.filter } });
    } catch (err) {
      if (id !== requestId) return false;
      list.setAttribute('aria-busy', 'false');
      if (!keepOnError) { rows.clear(); replace(list); replace(pager); }
      message.error(err);
      if (loaded) loaded(null);
      return false;
    }
    if (id !== requestId) return false;
    message.clear();
    const items = body[itemsKey] || [];
    const page = body.pagination || { page: 1, pages: 1, total: items.length };
    if (!items.length && state.page > 1 && page.pages < state.page) {
      state.page = page.pages;
      sync();
      return load();
    }
    list.setAttribute('aria-busy', 'false');
    rows.update(items);
    // Kept rows stay in the document (taking them out would drop focus).
    if (!items.length) {
      replace(list, h('div', { class: 'empty card' }, h('p', {}, state.search || state.filter ? empty[0] : empty[1])));
    }
    else if (list.firstChild !== cards || list.childNodes.length > 1) replace(list, cards);
    replace(pager, page.pages > 1 ? pagination({
      page: page.page, pages: page.pages, total: page.total, label,
      onPage: (n) => { state.page = n; sync({ push: true }); restart(); list.scrollIntoView({ block: 'start' }); },
    }) : null);
    if (loaded) loaded(items);
    return true;
  }

  // A card's Delete: asks first, deletes `path`, says `done`, reloads the list and puts
  // focus on the page's heading (the card is gone); a failure is shown in `message`.
  function deleteButton({ path: target, ask, done, message: cardMessage, describedBy }) {
    const button = h('button', { type: 'button', class: 'button button-small button-danger', 'aria-describedby': describedBy }, 'Delete');
    button.addEventListener('click', async () => {
      if (!(await confirmDialog(ask))) return;
      button.disabled = true;
      try {
        await api(target, { method: 'DELETE' });
        announce(done);
        await load();
        const heading = document.querySelector('main h1');
        if (heading) heading.focus();
      } catch (err) {
        button.disabled = false;
        cardMessage.error(err);
      }
    });
    return button;
  }

  const onSearch = debounce(() => {
    state.search = search.value.trim();
    state.page = 1;
    sync();
    restart();
  }, 250);
  search.addEventListener('input', onSearch);
  filterSelect.addEventListener('change', () => {
    state.filter = filterSelect.value;
    state.page = 1;
    sync();
    restart();
  });
  showState();

  return {
    list,
    pager,
    message,
    load,
    get filtered() { return Boolean(state.search || state.filter); },
    update(params) {
      state = readState(params);
      showState();
      return restart();
    },
    destroy() {
      onSearch.cancel();
      requestId += 1;
      rows.clear();
    },
  };
}
