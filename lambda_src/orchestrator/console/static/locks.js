// Locks: who holds what, since and until when, for which run; admins can force one free.

import { ApiError, consoleUrl, request, segment } from "./api.js";
import { announce, confirmDialog, h, notice, replace } from "./dom.js";
import { absolute, ago } from "./format.js";
import { liveTable } from "./table.js";

const REFRESH_MS = 3000;

function until(value) {
  const when = Date.parse(value);
  if (Number.isNaN(when)) return "—";
  const seconds = Math.round((when - Date.now()) / 1000);
  return seconds <= 0 ? "expiring" : `in ${seconds < 60 ? `${seconds} s` : `${Math.round(seconds / 60)} min`}`;
}

export function showLocks(area, { me }) {
  document.title = "Locks · mycli console";
  const isAdmin = me.role === "admin";
  let timer = null;
  let stopped = false;
  const columns = [
    { label: "Lock" }, { label: "Held by" }, { label: "Since" }, { label: "Until" }, { label: "Run" },
    ...(isAdmin ? [{ label: "Action" }] : []),
  ];
  const table = liveTable({ caption: "Locks held now", columns, empty: "No locks are held." });
  const problem = h("div");
  replace(area, h("h1", {}, "Locks"),
    h("p", { className: "lead" }, "A lock is held while its run is active; it is freed when the run ends."
      + (isAdmin ? " As an admin you can force one free." : "")),
    problem, table.element);

  function releaseButton(lock) {
    const button = h("button", { type: "button", className: "danger",
      "aria-label": `Force release ${lock.lock_name}` }, "Force release");
    button.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: `Force release ${lock.lock_name}?`,
        message: `${lock.user_email}'s run keeps running without the lock, and someone else may `
          + "take it. The release is recorded on that run.",
        confirmLabel: "Force release",
      });
      if (!sure) { button.focus(); return; }
      try {
        await request("DELETE", `/locks/${segment(lock.lock_name)}`);
        announce(`Released lock ${lock.lock_name}`);
        replace(problem, notice("info", `Released lock ${lock.lock_name}.`));
      } catch (error) {
        replace(problem, notice("error", error.message ?? String(error)));
      }
      load();
    });
    return button;
  }

  async function load() {
    clearTimeout(timer);
    if (document.querySelector("dialog[open]")) { // not under a confirmation
      timer = setTimeout(load, REFRESH_MS);
      return;
    }
    try {
      const data = await request("GET", "/locks");
      if (stopped) return;
      if (problem.querySelector(".error")) replace(problem);
      table.update(data.items.map((lock) => ({
        key: lock.lock_name,
        cells: [
          h("code", {}, lock.lock_name),
          lock.user_email,
          h("time", { datetime: lock.acquired_at, title: absolute(lock.acquired_at) }, ago(lock.acquired_at)),
          h("time", { datetime: lock.expires_at, title: absolute(lock.expires_at) }, until(lock.expires_at)),
          h("a", { href: consoleUrl(`executions/${segment(lock.execution_id)}`) }, lock.execution_id),
          ...(isAdmin ? [releaseButton(lock)] : []),
        ],
      })));
    } catch (error) {
      if (stopped || (error instanceof ApiError && error.kind === "unauthorized")) return;
      replace(problem, notice("error", error.message ?? String(error)));
    }
    if (!stopped) timer = setTimeout(load, REFRESH_MS);
  }

  load();
  return () => { stopped = true; clearTimeout(timer); };
}
