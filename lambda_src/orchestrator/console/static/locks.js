// Locks: who holds each one (a run, or a hold with its reason), since and until when, and
// who waits in its queue; kept live. Anyone may hold a lock; a hold's holder or an admin
// releases it, and an admin may force a run's lock free.

import { ApiError, consoleUrl, request, segment } from "./api.js";
import { announce, confirmDialog, h, notice, replace } from "./dom.js";
import { absolute, ago, humanDuration, parseDuration, parseTime, untilNow } from "./format.js";
import { statusBadge } from "./runs.js";
import { liveTable } from "./table.js";

const REFRESH_MS = 2000;
const DEFAULT_HOLD = "1h";

const runLink = (executionId) => h("a", { href: consoleUrl(`executions/${segment(executionId)}`) },
  h("code", {}, executionId));

const time = (value, text) => h("time", { datetime: value, title: absolute(value) }, text);

function waited(queuedAt) {
  const since = parseTime(queuedAt);
  return since === null ? "—" : humanDuration(Math.max((Date.now() - since) / 1000, 0), true);
}

function holderCell(holder) {
  if (!holder) return h("span", { className: "muted" }, "nobody: the next in line starts now");
  if (holder.kind === "hold") {
    return h("div", { className: "holder hold" },
      h("span", {}, "hold by ", h("span", { className: "holder-email" }, holder.user_email)),
      h("q", { className: "reason" }, holder.reason ?? ""));
  }
  return h("div", { className: "holder run" },
    h("span", {}, "run ", runLink(holder.execution_id)),
    h("span", {}, "by ", h("span", { className: "holder-email" }, holder.user_email), " ",
      statusBadge(holder.status ?? "UNKNOWN")));
}

function queueCell(queue) {
  if (!queue.length) return h("span", { className: "muted" }, "nobody waits");
  return h("ol", { className: "queue", "aria-label": `${queue.length} waiting` },
    queue.map((entry) => h("li", { value: entry.position, "data-execution-id": entry.execution_id },
      h("span", { className: "position" }, `${entry.position}.`), " ",
      runLink(entry.execution_id), " ",
      h("span", { className: "holder-email" }, entry.user_email), " ",
      h("span", { className: "waited" }, "waited ", time(entry.queued_at, waited(entry.queued_at))))));
}

