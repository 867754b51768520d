// One run: its full record, its log following live while it runs (rendered like a
// terminal), cancel for its owner or an admin, and the CLI command that follows it.

import { ApiError, consoleUrl, request, segment } from "./api.js";
import { announce, confirmDialog, copyButton, h, notice, replace } from "./dom.js";
import { TERMINAL, absolute, ago, duration, ordinal, untilNow } from "./format.js";
import { statusBadge } from "./runs.js";
import { Terminal, decodeBase64 } from "./terminal.js";

const LOG_WAIT_SECONDS = 20; // the local server holds an empty page this long; AWS answers at once
const IDLE_MIN_MS = 250;
const IDLE_MAX_MS = 2000;
const RECORD_REFRESH_MS = 2000;
const QUEUED_LOG = "Queued: the log starts when the run gets its lock.";

const FIELDS = [
  ["Status", "status"], ["Command", "command"], ["User", "user_email"], ["Lock", "lock_name"],
  ["Waits for its lock until", "lock_wait_until"], ["Given its lock", "dequeued_at"],
  ["Started", "started_at"], ["Finished", "finished_at"], ["Duration", null],
  ["Exit code", "exit_code"], ["Reason", "reason"], ["Timeout", "timeout_seconds"],
  ["Environment names", "env_names"], ["Secrets", "secret_names"], ["Code upload", "upload_id"],
  ["Stdin upload", "stdin_upload_id"],
  ["Cancelled by", "cancelled_by"], ["Lock released by", "lock_released_by"],
  ["Log truncated at", "log_truncated_at"], ["Task", "task_ref"], ["Log stream", "log_stream_name"],
  ["Request id", "request_id"], ["Updated", "updated_at"], ["Execution id", "execution_id"],
  ["Git URL", "git_url"], ["Git ref", "git_ref"], ["Git subdir", "git_subdir"], ["Git commit", "git_commit"], ["Git secret", "git_secret"],
  ["Image", "image"], ["Image URI", "image_uri"], ["CPU units", "cpu"], ["Memory (MiB)", "memory"],
  ["Playbook", "playbook"],
];

const sleep = (ms, signal) => new Promise((resolve) => {
  const timer = setTimeout(resolve, ms);
  signal.addEventListener("abort", () => { clearTimeout(timer); resolve(); }, { once: true });
});

