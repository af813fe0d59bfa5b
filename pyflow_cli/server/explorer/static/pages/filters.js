// The instance filters: status, search (id prefix, or text in params, output and error), and
// the creation date range.
import { html, useEffect, useId, useState } from "../lib/html.js";
import { LABELS } from "../lib/statuses.js";
import { Icon } from "../components/icons.js";

const SEARCH_DELAY_MS = 250;

export function Filters({ view, setView, statuses }) {
  const [text, setText] = useState(view.search);
  useEffect(() => setText(view.search), [view.search]);
  useEffect(() => {
    if (text === view.search) return undefined;
    const timer = setTimeout(() => setView({ search: text }), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);
  const id = useId();
  const active = view.status || view.search || view.from || view.to;
  return html`<div class="filters" role="search" aria-label="Filter instances">
    <label class="filter">Status
      <select aria-label="Status" value=${view.status} onChange=${(e) => setView({ status: e.currentTarget.value })}>
        <option value="">All</option>
        ${statuses.map((s) => html`<option key=${s} value=${s}>${LABELS[s]}</option>`)}
      </select></label>
    <div class="filter search">
      <label for=${`${id}-q`}>Search</label>
      <div class="search-box">
        <${Icon} name="search" />
        <input id=${`${id}-q`} type="search" data-search value=${text} autocomplete="off" spellcheck=${false}
          placeholder=${view.scope === "id" ? "Instance id starts with…  ( / )" : "Text in params, output or error…  ( / )"}
          onInput=${(e) => setText(e.currentTarget.value)}
          onKeyDown=${(e) => { if (e.key === "Enter") setView({ search: text }); if (e.key === "Escape") { setText(""); setView({ search: "" }); } }} />
      </div>
    </div>
    <label class="filter">In
      <select aria-label="Search in" value=${view.scope} onChange=${(e) => setView({ scope: e.currentTarget.value })}>
        <option value="id">ID prefix</option>
        <option value="text">Params, output, error</option>
      </select></label>
    <label class="filter">Created from
      <input type="datetime-local" aria-label="Created from" value=${view.from} onChange=${(e) => setView({ from: e.currentTarget.value })} /></label>
    <label class="filter">to
      <input type="datetime-local" aria-label="Created to" value=${view.to} onChange=${(e) => setView({ to: e.currentTarget.value })} /></label>
    ${active && html`<button type="button" class="button subtle clear" onClick=${() => {
      setText("");
      setView({ status: "", search: "", from: "", to: "" });
    }}>Clear filters</button>`}
  </div>`;
}
