// A log viewer that behaves like a terminal for what commands print: ANSI SGR colours and
// styles, "\r" returning to the start of the line (the next text overwrites it), "\b",
// tabs, erase-in-line; other escape sequences are dropped. Every character ends up in a
// text node (never parsed as HTML). stderr is marked where the backend keeps it apart.

const ESC = "\u001b";
const MAX_SEQUENCE = 64; // a longer "escape sequence" is not one: drop it

/** 256-colour palette index → CSS colour (0-15 use the theme's classes instead). */
function xterm256(index) {
  if (index < 16) return null;
  if (index >= 232) {
    const level = 8 + (index - 232) * 10;
    return `rgb(${level}, ${level}, ${level})`;
  }
  const value = index - 16;
  const steps = [0, 95, 135, 175, 215, 255];
  return `rgb(${steps[Math.floor(value / 36)]}, ${steps[Math.floor(value / 6) % 6]}, ${steps[value % 6]})`;
}

const PLAIN = Object.freeze({ bold: false, italic: false, underline: false, inverse: false,
  fg: null, bg: null, stream: "stdout" });

class Style {
  static key(style) {
    return `${style.bold}${style.italic}${style.underline}${style.inverse}|${style.fg}|${style.bg}|${style.stream}`;
  }
}

export class Terminal {
  /** Renders into `container` (an element); keeps at most `maxLines` lines on screen. */
  constructor(container, { maxLines = 20000 } = {}) {
    this.container = container;
    this.maxLines = maxLines;
    this.decoders = new Map();
    this.style = { ...PLAIN };
    this.styleCache = new Map();
    this.pending = ""; // an escape sequence cut by the end of a chunk
    this.cells = []; // the current line: [char, style] pairs
    this.column = 0;
    this.lineCount = 0;
    this.dropped = 0;
    this.sawStderr = false;
    this.fragment = document.createDocumentFragment();
    this.current = this.newLineElement();
    this.container.append(this.current);
  }

  /** Feed bytes (Uint8Array) from `stream` ("stdout", "stderr" or "combined"). */
  write(bytes, stream = "stdout") {
    let decoder = this.decoders.get(stream);
    if (!decoder) {
      decoder = new TextDecoder("utf-8", { fatal: false });
      this.decoders.set(stream, decoder);
    }
    if (stream === "stderr") this.sawStderr = true;
    this.writeText(decoder.decode(bytes, { stream: true }), stream);
  }

  /** Feed text already decoded. */
  writeText(text, stream = "stdout") {
    this.style.stream = stream;
    let input = this.pending + text;
    this.pending = "";
    let i = 0;
    const length = input.length;
    while (i < length) {
      const ch = input[i];
      if (ch === ESC) {
        const end = this.sequenceEnd(input, i);
        if (end === -1) { // incomplete: wait for the next chunk
          this.pending = input.slice(i);
          if (this.pending.length > MAX_SEQUENCE) this.pending = "";
          break;
        }
        this.escape(input.slice(i, end));
        i = end;
        continue;
      }
      i += 1;
      if (ch === "\n") this.newline();
      else if (ch === "\r") this.column = 0;
      else if (ch === "\b") this.column = Math.max(0, this.column - 1);
      else if (ch === "\t") {
        const stop = (Math.floor(this.column / 8) + 1) * 8;
        while (this.column < stop) this.put(" ");
      } else if (ch < " " || ch === "\u007f") continue; // other controls: not shown
      else this.put(ch);
    }
    this.dirty = true;
  }

  /** Where the escape sequence starting at `start` ends (exclusive), or -1 if incomplete. */
  sequenceEnd(input, start) {
    if (start + 1 >= input.length) return -1;
    const kind = input[start + 1];
    if (kind === "[") {
      for (let j = start + 2; j < input.length && j - start <= MAX_SEQUENCE; j += 1) {
        const code = input.charCodeAt(j);
        if (code >= 0x40 && code <= 0x7e) return j + 1;
        if (code < 0x20 || code > 0x7e) return j; // malformed: the sequence ends before it
      }
      return input.length - start > MAX_SEQUENCE ? start + 2 : -1;
    }
    if (kind === "]") { // OSC: until BEL or ESC \
      for (let j = start + 2; j < input.length && j - start <= 4096; j += 1) {
        if (input[j] === "\u0007") return j + 1;
        if (input[j] === ESC && input[j + 1] === "\\") return j + 2;
      }
      return input.length - start > 4096 ? start + 2 : -1;
    }
    if (kind === "(" || kind === ")") return start + 3 <= input.length ? start + 3 : -1;
    return start + 2;
  }

  escape(sequence) {
    if (sequence[1] !== "[") return;
    const final = sequence[sequence.length - 1];
    const body = sequence.slice(2, -1);
    if (/[^0-9;:]/.test(body)) return; // private modes (?25l ...) and the like: ignore
    const params = body === "" ? [] : body.split(/[;:]/).map((p) => (p === "" ? 0 : Number(p)));
    const first = params[0] ?? 0;
    if (final === "m") this.sgr(params.length ? params : [0]);
    else if (final === "K") this.eraseInLine(first);
    else if (final === "G") this.column = Math.max(0, (first || 1) - 1);
    else if (final === "C") this.column += first || 1;
    else if (final === "D") this.column = Math.max(0, this.column - (first || 1));
  }