export function showRun(area, { me }, executionId) {
  document.title = `Run ${executionId} · mycli console`;
  const controller = new AbortController();
  const signal = controller.signal;
  const path = `/executions/${segment(executionId)}`;
  let execution = null;
  let recordTimer = null;

  const heading = h("h1", {}, "Run ", h("code", {}, executionId));
  const problem = h("div");
  const record = h("dl", { className: "record" });
  const place = h("p", { className: "queue-place", id: "queue-place", hidden: true });
  const actions = h("div", { className: "actions" });
  const followCommand = `mycli logs -f ${executionId}`;
  const cli = h("div", { className: "cli" },
    h("span", { id: "follow-label" }, "Follow it from a terminal: "),
    h("code", {}, followCommand),
    copyButton("Copy command", followCommand, "the mycli logs command"));
  const logState = h("p", { className: "log-state", role: "status" }, "Loading the log…");
  const streamsNote = h("p", { className: "legend", hidden: true });
  const screen = h("div", { className: "terminal", id: "log", role: "region", tabindex: "0",
    "aria-label": "Output of the run" });
  const terminal = new Terminal(screen);
  const autoScroll = h("input", { type: "checkbox", id: "auto-scroll" });
  autoScroll.checked = true;

  replace(area,
    h("p", { className: "back" }, h("a", { href: consoleUrl() }, "← All runs")),
    heading, problem,
    h("div", { className: "run-layout" },
      h("section", { "aria-labelledby": "record-title", className: "card" },
        h("h2", { id: "record-title" }, "Record"), place, actions, record, cli),
      h("section", { "aria-labelledby": "output-title", className: "card output" },
        h("div", { className: "output-head" },
          h("h2", { id: "output-title" }, "Output"),
          h("label", { className: "inline" }, autoScroll, " Keep the end in view")),
        logState, streamsNote, screen)));

  function value(name, label) {
    if (label === "Duration") return duration(execution.started_at, execution.finished_at);
    const raw = execution[name];
    if (raw === null || raw === undefined || (Array.isArray(raw) && raw.length === 0)) return "—";
    if (name === "status") return statusBadge(raw);
    if (name === "command") return h("pre", { className: "command-text" }, raw);
    if (name.endsWith("_at") && name !== "log_truncated_at") {
      return h("time", { datetime: raw }, `${absolute(raw)} (${ago(raw)})`);
    }
    if (name === "log_truncated_at") return `${raw} bytes (the log cap)`;
    if (name === "timeout_seconds") return `${raw} s`;
    if (Array.isArray(raw)) return raw.join(", ");
    return String(raw);
  }

  function showPlace() {
    const queue = execution.status === "QUEUED" ? execution.queue : null;
    place.hidden = !queue;
    if (!queue) {
      replace(place);
      if (logState.textContent === QUEUED_LOG) logState.textContent = "Waiting for the log…";
      return;
    }
    logState.textContent = QUEUED_LOG;
    replace(place, `Queued for ${queue.lock_name}: ${ordinal(queue.position)} in line, `,
      behind(queue.holder));
  }

  function showRecord() {
    showPlace();
    replace(record, FIELDS.map(([label, name]) => [h("dt", {}, label), h("dd", {}, value(name, label))]));
    const mayCancel = (me.role === "admin" || me.email === execution.user_email)
      && !TERMINAL.has(execution.status) && execution.status !== "CANCELLING";
    replace(actions, mayCancel ? cancelButton() : null);
  }

  /** Who the queued run waits behind, the way `mycli exec --wait-lock` says it. */
  function behind(holder) {
    if (!holder) return "and the lock is free: it starts any moment.";
    if (holder.kind === "hold") {
      return h("span", {}, `behind a hold by ${holder.user_email}: `,
        h("q", { className: "reason" }, holder.reason ?? ""), ` (ends ${untilNow(holder.until)}).`);
    }
    const link = holder.execution_id === executionId ? h("code", {}, holder.execution_id)
      : h("a", { href: consoleUrl(`executions/${segment(holder.execution_id)}`) },
        h("code", {}, holder.execution_id));
    return h("span", {}, `behind ${holder.user_email}'s run `, link,
      ` (${holder.status ?? "holding"} for ${duration(holder.since, null)}).`);
  }

  function cancelButton() {
    const button = h("button", { type: "button", className: "danger" }, "Cancel run");
    button.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: "Cancel this run?",
        message: execution.status === "QUEUED"
          ? `It leaves its lock's queue and never runs; it is recorded as CANCELLED: ${execution.command}`
          : `The command is stopped and the run is recorded as CANCELLED: ${execution.command}`,
        confirmLabel: "Cancel run",
      });
      if (!sure) { button.focus(); return; }
      button.disabled = true;
      try {
        execution = await request("POST", `${path}/cancel`);
        announce(`Cancelling run ${executionId}`);
        showRecord();
      } catch (error) {
        button.disabled = false;
        replace(problem, notice("error", error.message ?? String(error)));
      }
    });
    return button;
  }

  async function loadRecord() {
    clearTimeout(recordTimer);
    try {
      execution = await request("GET", path, { signal });
      replace(problem);
      showRecord();
      if (!TERMINAL.has(execution.status)) recordTimer = setTimeout(loadRecord, RECORD_REFRESH_MS);
      return true;
    } catch (error) {
      if (signal.aborted || error?.name === "AbortError") return false;
      if (error instanceof ApiError && error.kind === "unauthorized") return false;
      replace(problem, notice("error", error.message ?? String(error)));
      if (error.kind === "not_found") {
        document.title = "Not found · mycli console";
        replace(area, h("p", { className: "back" }, h("a", { href: consoleUrl() }, "← All runs")),
          h("h1", {}, "Run not found"),
          notice("error", `Not found: there is no run ${executionId}, or it is not yours.`));
        controller.abort();
        return false;
      }
      recordTimer = setTimeout(loadRecord, RECORD_REFRESH_MS * 2);
      return execution !== null;
    }
  }

  function nearBottom() {
    return screen.scrollHeight - screen.scrollTop - screen.clientHeight < 40;
  }

  async function followLog() {
    let cursor = null;
    let idle = IDLE_MIN_MS;
    while (!signal.aborted) {
      const started = performance.now();
      let data;
      try {
        data = await request("GET", `${path}/logs`, {
          query: { cursor, wait: LOG_WAIT_SECONDS }, signal });
      } catch (error) {
        if (signal.aborted || error?.name === "AbortError") return;
        if (error instanceof ApiError && error.kind === "unauthorized") return;
        logState.textContent = `${error.message ?? error} Retrying…`;
        await sleep(IDLE_MAX_MS, signal);
        continue;
      }
      const stick = autoScroll.checked && (nearBottom() || screen.childElementCount <= 1);
      for (const chunk of data.chunks) {
        terminal.write(decodeBase64(chunk.data), chunk.stream);
        if (chunk.stream === "combined") showStreamsNote("combined");
      }
      terminal.flush();
      if (terminal.sawStderr) showStreamsNote("separate");
      if (terminal.dropped) {
        logState.textContent = `Showing the last ${terminal.maxLines} lines; the whole log: ${followCommand.replace(" -f", "")}`;
      }
      if (stick) screen.scrollTop = screen.scrollHeight;
      cursor = data.next_cursor;
      if (data.complete) {
        const truncated = data.truncated_at !== null && data.truncated_at !== undefined
          ? ` The log was truncated at ${data.truncated_at} bytes (the log cap).` : "";
        logState.textContent = `Finished (${data.status}); the log is complete.${truncated}`;
        clearTimeout(recordTimer);
        loadRecord();
        return;
      }
      if (data.status === "QUEUED") logState.textContent = QUEUED_LOG;
      else if (!terminal.dropped) logState.textContent = `${data.status}: following the log live…`;
      if (data.chunks.length) {
        idle = IDLE_MIN_MS;
      } else if (performance.now() - started < 1000) {
        // The server answered at once with nothing new (AWS): poll, backing off.
        await sleep(idle, signal);
        idle = Math.min(idle * 2, IDLE_MAX_MS);
      }
    }
  }

  function showStreamsNote(kind) {
    streamsNote.hidden = false;
    streamsNote.textContent = kind === "separate"
      ? "Lines with stderr output are marked with a red bar; stderr text is tinted red."
      : "This platform keeps stdout and stderr together in one stream.";
  }

  loadRecord().then((found) => { if (found || !signal.aborted) followLog(); });
  return () => {
    controller.abort();
    clearTimeout(recordTimer);
  };
}
