// Stored values as the explorer shows them: text, pretty JSON, or a hex dump with the size.
// Whatever a value holds, it only ever becomes text on the page.

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
export const PREVIEW_BYTES = 256 * 1024;

/** {kind: "json" | "text" | "binary", text} for `bytes` (a Uint8Array). */
export function describeBytes(bytes) {
  let text;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { kind: "binary", text: "" };
  }
  if (CONTROL.test(text)) return { kind: "binary", text: "" };
  try {
    const parsed = JSON.parse(text);
    if (parsed !== null && typeof parsed === "object") return { kind: "json", text: JSON.stringify(parsed, null, 2) };
  } catch {
    /* text, not JSON */
  }
  return { kind: "text", text };
}

const hex = (n) => n.toString(16).padStart(2, "0");

/** "00000000  48 65 6c 6c 6f  |Hello|", 16 bytes a line, the first `max` bytes. */
export function hexDump(bytes, max = 4096) {
  const lines = [];
  for (let at = 0; at < Math.min(bytes.length, max); at += 16) {
    const row = bytes.slice(at, at + 16);
    const codes = [...row].map(hex).join(" ").padEnd(47, " ");
    const chars = [...row].map((b) => (b >= 32 && b < 127 ? String.fromCharCode(b) : ".")).join("");
    lines.push(`${at.toString(16).padStart(8, "0")}  ${codes}  |${chars}|`);
  }
  return lines.join("\n");
}

/** "512 B", "1.5 KiB", "3.2 MiB". */
export function size(bytes) {
  if (bytes == null) return "–";
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return `${value < 10 ? value.toFixed(1) : Math.round(value)} ${units[unit]}`;
}

/** The bytes of a File as base64, for a JSON upload. */
export async function fileBase64(file) {
  const bytes = new Uint8Array(await file.arrayBuffer());
  let binary = "";
  for (let at = 0; at < bytes.length; at += 0x8000) {
    binary += String.fromCharCode(...bytes.subarray(at, at + 0x8000));
  }
  return btoa(binary);
}
