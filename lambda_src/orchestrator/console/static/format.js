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

export function absolute(value) {
  const when = parseTime(value);
  return when === null ? "—" : new Date(when).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
}

export const TERMINAL = new Set(["SUCCEEDED", "FAILED", "CANCELLED", "TIMED_OUT"]);
export const STATUSES = ["PENDING", "STARTING", "RUNNING", "CANCELLING", "SUCCEEDED", "FAILED",
  "CANCELLED", "TIMED_OUT"];
