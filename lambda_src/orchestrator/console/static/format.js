// Times and durations the way the CLI prints them ("3 min ago", "3 min 5 s").

export function parseTime(value) {
  if (typeof value !== "string" || !value) return null;
  const time = Date.parse(value);
  return Number.isNaN(time) ? null : time;
}

function twoUnits(whole) {
  if (whole < 60) return `${whole} s`;
  const minutes = Math.floor(whole / 60), seconds = whole % 60;
  if (minutes < 60) return seconds && minutes < 10 ? `${minutes} min ${seconds} s` : `${minutes} min`;
  const hours = Math.floor(minutes / 60), minute = minutes % 60;
  if (hours < 24) return minute ? `${hours} h ${minute} min` : `${hours} h`;
  const days = Math.floor(hours / 24), hour = hours % 24;
  return hour ? `${days} d ${hour} h` : `${days} d`;
}

export function humanDuration(seconds, coarse = false) {
  const text = twoUnits(Math.floor(seconds));
  return coarse ? text.split(" ").slice(0, 2).join(" ") : text;
}

export function ago(value, now = Date.now()) {
  const when = parseTime(value);
  if (when === null) return "—";
  const seconds = (now - when) / 1000;
  if (seconds < 1) return "just now";
  return `${humanDuration(seconds, true)} ago`;
}

export function duration(start, end, now = Date.now()) {
  const began = parseTime(start);
  if (began === null) return "—";
  const finished = parseTime(end) ?? now;
  const seconds = Math.max((finished - began) / 1000, 0);
  if (seconds < 1) return `${Math.round(seconds * 1000)} ms`;
  return humanDuration(seconds);
}

/** How long until `value` ("in 35 min"), or "ended" once it is past. */
export function untilNow(value, now = Date.now()) {
  const when = parseTime(value);
  if (when === null) return "—";
  const seconds = (when - now) / 1000;
  return seconds < 1 ? "ended" : `in ${humanDuration(seconds, true)}`;
}

/** 1st, 2nd, 3rd, 4th, 11th, 12th, 21st, ... */
export function ordinal(number) {
  const tens = number % 100;
  const suffix = tens >= 11 && tens <= 13 ? "th" : ["th", "st", "nd", "rd"][number % 10] ?? "th";
  return `${number}${suffix}`;
}

/** Seconds in a duration the way the CLI takes it ("90s", "10m", "2h", "1d"; a bare
 * number is minutes); null when it is not one. */
export function parseDuration(text) {
  const match = /^\s*(\d{1,6})\s*(s|m|h|d)?\s*$/i.exec(text);
  if (!match) return null;
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[(match[2] ?? "m").toLowerCase()];
  return Number(match[1]) * unit;
}

export function absolute(value) {
  const when = parseTime(value);
  return when === null ? "—" : new Date(when).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]);
// QUEUED: waiting in its lock's queue (issue 21), before PENDING; not terminal.
export const STATUSES = ["QUEUED", "PENDING", "STARTING", "RUNNING", "CANCELLING", "SUCCEEDED", "FAILED",
  "CANCELLED", "TIMED_OUT"];
