// Tables that refresh in place: rows keyed by id, so a refresh keeps keyboard focus.

import { h, replace } from "./dom.js";

/** A table with `columns` ([{label, className}]) whose body `update(rows)` fills; each row is
 * {key, cells: [node or text, ...]}. On narrow screens CSS shows each row as a card, with the
 * column labels taken from data-label. */
export function liveTable({ caption, columns, empty }) {
  const body = h("tbody");
  const table = h("table", { className: "data" },
    h("caption", { className: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((column) => h("th", { scope: "col",
      className: column.className ?? null }, column.label)))),
    body);
  const emptyNote = h("p", { className: "empty", hidden: true }, empty);
  const wrapper = h("div", { className: "table-wrap" }, table, emptyNote);

  function update(rows) {
    const focused = document.activeElement;
    const focusRow = focused && body.contains(focused) ? focused.closest("tr")?.dataset.key : null;
    const focusTag = focusRow ? describeFocus(focused) : null;
    replace(body, rows.map((row) => h("tr", { "data-key": row.key },
      row.cells.map((cell, index) => h(index === 0 ? "th" : "td", {
        scope: index === 0 ? "row" : null,
        "data-label": columns[index].label,
        className: columns[index].className ?? null,
      }, cell)))));
    emptyNote.hidden = rows.length !== 0;
    table.hidden = rows.length === 0;
    if (focusRow !== null && focusRow !== undefined) {
      const row = Array.from(body.rows).find((r) => r.dataset.key === focusRow);
      const again = row && Array.from(row.querySelectorAll("a, button"))
        .find((el) => describeFocus(el) === focusTag);
      if (again) again.focus();
    }
  }

  return { element: wrapper, update };
}

function describeFocus(element) {
  return `${element.tagName}:${element.textContent}`;
}
