// Lists that keep their rows across refreshes. Each item is drawn once and kept while its
// signature (the fields its row shows) stays the same, so a refresh rebuilds only the rows
// that changed: a playing waveform or a focused button in the others stays as it was.

// draw(item) returns { el, destroy? } (and anything else the caller wants back from get()).
export function keyedRows(container, { key = (item) => item.id, signature, draw }) {
  let rows = new Map(); // key -> { sig, el, destroy?, ... }

  function drop(row) {
    if (row.destroy) row.destroy();
  }

  return {
    update(items) {
      const next = new Map();
      const els = items.map((item) => {
        const id = key(item);
        const sig = signature(item);
        let row = rows.get(id);
        if (row && row.sig === sig) {
          rows.delete(id);
        } else {
          row = { ...draw(item), sig };
        }
        next.set(id, row);
        return row.el;
      });
      for (const gone of rows.values()) drop(gone);
      rows = next;
      // Put the rows in order; kept ones move without being rebuilt, stale ones end up last.
      els.forEach((el, index) => {
        if (container.children[index] !== el) container.insertBefore(el, container.children[index] || null);
      });
      while (container.children.length > els.length) container.lastChild.remove();
    },
    get(id) {
      return rows.get(id) || null;
    },
    clear() {
      for (const row of rows.values()) drop(row);
      rows = new Map();
      while (container.firstChild) container.firstChild.remove();
    },
  };
}

// A cheap signature of the fields a row shows.
export function signatureOf(item, fields) {
  return JSON.stringify(fields.map((field) => item[field] ?? null));
}