export function showLocks(area, { me }) {
  document.title = "Locks · mycli console";
  const isAdmin = me.role === "admin";
  let timer = null;
  let stopped = false;
  let controller = null;
  const columns = [
    { label: "Lock" }, { label: "Held by" }, { label: "Since" }, { label: "Until" },
    { label: "Queue" }, { label: "Action", className: "action" },
  ];
  const table = liveTable({ caption: "Locks held or waited for", columns,
    empty: "No lock is held and nobody waits." });
  const problem = h("div");
  const formProblem = h("div");

  const nameInput = h("input", { id: "hold-name", name: "lock", required: true, autocomplete: "off",
    spellcheck: "false", autocapitalize: "off", placeholder: "infra-prod" });
  const reasonInput = h("input", { id: "hold-reason", name: "reason", required: true,
    autocomplete: "off", placeholder: "incident 42" });
  const durationInput = h("input", { id: "hold-for", name: "for", required: true, autocomplete: "off",
    spellcheck: "false", "aria-describedby": "hold-for-help" });
  durationInput.value = DEFAULT_HOLD;
  const holdButton = h("button", { type: "submit", className: "primary" }, "Hold");
  const form = h("form", { className: "hold-lock", "aria-labelledby": "hold-title" },
    h("h2", { id: "hold-title" }, "Hold a lock"),
    h("p", { className: "lead" }, "Take a lock with no run, for example to freeze production "
      + "during an incident. Runs that need it are refused, or wait behind it."),
    h("div", { className: "field" }, h("label", { for: "hold-name" }, "Lock"), nameInput),
    h("div", { className: "field wide" }, h("label", { for: "hold-reason" }, "Reason"), reasonInput),
    h("div", { className: "field" }, h("label", { for: "hold-for" }, "For"), durationInput,
      h("span", { id: "hold-for-help", className: "help" }, "90s, 10m, 2h (at most 24h)")),
    holdButton, formProblem);

  replace(area, h("h1", {}, "Locks"),
    h("p", { className: "lead" }, "A run holds its lock while it is active; a hold keeps a lock "
      + "until it is released or ends. Runs that asked to wait queue in arrival order."
      + (isAdmin ? " As an admin you can release any hold and force a run's lock free." : "")),
    problem, table.element, form);

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    replace(formProblem);
    const name = nameInput.value.trim();
    const seconds = parseDuration(durationInput.value);
    if (seconds === null) {
      replace(formProblem, notice("error",
        `Not accepted: "${durationInput.value}" is not a duration; write it like 90s, 10m or 2h.`));
      durationInput.focus();
      return;
    }
    holdButton.disabled = true;
    try {
      const hold = await request("POST", `/locks/${segment(name)}/hold`,
        { body: { reason: reasonInput.value, seconds } });
      reasonInput.value = "";
      announce(`Holding lock ${hold.lock_name}`);
      replace(formProblem, notice("info", `You hold ${hold.lock_name} until ${absolute(hold.until)}.`));
      load();
    } catch (error) {
      if (error instanceof ApiError && error.kind === "unauthorized") return;
      const message = error.message ?? String(error);
      replace(formProblem, notice("error", error.kind === "conflict" ? `Not taken: ${message}` : message));
    } finally {
      holdButton.disabled = false;
    }
  });

  function releaseButton(lock) {
    const { holder } = lock;
    const isHold = holder.kind === "hold";
    if (!isAdmin && !(isHold && holder.user_email === me.email)) return "—";
    const label = isHold ? "Release" : "Force release";
    const button = h("button", { type: "button", className: "danger",
      "aria-label": `${label} ${lock.name}` }, label);
    button.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: `${label} ${lock.name}?`,
        message: isHold
          ? `The hold by ${holder.user_email} ends now and the next run in line starts.`
          : `${holder.user_email}'s run keeps running without the lock, and the next in line may `
            + "take it. The release is recorded on that run.",
        confirmLabel: label,
      });
      if (!sure) { button.focus(); return; }
      try {
        await request("DELETE", `/locks/${segment(lock.name)}`);
        announce(`Released lock ${lock.name}`);
        replace(problem, notice("info", `Released lock ${lock.name}.`));
      } catch (error) {
        replace(problem, notice("error", error.message ?? String(error)));
      }
      load();
    });
    return button;
  }

  function row(lock) {
    const { holder } = lock;
    return {
      key: lock.name,
      cells: [
        h("code", {}, lock.name),
        holderCell(holder),
        holder ? time(holder.since, ago(holder.since)) : "—",
        holder ? time(holder.until, untilNow(holder.until)) : "—",
        queueCell(lock.queue),
        holder ? releaseButton(lock) : "—",
      ],
    };
  }

  async function load() {
    clearTimeout(timer);
    if (stopped) return;
    // Not under a confirmation, and not while nobody looks (visibilitychange brings it back).
    if (document.querySelector("dialog[open]") || document.hidden) {
      timer = setTimeout(load, REFRESH_MS);
      return;
    }
    controller?.abort();
    controller = new AbortController();
    try {
      const data = await request("GET", "/locks", { signal: controller.signal });
      if (stopped) return;
      if (problem.querySelector(".error")) replace(problem);
      table.update(data.locks.map(row));
    } catch (error) {
      if (stopped || error?.name === "AbortError") return;
      if (error instanceof ApiError && error.kind === "unauthorized") return;
      replace(problem, notice("error", error.message ?? String(error)));
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  const onVisible = () => { if (!document.hidden) load(); };
  document.addEventListener("visibilitychange", onVisible);
  load();
  return () => {
    stopped = true;
    clearTimeout(timer);
    controller?.abort();
    document.removeEventListener("visibilitychange", onVisible);
  };
}
