// Runs: the caller's executions (an admin's: everyone's, or one user's), newest first, with
// filters, pagination, and rows that refresh while anything on the page is still running.

import { ApiError, consoleUrl, request, segment } from "./api.js";
import { h, notice, replace } from "./dom.js";
import { STATUSES, TERMINAL, ago, absolute, duration } from "./format.js";
import { liveTable } from "./table.js";

const PAGE_SIZE = 20;
const REFRESH_MS = 2000;

export function statusBadge(status) {
  return h("span", { className: `badge status-${String(status).toLowerCase()}` }, status);
}

export function showRuns(area, { me }) {
  document.title = "Runs · mycli console";
  const isAdmin = me.role === "admin";
  const params = new URLSearchParams(window.location.search);
  const filters = {
    status: STATUSES.includes(params.get("status")) ? params.get("status") : "",
    user: isAdmin ? (params.get("user") ?? "") : "",
  };
  const cursors = [null]; // cursors[i] opens page i+1
  let page = 0;
  let nextCursor = null;
  let timer = null;
  let stopped = false;
  let controller = null;

  const statusSelect = h("select", { id: "filter-status", name: "status" },
    h("option", { value: "" }, "Any status"),
    STATUSES.map((status) => h("option", { value: status }, status)));
  statusSelect.value = filters.status;
  const userInput = isAdmin
    ? h("input", { id: "filter-user", name: "user", type: "email", autocomplete: "off",
      placeholder: "everyone", spellcheck: "false" })
    : null;
  if (userInput) userInput.value = filters.user;
  const filterForm = h("form", { className: "filters", "aria-label": "Filter runs" },
    h("div", { className: "field" }, h("label", { for: "filter-status" }, "Status"), statusSelect),
    userInput ? h("div", { className: "field" }, h("label", { for: "filter-user" }, "User"), userInput) : null,
    h("button", { type: "submit" }, "Filter"),
    h("button", { type: "button", className: "link-like", onClick: () => {
      statusSelect.value = "";
      if (userInput) userInput.value = "";
      filterForm.requestSubmit();
    } }, "Clear"));
  filterForm.addEventListener("submit", (event) => {
    event.preventDefault();
    filters.status = statusSelect.value;
    filters.user = userInput ? userInput.value.trim() : "";
    const query = new URLSearchParams();
    if (filters.status) query.set("status", filters.status);
    if (filters.user) query.set("user", filters.user);
    const search = query.toString();
    window.history.replaceState({}, "", consoleUrl() + (search ? `?${search}` : ""));
    cursors.length = 1;
    page = 0;
    load(true);
  });

  const columns = [
    { label: "Status" }, { label: "Command", className: "command" }, { label: "User" },
    { label: "Lock" }, { label: "Started" }, { label: "Duration" },
  ];
  const table = liveTable({ caption: "Runs, newest first", columns, empty: "No runs match." });
  const problem = h("div");
  const pageLabel = h("span", { className: "page-label" });
  const newer = h("button", { type: "button" }, "← Newer");
  const older = h("button", { type: "button" }, "Older →");
  newer.addEventListener("click", () => { if (page > 0) { page -= 1; load(true); } });
  older.addEventListener("click", () => {
    if (!nextCursor) return;
    cursors[page + 1] = nextCursor;
    page += 1;
    load(true);
  });
  const pager = h("nav", { className: "pager", "aria-label": "Pages of runs" }, newer, pageLabel, older);

  replace(area,
    h("h1", {}, "Runs"),
    h("p", { className: "lead" }, isAdmin
      ? "Everyone's runs, newest first (filter by user to see one person's)."
      : "Your runs, newest first."),
    filterForm, problem, table.element, pager);

  function row(execution) {
    const link = h("a", { href: consoleUrl(`executions/${segment(execution.execution_id)}`),
      className: "command-link" }, h("code", {}, execution.command));
    const started = h("time", { datetime: execution.started_at, title: absolute(execution.started_at) },
      ago(execution.started_at));
    return {
      key: execution.execution_id,
      cells: [statusBadge(execution.status), link, execution.user_email,
        execution.lock_name ?? "—", started, duration(execution.started_at, execution.finished_at)],
    };
  }

  async function load(userAsked = false) {
    clearTimeout(timer);
    controller?.abort();
    controller = new AbortController();
    const signal = controller.signal;
    try {
      const data = await request("GET", "/executions", {
        query: { limit: PAGE_SIZE, cursor: cursors[page], status: filters.status, user: filters.user },
        signal,
      });
      if (stopped) return;
      replace(problem);
      nextCursor = data.next_cursor;
      table.update(data.items.map(row));
      pageLabel.textContent = `Page ${page + 1}`;
      newer.disabled = page === 0;
      older.disabled = !nextCursor;
      const active = data.items.some((e) => !TERMINAL.has(e.status));
      if (page === 0 || active) timer = setTimeout(load, REFRESH_MS);
    } catch (error) {
      if (stopped || error?.name === "AbortError") return;
      if (error instanceof ApiError && error.kind === "unauthorized") return;
      replace(problem, notice("error", error.message ?? String(error)));
      if (!userAsked || error.kind === "unreachable") timer = setTimeout(load, REFRESH_MS * 2);
    }
  }

  load(true);
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
  };
}
