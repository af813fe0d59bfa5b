// A stored value shown safely: as text, pretty JSON or a hex dump, with its size. Whatever the
// bytes hold (markup, scripts), they only ever become text nodes.
import { html, useEffect, useMemo, useState } from "../lib/html.js";
import { PREVIEW_BYTES, describeBytes, hexDump, size } from "../lib/bytes.js";
import { CopyButton } from "./ui.js";

const MODES = { json: "JSON", text: "Text", hex: "Hex" };

export function ValuePreview({ bytes, label = "Value" }) {
  const shown = bytes.length > PREVIEW_BYTES ? bytes.slice(0, PREVIEW_BYTES) : bytes;
  const described = useMemo(() => describeBytes(shown), [bytes]);
  const modes = described.kind === "json" ? ["json", "text", "hex"] : described.kind === "text" ? ["text", "hex"] : ["hex"];
  const [mode, setMode] = useState(modes[0]);
  useEffect(() => setMode(modes[0]), [bytes]);
  const text = mode === "hex" ? hexDump(shown)
    : mode === "json" ? described.text : new TextDecoder().decode(shown);
  return html`<div class="value-preview">
    <div class="preview-bar">
      <span class="muted" data-kind=${described.kind}>${described.kind === "binary" ? "Binary" : described.kind === "json" ? "JSON" : "Text"}${" · "}
        ${size(bytes.length)}${bytes.length > shown.length ? ` (first ${size(shown.length)} shown)` : ""}</span>
      ${modes.length > 1 && html`<div class="segmented" role="group" aria-label=${`Show ${label.toLowerCase()} as`}>
        ${modes.map((m) => html`<button type="button" key=${m} aria-pressed=${mode === m ? "true" : "false"}
          onClick=${() => setMode(m)}>${MODES[m]}</button>`)}</div>`}
    </div>
    <div class="json-block">
      <pre tabindex="0" aria-label=${label} class=${`preview preview-${mode}`}>${text || " "}</pre>
      <${CopyButton} text=${text} label=${`Copy ${label.toLowerCase()}`} />
    </div>
  </div>`;
}

/** A cell of a result table: NULL, a number, text, or a blob (a list of byte values). */
export function Cell({ value }) {
  if (value === null || value === undefined) return html`<span class="cell-null">NULL</span>`;
  if (Array.isArray(value)) return html`<span class="muted">[blob ${size(value.length)}]</span>`;
  if (typeof value === "object") return html`<code>${JSON.stringify(value)}</code>`;
  const text = String(value);
  return text.length > 200 ? html`<span title=${text.slice(0, 2000)}>${text.slice(0, 199)}…</span>` : text;
}

/** Rows (arrays of values) under their column names. */
export function ResultTable({ columns, rows, label }) {
  if (!columns.length) return html`<p class="muted">No columns.</p>`;
  return html`<div class="table-wrap"><table class="result-table" aria-label=${label}>
    <thead><tr>${columns.map((c, i) => html`<th scope="col" key=${i}>${c}</th>`)}</tr></thead>
    <tbody>${rows.map((row, r) => html`<tr key=${r}>${row.map((value, i) => html`<td key=${i}><${Cell} value=${value} /></td>`)}</tr>`)}</tbody>
  </table></div>`;
}
