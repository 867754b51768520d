// Users (admins): list, add (the new key shown once, with a copy button), revoke.

import { ApiError, request, segment } from "./api.js";
import { announce, confirmDialog, copyButton, h, notice, replace } from "./dom.js";
import { absolute, ago } from "./format.js";
import { liveTable } from "./table.js";

export function showUsers(area, { me }) {
  document.title = "Users · mycli console";
  let stopped = false;
  const problem = h("div");
  const newKey = h("div");
  const email = h("input", { id: "new-email", name: "email", type: "email", required: true,
    autocomplete: "off", spellcheck: "false" });
  const role = h("select", { id: "new-role", name: "role" },
    h("option", { value: "user" }, "user"), h("option", { value: "admin" }, "admin"));
  const addButton = h("button", { type: "submit", className: "primary" }, "Add user");
  const form = h("form", { className: "add-user", "aria-labelledby": "add-title" },
    h("h2", { id: "add-title" }, "Add a user"),
    h("div", { className: "field" }, h("label", { for: "new-email" }, "Email"), email),
    h("div", { className: "field" }, h("label", { for: "new-role" }, "Role"), role),
    addButton);
  const columns = [{ label: "Email" }, { label: "Role" }, { label: "Created" }, { label: "Last used" },
    { label: "Active keys" }, { label: "State" }, { label: "Action" }];
  const table = liveTable({ caption: "Users", columns, empty: "No users yet." });

  const listTitle = h("h2", { id: "list-title" }, "Everyone");
  replace(area, h("h1", {}, "Users"), problem, newKey, form, listTitle, table.element);
  if (me.role !== "admin") { // the API says no too; don't offer what cannot work
    form.hidden = true;
    listTitle.hidden = true;
    table.element.hidden = true;
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    addButton.disabled = true;
    replace(problem);
    try {
      const created = await request("POST", "/users", { body: { email: email.value.trim(), role: role.value } });
      email.value = "";
      showNewKey(created);
      load();
    } catch (error) {
      if (!(error instanceof ApiError && error.kind === "unauthorized")) {
        replace(problem, notice("error", error.message ?? String(error)));
      }
    } finally {
      addButton.disabled = false;
    }
  });

  function showNewKey(created) {
    const done = h("button", { type: "button" }, "Done: I saved the key");
    const panel = h("section", { className: "new-key card", "aria-labelledby": "new-key-title" },
      h("h2", { id: "new-key-title", tabindex: "-1" }, `API key for ${created.email}`),
      h("p", {}, "It is shown this once: copy it now and hand it to them safely. Only its hash is stored."),
      h("p", {}, h("code", { className: "secret", id: "new-key-value" }, created.api_key)),
      h("div", { className: "actions" }, copyButton("Copy key", created.api_key, "the new API key"), done));
    done.addEventListener("click", () => { replace(newKey); email.focus(); });
    replace(newKey, panel);
    announce(`Added ${created.email}; their key is shown once`);
    panel.querySelector("h2").focus();
  }

  function revokeButton(user) {
    const button = h("button", { type: "button", className: "danger",
      "aria-label": `Revoke ${user.email}` }, "Revoke");
    button.addEventListener("click", async () => {
      const sure = await confirmDialog({
        title: `Revoke ${user.email}?`,
        message: "Every key of this user stops working at once. Their runs and records stay.",
        confirmLabel: "Revoke",
      });
      if (!sure) { button.focus(); return; }
      try {
        await request("DELETE", `/users/${segment(user.email)}`);
        announce(`Revoked ${user.email}`);
        replace(problem, notice("info", `Revoked ${user.email}.`));
      } catch (error) {
        replace(problem, notice("error", error.message ?? String(error)));
      }
      load();
    });
    return button;
  }

  async function load() {
    try {
      const data = await request("GET", "/users");
      if (stopped) return;
      table.update(data.items.map((user) => ({
        key: user.email,
        cells: [
          user.email,
          user.role,
          h("time", { datetime: user.created_at, title: absolute(user.created_at) }, ago(user.created_at)),
          user.last_used ? h("time", { datetime: user.last_used, title: absolute(user.last_used) }, ago(user.last_used)) : "never",
          String(user.active_keys),
          user.revoked ? h("span", { className: "badge status-cancelled" }, "revoked")
            : h("span", { className: "badge status-succeeded" }, "active"),
          user.revoked || user.email === me.email ? "—" : revokeButton(user),
        ],
      })));
    } catch (error) {
      if (stopped || (error instanceof ApiError && error.kind === "unauthorized")) return;
      replace(problem, notice("error", error.message ?? String(error)));
    }
  }

  load();
  return () => { stopped = true; };
}
