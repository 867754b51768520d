// The console's entry point: sign-in, the header, and a small router over the History API.
// Pages: runs (/ui/), one run (/ui/executions/<id>), locks (/ui/locks), users (/ui/users).

import { ApiError, consoleUrl, currentPage, forgetKey, request, storedKey, storeKey,
  whenUnauthorized } from "./api.js";
import { announce, h, notice, replace } from "./dom.js";
import { showLocks } from "./locks.js";
import { showRun } from "./run.js";
import { showRuns } from "./runs.js";
import { showUsers } from "./users.js";

const session = { me: null, stop: () => {} };

function main() {
  return document.getElementById("main");
}

/** Go to a console page without reloading (links still work as plain links). */
export async function navigate(url) {
  window.history.pushState({}, "", url);
  await render();
  main().focus({ preventScroll: false }); // a screen reader starts at the new page
}

function onLinkClick(event) {
  const link = event.target.closest?.("a[href]");
  if (!link || event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
    || event.shiftKey || event.altKey || link.target) return;
  const url = new URL(link.href, window.location.href);
  if (url.origin !== window.location.origin || !url.pathname.startsWith(consoleUrl())) return;
  if (url.hash && url.pathname === window.location.pathname) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
}

function header() {
  const top = document.getElementById("top");
  const page = currentPage();
  const current = page.startsWith("locks") ? "locks" : page.startsWith("users") ? "users" : "runs";
  const link = (name, label, href) => h("a", { href, "aria-current": current === name ? "page" : null },
    label);
  if (!session.me) {
    replace(top, h("span", { className: "brand" }, "mycli console"));
    return;
  }
  const signOut = h("button", { type: "button", className: "sign-out" }, "Sign out");
  signOut.addEventListener("click", () => {
    forgetKey();
    session.me = null;
    announce("Signed out");
    navigate(consoleUrl());
  });
  replace(top,
    h("a", { className: "brand", href: consoleUrl() }, "mycli console"),
    h("nav", { "aria-label": "Console" },
      h("ul", {},
        h("li", {}, link("runs", "Runs", consoleUrl())),
        h("li", {}, link("locks", "Locks", consoleUrl("locks"))),
        session.me.role === "admin" ? h("li", {}, link("users", "Users", consoleUrl("users"))) : null)),
    h("div", { className: "who" },
      h("span", { className: "identity" }, session.me.email, " ",
        h("span", { className: "role" }, `(${session.me.role})`)),
      signOut));
}

function signIn(message) {
  session.stop();
  session.me = null;
  header();
  document.title = "Sign in · mycli console";
  const keyInput = h("input", { id: "api-key", name: "api-key", type: "password", required: true,
    autocomplete: "off", spellcheck: "false", autocapitalize: "off",
    "aria-describedby": "api-key-help" });
  const problem = h("div", { className: "form-problem" });
  const button = h("button", { type: "submit", className: "primary" }, "Sign in");
  const form = h("form", { className: "sign-in", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    h("p", { id: "api-key-help" },
      "Use your mycli API key (the one `mycli configure` or your admin gave you). It is kept in "
      + "this browser tab only and forgotten when you sign out or close the tab."),
    h("label", { for: "api-key" }, "API key"),
    keyInput,
    problem,
    button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const key = keyInput.value.trim();
    if (!key) return;
    button.disabled = true;
    replace(problem);
    try {
      const me = await request("GET", "/me", { key });
      storeKey(key);
      session.me = me;
      announce(`Signed in as ${me.email}`);
      render();
    } catch (error) {
      button.disabled = false;
      replace(problem, notice("error", error instanceof ApiError ? error.message : String(error)));
      keyInput.focus();
    }
  });
  replace(main(), message ? notice("error", message) : null, form);
  keyInput.focus();
}

async function render() {
  session.stop();
  session.stop = () => {};
  if (!storedKey()) {
    signIn();
    return;
  }
  if (!session.me) {
    replace(main(), h("p", { className: "loading" }, "Loading…"));
    try {
      session.me = await request("GET", "/me");
    } catch (error) {
      if (error instanceof ApiError && error.kind === "unauthorized") return; // signIn shown
      replace(main(), notice("error", error.message ?? String(error),
        h("button", { type: "button", onClick: () => render() }, "Try again")));
      return;
    }
  }
  header();
  const page = currentPage();
  const area = main();
  replace(area);
  const context = { me: session.me, navigate };
  let stop;
  if (page === "" ) stop = showRuns(area, context);
  else if (page.replace(/\/$/, "") === "locks") stop = showLocks(area, context);
  else if (page.replace(/\/$/, "") === "users") stop = showUsers(area, context);
  else if (page.startsWith("executions/") && page.length > "executions/".length) {
    let id;
    try { id = decodeURIComponent(page.slice("executions/".length).replace(/\/$/, "")); } catch { id = null; }
    stop = id === null ? notFound(area) : showRun(area, context, id);
  } else stop = notFound(area);
  session.stop = stop ?? (() => {});
}

function notFound(area) {
  document.title = "Not found · mycli console";
  replace(area, h("h1", {}, "Page not found"),
    notice("error", "There is no such page in the console."),
    h("p", {}, h("a", { href: consoleUrl() }, "See the runs")));
  return () => {};
}

whenUnauthorized((error) => {
  forgetKey();
  signIn(error.message);
});
document.addEventListener("click", onLinkClick);
window.addEventListener("popstate", () => render());
render();
