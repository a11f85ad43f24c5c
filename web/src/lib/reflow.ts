// Tables on narrow screens: a Svelte action that labels each body cell with its column's header
// (`data-label`), which app.css shows before the value when the table is drawn as one card per
// row (below 40rem) instead of scrolling sideways. The rows' ARIA roles are set explicitly
// because `display: block` removes a table's semantics in some browsers.

/** Labels the cells of `table` now and whenever its rows change. */
export function reflow(table: HTMLTableElement): { destroy: () => void } {
  table.classList.add('reflow');
  const label = () => {
    table.setAttribute('role', 'table');
    const heads = [...table.querySelectorAll('thead th')].map((th) => {
      th.setAttribute('role', 'columnheader');
      return th.textContent?.trim() ?? '';
    });
    for (const row of table.querySelectorAll('tr')) row.setAttribute('role', 'row');
    for (const body of table.tBodies)
      for (const row of body.rows)
        [...row.cells].forEach((cell, i) => {
          cell.setAttribute('role', 'cell');
          const name = cell.colSpan === 1 ? heads[i] : '';
          if (name) cell.dataset.label = name;
          else delete cell.dataset.label;
        });
  };
  label();
  // Attribute changes are not observed, so labelling does not wake the observer again.
  const watch = new MutationObserver(label);
  watch.observe(table, { childList: true, subtree: true });
  return { destroy: () => watch.disconnect() };
}
