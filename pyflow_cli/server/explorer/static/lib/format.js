// Formatting of durations, times and values for display.

/** "850ms", "3s 120ms", "2m 5s", "1h 3m", "2d 4h" (wrangler's explorer style). */
export function duration(ms) {
  if (ms == null || !Number.isFinite(ms)) return "–";
  ms = Math.max(0, Math.round(ms));
  if (ms < 1000) return `${ms}ms`;
  const s = Math.floor(ms / 1000);
  if (s < 60) return ms % 1000 ? `${s}s ${ms % 1000}ms` : `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return s % 60 ? `${m}m ${s % 60}s` : `${m}m`;
  const hours = Math.floor(m / 60);
  if (hours < 24) return m % 60 ? `${hours}h ${m % 60}m` : `${hours}h`;
  const d = Math.floor(hours / 24);
  return hours % 24 ? `${d}d ${hours % 24}h` : `${d}d`;
}

/** "just now", "12s ago", "5m ago", "3h ago", "2d ago"; "in 5m" for the future. */
export function relative(iso, now = Date.now()) {
  if (!iso) return "–";
  const diff = now - Date.parse(iso);
  const ahead = diff < 0;
  const s = Math.floor(Math.abs(diff) / 1000);
  if (s < 5) return "just now";
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.floor(s / 60)}m`
    : s < 86400 ? `${Math.floor(s / 3600)}h` : `${Math.floor(s / 86400)}d`;
  return ahead ? `in ${text}` : `${text} ago`;
}

const pad = (n, width = 2) => String(n).padStart(width, "0");

/** Local date and time, "2026-12-01 14:13:32". */
export function timestamp(iso, withMs = false) {
  if (!iso) return "–";
  const d = new Date(iso);
  const text = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} `
    + `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
  return withMs ? `${text}.${pad(d.getMilliseconds(), 3)}` : text;
}

/** Local time of day with milliseconds, "14:13:32.351". */
export function clockTime(iso) {
  const d = new Date(iso);
  return `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`;
}

/** A value as indented JSON ("null" for undefined). */
export function pretty(value) {
  return value === undefined ? "null" : JSON.stringify(value, null, 2);
}

/** A value as one line of JSON, cut to `max` characters. */
export function short(value, max = 120) {
  const text = value === undefined ? "" : typeof value === "string" ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

export const number = (n) => (n ?? 0).toLocaleString("en-US");

/** "Error: message" for an {name, message} error. */
export function errorText(error) {
  if (!error) return "";
  if (typeof error !== "object") return String(error);
  const name = error.name || "Error";
  return error.message ? `${name}: ${error.message}` : name;
}

/** A traceback field as text: pyflow's {frames, omitted, text} by its compact text form (the
 *  user's frames, file:line in function, then the error); a string or lines as they are. */
export function tracebackText(traceback) {
  if (traceback == null || traceback === "") return "";
  if (typeof traceback === "string") return traceback;
  if (Array.isArray(traceback)) {
    return traceback.map((line) => (typeof line === "string" ? line : JSON.stringify(line))).join("\n");
  }
  if (typeof traceback.text === "string") return traceback.text;
  return JSON.stringify(traceback, null, 2);
}

// "v2" for an instance or attempt that records a version of the code (its id shortened when the
// store has no label for it), "–" for none.
export function versionLabel(item) {
  if (item?.version) return item.version;
  return item?.versionId ? item.versionId.slice(0, 8) : "–";
}
