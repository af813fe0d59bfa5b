// A D1 database: its tables with row counts and schema, a table's rows a page at a time, a SQL
// console (read-only unless writes are switched on) and the migrations applied to it. SQL runs
// through the same code as the Worker's binding and `pyflow d1 execute`.
import { html, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload, useSessionEvents } from "../lib/live.js";
import { Link, navigate, paths } from "../lib/router.js";
import { number } from "../lib/format.js";
import { ErrorBox, Spinner } from "../components/ui.js";
import { ResultTable } from "../components/preview.js";
import { SqlConsole } from "./d1console.js";

const PAGE_SIZE = 50;
const VIEWS = [["tables", "Tables"], ["console", "SQL console"], ["migrations", "Migrations"]];

export function D1Page({ name: database, project, query }) {
  const info = project.d1?.find((d) => d.uuid === database);
  const view = VIEWS.some(([v]) => v === query.get("view")) ? query.get("view") : "tables";
  const table = query.get("table");
  const offset = Math.max(0, Number(query.get("offset")) || 0);
  const at = (changes) => {
    const next = new URLSearchParams();
    const merged = { view: view === "tables" ? "" : view, table, offset: offset ? String(offset) : "", ...changes };
    for (const [name, value] of Object.entries(merged)) if (value) next.set(name, value);
    return paths.d1(database, next.toString());
  };
  const [version, setVersion] = useState(0);
  useLive({ session: true }, (message) => { if (message.type === "hello") setVersion((v) => v + 1); });
  useSessionEvents((message) => {
    if (message.type === "binding" && message.kind === "d1" && message.name === database) setVersion((v) => v + 1);
  });
  return html`<section class="page">
    <header class="page-header">
      <div class="title-row"><h1>${info?.database_name || database}</h1></div>
      <p class="muted">D1 database <code>${database}</code>${info && html` · <code>env.${info.binding}</code> · stored in${" "}
        <code>${info.file}</code>`}</p>
      <nav class="tabs" aria-label="Database views">${VIEWS.map(([value, label]) => html`<${Link} key=${value}
        href=${at({ view: value === "tables" ? "" : value, table: value === "tables" ? table : "", offset: "" })}
        aria-current=${view === value ? "page" : undefined}>${label}</${Link}>`)}</nav>
    </header>
    ${view === "tables" && html`<${Tables} database=${database} table=${table} offset=${offset} version=${version} at=${at} />`}
    ${view === "console" && html`<${SqlConsole} database=${database} />`}
    ${view === "migrations" && html`<${Migrations} database=${database} version=${version} />`}
  </section>`;
}

function Tables({ database, table, offset, version, at }) {
  const [tables, setTables] = useState(null);
  const [rows, setRows] = useState(null);
  const [error, setError] = useState(null);
  useReload(async () => {
    try {
      const found = (await api.d1Tables(database)).result;
      setTables(found);
      if (table && found.some((t) => t.name === table)) {
        const page = await api.d1Rows(database, { table, offset, limit: PAGE_SIZE });
        setRows({ ...page.result, total: page.result_info.total_count });
      } else {
        setRows(null);
      }
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [database, table, offset, version]);
  if (tables === null) return html`<${ErrorBox} error=${error} /><${Spinner} label="Loading tables" />`;
  const chosen = tables.find((t) => t.name === table);
  return html`<${ErrorBox} error=${error} />
    <div class="split split-narrow-list">
      <div class="split-list">
        ${tables.length === 0 ? html`<p class="empty">No tables yet. Create one in the SQL console, with a migration, or from your Worker.</p>`
          : html`<div class="table-wrap"><table class="store-table" aria-label="Tables">
            <thead><tr><th scope="col">Table</th><th scope="col" class="num">Rows</th></tr></thead>
            <tbody>${tables.map((t) => html`<tr key=${t.name} data-table=${t.name} class=${t.name === table ? "selected" : ""}>
              <td class="col-key"><${Link} href=${at({ table: t.name, offset: "" })}
                aria-current=${t.name === table ? "true" : undefined}>${t.name}</${Link}></td>
              <td class="num">${number(t.rows)}</td></tr>`)}</tbody></table></div>`}
      </div>
      ${chosen && html`<div class="stack table-view">
        <details class="card schema"><summary class="card-header"><h2>Schema of ${chosen.name}</h2></summary>
          <div class="card-body stack">
            <${ResultTable} label=${`Columns of ${chosen.name}`} columns=${["Column", "Type", "Not null", "Default", "Primary key"]}
              rows=${chosen.columns.map((c) => [c.name, c.type || "", c.not_null ? "yes" : "", c.default ?? "", c.primary_key ? `#${c.primary_key}` : ""])} />
            <pre class="sql" aria-label=${`CREATE statement of ${chosen.name}`}>${chosen.sql}</pre>
          </div></details>
        ${rows && html`<${ResultTable} label=${`Rows of ${chosen.name}`} columns=${rows.columns} rows=${rows.rows} />
          <${RowPager} offset=${offset} shown=${rows.rows.length} total=${rows.total} at=${at} />`}
      </div>`}
      ${!chosen && tables.length > 0 && html`<p class="muted">Choose a table to see its schema and rows.</p>`}
    </div>`;
}

function RowPager({ offset, shown, total, at }) {
  const go = (to) => navigate(at({ offset: to ? String(to) : "" }), { replace: true });
  return html`<nav class="pager" aria-label="Pages of rows">
    <span class="pager-info" aria-live="polite">${total === 0 ? "No rows"
      : `Rows ${number(offset + 1)}–${number(offset + shown)} of ${number(total)}`}</span>
    <span class="pager-buttons">
      <button type="button" class="icon-button" aria-label="Previous page" disabled=${offset === 0}
        onClick=${() => go(Math.max(0, offset - PAGE_SIZE))}>‹</button>
      <button type="button" class="icon-button" aria-label="Next page" disabled=${offset + shown >= total}
        onClick=${() => go(offset + PAGE_SIZE)}>›</button>
    </span>
  </nav>`;
}

function Migrations({ database, version }) {
  const [found, setFound] = useState(null);
  const [error, setError] = useState(null);
  useReload(async () => {
    try {
      setFound((await api.d1Migrations(database)).result);
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [database, version]);
  if (!found) return html`<${ErrorBox} error=${error} /><${Spinner} label="Loading migrations" />`;
  return html`<${ErrorBox} error=${error} />
    <p class="muted">Recorded in the table <code>${found.table}</code>; files in <code>${found.directory}/</code>.
      Apply pending ones with <code>pyflow d1 migrations apply</code>.</p>
    <h2>Applied</h2>
    ${found.applied.length === 0 ? html`<p class="empty">No migration has been applied to this database.</p>`
      : html`<${ResultTable} label="Applied migrations" columns=${["#", "Name", "Applied at (UTC)"]}
          rows=${found.applied.map((m) => [m.id, m.name, m.applied_at])} />`}
    <h2>Pending</h2>
    ${found.pending.length === 0 ? html`<p class="empty">None: every migration file is applied.</p>`
      : html`<ul class="pending">${found.pending.map((name) => html`<li key=${name}><code>${name}</code></li>`)}</ul>`}`;
}