  sgr(params) {
    const style = this.style;
    for (let k = 0; k < params.length; k += 1) {
      const p = params[k];
      if (p === 0) Object.assign(style, { ...PLAIN, stream: style.stream });
      else if (p === 1) style.bold = true;
      else if (p === 3) style.italic = true;
      else if (p === 4) style.underline = true;
      else if (p === 7) style.inverse = true;
      else if (p === 22) style.bold = false;
      else if (p === 23) style.italic = false;
      else if (p === 24) style.underline = false;
      else if (p === 27) style.inverse = false;
      else if (p >= 30 && p <= 37) style.fg = p - 30;
      else if (p >= 90 && p <= 97) style.fg = p - 90 + 8;
      else if (p === 39) style.fg = null;
      else if (p >= 40 && p <= 47) style.bg = p - 40;
      else if (p >= 100 && p <= 107) style.bg = p - 100 + 8;
      else if (p === 49) style.bg = null;
      else if (p === 38 || p === 48) {
        let colour = null;
        if (params[k + 1] === 5 && params[k + 2] !== undefined) {
          const index = params[k + 2];
          colour = index < 16 ? index : xterm256(index);
          k += 2;
        } else if (params[k + 1] === 2 && params[k + 4] !== undefined) {
          const [r, g, b] = params.slice(k + 2, k + 5).map((v) => Math.min(255, Math.max(0, v)));
          colour = `rgb(${r}, ${g}, ${b})`;
          k += 4;
        }
        if (p === 38) style.fg = colour; else style.bg = colour;
      }
    }
  }

  eraseInLine(mode) {
    if (mode === 0) this.cells.length = Math.min(this.cells.length, this.column);
    else if (mode === 1) {
      for (let c = 0; c <= this.column && c < this.cells.length; c += 1) this.cells[c] = [" ", this.frozenStyle()];
    } else if (mode === 2) this.cells = [];
  }

  frozenStyle() {
    const key = Style.key(this.style);
    let frozen = this.styleCache.get(key);
    if (!frozen) {
      frozen = Object.freeze({ ...this.style, key });
      this.styleCache.set(key, frozen);
    }
    return frozen;
  }

  put(ch) {
    const style = this.frozenStyle();
    while (this.cells.length < this.column) this.cells.push([" ", PLAIN_FROZEN]);
    this.cells[this.column] = [ch, style];
    this.column += 1;
  }

  newline() {
    this.renderLine(this.current, this.cells);
    this.cells = [];
    this.column = 0;
    this.lineCount += 1;
    this.current = this.newLineElement();
    this.fragment.append(this.current);
    this.dirty = true;
  }

  newLineElement() {
    return document.createElement("div");
  }

  /** Put what was written on screen (call once per batch of chunks). */
  flush() {
    if (!this.dirty) return;
    this.dirty = false;
    if (this.fragment.childNodes.length) this.container.append(this.fragment);
    this.renderLine(this.current, this.cells);
    while (this.container.childElementCount > this.maxLines) {
      this.container.firstElementChild.remove();
      this.dropped += 1;
    }
  }

  renderLine(element, cells) {
    element.className = "line";
    element.replaceChildren();
    let stderr = false;
    let run = "";
    let runStyle = null;
    const emit = () => {
      if (run === "") return;
      element.append(this.span(run, runStyle));
      if (runStyle.stream === "stderr") stderr = true;
    };
    for (const [ch, style] of cells) {
      if (style !== runStyle) {
        emit();
        run = "";
        runStyle = style;
      }
      run += ch;
    }
    emit();
    if (stderr) element.classList.add("has-stderr");
  }

  span(text, style) {
    const span = document.createElement("span");
    span.textContent = text;
    const classes = [];
    let fg = style.fg, bg = style.bg;
    if (style.inverse) [fg, bg] = [bg ?? "default-bg", fg ?? "default-fg"];
    if (typeof fg === "number") classes.push(`fg${fg}`);
    else if (fg === "default-bg") classes.push("fg-inverse");
    else if (typeof fg === "string") span.style.color = fg;
    if (typeof bg === "number") classes.push(`bg${bg}`);
    else if (bg === "default-fg") classes.push("bg-inverse");
    else if (typeof bg === "string") span.style.backgroundColor = bg;
    if (style.bold) classes.push("bold");
    if (style.italic) classes.push("italic");
    if (style.underline) classes.push("underline");
    if (style.stream === "stderr") classes.push("stderr");
    if (classes.length) span.className = classes.join(" ");
    return span;
  }

  /** The text on screen, lines joined with "\n" (what a person would copy). */
  text() {
    return Array.from(this.container.children, (line) => line.textContent).join("\n");
  }
}

const PLAIN_FROZEN = Object.freeze({ ...PLAIN, key: Style.key(PLAIN) });

/** base64 → bytes. */
export function decodeBase64(data) {
  const binary = window.atob(data);
  const bytes = new Uint8Array(binary.length);
  for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
  return bytes;
}
