// JSON typed by the user: parse it, or say where and what is wrong.

/** {ok: true, value} or {ok: false, message: "Line 2, column 5: Unexpected token ..."}; blank
 * text is `empty` (value undefined). */
export function parseJson(text) {
  if (!text.trim()) return { ok: true, empty: true, value: undefined };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch (error) {
    return { ok: false, message: describe(error, text) };
  }
}

function describe(error, text) {
  const message = String(error.message || error);
  const found = /position (\d+)/.exec(message);
  if (!found) return message;
  const at = Number(found[1]);
  const before = text.slice(0, at).split("\n");
  const line = before.length;
  const column = before[before.length - 1].length + 1;
  const reason = message.replace(/\s*(in JSON )?at position \d+.*$/, "").replace(/ \(line \d+ column \d+\)/, "");
  return `Line ${line}, column ${column}: ${reason}`;
}
