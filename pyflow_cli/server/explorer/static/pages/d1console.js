// The SQL console of a D1 database: run statements, see each one's rows as a table. It runs
// read-only (the server refuses any write) until "Allow writes" is switched on.
import { html, useId, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { duration, number } from "../lib/format.js";
import { Icon } from "../components/icons.js";
import { ErrorBox } from "../components/ui.js";
import { ResultTable } from "../components/preview.js";

export function SqlConsole({ database }) {
  const [sql, setSql] = useState("SELECT name FROM sqlite_schema WHERE type = 'table';");
  const [writes, setWrites] = useState(false);
  const [results, setResults] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const run = async () => {
    if (!sql.trim() || busy) return;
    setBusy(true);
    try {
      const found = await api.d1Query(database, { sql, read_only: !writes });
      setResults(found.result);
      setError(null);
    } catch (failure) {
      setError(failure);
      setResults(null);
    } finally {
      setBusy(false);
    }
  };
  return html`<form class="sql-console stack" aria-label="SQL console" onSubmit=${(e) => { e.preventDefault(); run(); }}>
    <div class="field">
      <label for=${`${id}-sql`}>SQL</label>
      <textarea id=${`${id}-sql`} rows="5" class="code" spellcheck=${false} value=${sql}
        onInput=${(e) => setSql(e.currentTarget.value)}
        onKeyDown=${(e) => { if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) { e.preventDefault(); run(); } }}></textarea>
      <p class="hint">Several statements separated by <code>;</code> run in one transaction, each with its result.${" "}
        <kbd>Ctrl</kbd>+<kbd>Enter</kbd> runs.</p>
    </div>
    <div class="console-bar">
      <label class="switch"><input type="checkbox" role="switch" checked=${writes}
        onChange=${(e) => setWrites(e.currentTarget.checked)} /><span>Allow writes</span></label>
      <span class=${writes ? "warn-text" : "muted"} aria-live="polite">${writes
        ? "Statements may change the database your Worker uses."
        : "Read-only: a statement that writes is refused."}</span>
      <button type="submit" class="button primary" disabled=${busy || !sql.trim()}><${Icon} name="run" />
        <span>${busy ? "Running…" : "Run"}</span></button>
    </div>
    <${ErrorBox} error=${error} />
    ${results && html`<div class="stack" aria-live="polite">${results.map((result, n) => html`<section key=${n} class="query-result">
      <p class="muted"><code>${result.sql.trim()}</code></p>
      ${result.results.columns.length > 0
        ? html`<${ResultTable} label=${`Result ${n + 1}`} columns=${result.results.columns} rows=${result.results.rows} />`
        : null}
      <p class="muted result-meta">${number(result.results.rows.length)} row${result.results.rows.length === 1 ? "" : "s"}${" · "}
        ${number(result.meta.changes)} changed · ${duration(result.meta.duration)}</p>
    </section>`)}</div>`}
  </form>`;
}
