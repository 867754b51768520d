// Building DOM nodes without HTML parsing: every piece of data becomes a text node.
// Nothing in the console parses strings as HTML (a test in tests/api checks the sources).

const ATTRIBUTES = new Set([
  "id", "href", "type", "name", "value", "for", "role", "tabindex", "title", "scope",
  "placeholder", "autocomplete", "required", "readonly", "disabled", "hidden", "datetime",
  "colspan", "spellcheck", "autocapitalize", "inputmode", "method", "lang", "open",
]);

/** h("a", {href, className, onClick, "aria-label": ...}, child, ...): children are nodes or
 * strings (strings become text nodes); null, undefined and false are skipped. */
export function h(tag, props = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(props)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "className") element.className = value;
    else if (key === "dataset") Object.assign(element.dataset, value);
    else if (key.startsWith("on") && typeof value === "function") {
      element.addEventListener(key.slice(2).toLowerCase(), value);
    } else if (key.startsWith("aria-") || key.startsWith("data-") || ATTRIBUTES.has(key)) {
      element.setAttribute(key, value === true ? "" : String(value));
    } else {
      throw new Error(`h(): unexpected property ${key}`);
    }
  }
  append(element, children);
  return element;
}

export function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return parent;
}

/** Replace everything inside `parent` with `children`. */
export function replace(parent, ...children) {
  parent.replaceChildren();
  return append(parent, children);
}

/** Say something to screen readers (and the tests) in the polite live region. */
export function announce(message) {
  const region = document.getElementById("announce");
  if (region) region.textContent = message;
}

/** A notice in words: kind "error" is an alert, "info" a status. */
export function notice(kind, message, ...extra) {
  return h("div", { className: `notice ${kind}`, role: kind === "error" ? "alert" : "status" },
    h("p", {}, message), ...extra);
}

/** A modal confirmation (<dialog>): resolves true when the person confirms. */
export function confirmDialog({ title, message, confirmLabel, danger = true }) {
  return new Promise((resolve) => {
    const titleId = `dialog-title-${Math.random().toString(36).slice(2)}`;
    const confirmButton = h("button", { type: "button", className: danger ? "danger" : "primary" },
      confirmLabel);
    const cancelButton = h("button", { type: "button" }, "Keep it");
    const dialog = h("dialog", { "aria-labelledby": titleId, className: "confirm" },
      h("h2", { id: titleId }, title),
      h("p", {}, message),
      h("div", { className: "actions" }, cancelButton, confirmButton));
    let answer = false;
    confirmButton.addEventListener("click", () => { answer = true; dialog.close(); });
    cancelButton.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => { dialog.remove(); resolve(answer); });
    document.body.append(dialog);
    dialog.showModal();
    cancelButton.focus();
  });
}

/** Copy `text` to the clipboard; falls back to selecting it in a hidden field. */
export async function copyText(text) {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const field = h("textarea", { readonly: true, "aria-hidden": "true", tabindex: "-1",
      className: "offscreen" });
    field.value = text;
    document.body.append(field);
    field.select();
    let copied = false;
    try { copied = document.execCommand("copy"); } catch { copied = false; }
    field.remove();
    return copied;
  }
}

/** A button that copies `text` and says so. */
export function copyButton(label, text, description) {
  const button = h("button", { type: "button", className: "copy" }, label);
  button.addEventListener("click", async () => {
    const copied = await copyText(text);
    announce(copied ? `Copied ${description}` : `Could not copy ${description}; select it and copy`);
    button.textContent = copied ? "Copied" : "Copy failed";
    setTimeout(() => { button.textContent = label; }, 2000);
  });
  return button;
}
