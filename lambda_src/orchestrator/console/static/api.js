// The API as the console uses it: the caller's key (sessionStorage only, sent as X-API-Key),
// URLs below the console's own base (so a stage prefix such as /prod works), errors in words.

const KEY_STORAGE = "mycli.apiKey";

/** Everything in the page's path before /ui/: "" locally, "/prod" on AWS. */
export const apiBase = (() => {
  const path = window.location.pathname;
  const at = path.indexOf("/ui/");
  return at >= 0 ? path.slice(0, at) : "";
})();

/** The console's own URL for `page` ("", "locks", "executions/<encoded id>", ...). */
export function consoleUrl(page = "") {
  return `${apiBase}/ui/${page}`;
}

/** The part of the current URL after /ui/ (still percent-encoded). */
export function currentPage() {
  return window.location.pathname.slice(apiBase.length + "/ui/".length);
}

export function storedKey() {
  return window.sessionStorage.getItem(KEY_STORAGE);
}

export function storeKey(key) {
  window.sessionStorage.setItem(KEY_STORAGE, key);
}

export function forgetKey() {
  window.sessionStorage.removeItem(KEY_STORAGE);
}

/** A failed request, with `kind` one of: unauthorized, forbidden, not_found, conflict,
 * invalid, throttled, server, unreachable, malformed_key; `message` is what the console shows. */
export class ApiError extends Error {
  constructor(kind, message, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

// Every key mycli issues is "mycli_" and URL-safe base64: letters, digits, _ and -.
const KEY_CHARACTER = /^[A-Za-z0-9_-]$/u;

/** Why `key` cannot be a mycli key, in words (null when it may be one). A key pasted with an
 * invisible or typographic character would otherwise fail as a header the browser refuses to
 * send, which looks like an unreachable server. */
export function keyProblem(key) {
  let position = 0;
  for (const character of key) {
    position += 1;
    if (!KEY_CHARACTER.test(character)) {
      const code = `U+${character.codePointAt(0).toString(16).toUpperCase().padStart(4, "0")}`;
      const visible = /^[\p{L}\p{N}\p{P}\p{S}]$/u.test(character);
      const shown = character === " " ? "a space" : visible ? `“${character}” (${code})` : `an invisible character (${code})`;
      return `That key contains a character keys never have: ${shown} at position ${position}. `
        + "Keys are letters, digits, _ and - only: copy it again, or type it.";
    }
  }
  return null;
}

function describe(status, body) {
  const said = typeof body?.error?.message === "string" ? body.error.message : "";
  if (status === 401) {
    return new ApiError("unauthorized",
      "That API key is not valid: it is wrong, or it was revoked. Sign in with your key.", status);
  }
  if (status === 403) {
    return new ApiError("forbidden", "Not allowed: this needs an admin's key.", status);
  }
  if (status === 404) {
    return new ApiError("not_found", "Not found: it does not exist, or it is not yours.", status);
  }
  if (status === 409) return new ApiError("conflict", said || "That conflicts with what exists.", status);
  if (status === 400 || status === 413) {
    return new ApiError("invalid", said ? `Not accepted: ${said}` : "The request was not accepted.", status);
  }
  if (status === 429) {
    return new ApiError("throttled", "Too many requests right now: wait a moment and try again.", status);
  }
  return new ApiError("server", `The server failed to answer (HTTP ${status}). Try again in a moment.`, status);
}

let onUnauthorized = () => {};

/** Called when any request is refused for its key (e.g. revoked while signed in). */
export function whenUnauthorized(callback) {
  onUnauthorized = callback;
}

/** One API request; resolves to the JSON body, or throws an ApiError. */
export async function request(method, path, { query = {}, body, signal, key } = {}) {
  const url = new URL(apiBase + path, window.location.origin);
  for (const [name, value] of Object.entries(query)) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(name, String(value));
  }
  const apiKey = key ?? storedKey() ?? "";
  const malformed = keyProblem(apiKey);
  if (malformed) throw new ApiError("malformed_key", malformed);
  const headers = { Accept: "application/json", "X-API-Key": apiKey };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(url, {
      method, headers, signal, body: body === undefined ? undefined : JSON.stringify(body),
      cache: "no-store", credentials: "omit", redirect: "error",
    });
  } catch (error) {
    if (error?.name === "AbortError") throw error;
    throw new ApiError("unreachable",
      "The server cannot be reached: check that it is running and your connection, then try again.");
  }
  let data = null;
  try { data = await response.json(); } catch { data = null; }
  if (response.ok) return data;
  const failure = describe(response.status, data);
  if (failure.kind === "unauthorized" && key === undefined) onUnauthorized(failure);
  throw failure;
}

/** A path segment, percent-encoded once (the API decodes it once). */
export function segment(value) {
  return encodeURIComponent(value);
}
