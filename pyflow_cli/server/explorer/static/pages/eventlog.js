// The instance's event log as a table: every row the engine wrote, oldest first, live.
import { html, useId, useState } from "../lib/html.js";
import { clockTime, duration, short, timestamp } from "../lib/format.js";
import { EVENT_NAMES } from "../lib/events.js";

const MAX_SHOWN = 2000;

export function EventLog({ rows }) {
  const [filter, setFilter] = useState("");
  const [expanded, setExpanded] = useState(null);
  const id = useId();
  const origin = rows[0]?.timestamp_ms;
  const needle = filter.trim().toLowerCase();
  const matching = rows.filter((row) => !needle
    || (EVENT_NAMES[row.event] || "").toLowerCase().includes(needle)
    || (row.target || "").toLowerCase().includes(needle));
  const shown = matching.slice(-MAX_SHOWN);
  return html`<div class="event-log">
    <div class="step-controls">
      <label for=${id} class="visually-hidden">Filter the event log</label>
      <input id=${id} type="search" placeholder="Filter by event or step…" value=${filter}
        onInput=${(e) => setFilter(e.currentTarget.value)} />
      <span class="muted">${matching.length === rows.length ? `${rows.length} rows` : `${matching.length} of ${rows.length} rows`}</span>
    </div>
    ${matching.length > shown.length && html`<p class="muted">Showing the newest ${MAX_SHOWN}.</p>`}
    <div class="table-wrap"><table class="log-table" aria-label="Event log">
      <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">+</th>
        <th scope="col">Event</th><th scope="col">Step</th><th scope="col">Details</th></tr></thead>
      <tbody>${shown.map((row) => {
        const iso = new Date(row.timestamp_ms).toISOString();
        const details = Object.keys(row.metadata || {}).length ? row.metadata : null;
        const open = expanded === row.seq;
        return html`<tr key=${row.seq}>
          <td class="num">${row.seq}</td>
          <td class="nowrap"><time datetime=${iso} title=${timestamp(iso, true)}>${clockTime(iso)}</time></td>
          <td class="num">${duration(row.timestamp_ms - origin)}</td>
          <td><code>${EVENT_NAMES[row.event] || row.event}</code></td>
          <td class="nowrap">${row.target || ""}</td>
          <td class="details">${details && (open
            ? html`<pre tabindex="0">${JSON.stringify(details, null, 2)}</pre>
                <button type="button" class="link-button" onClick=${() => setExpanded(null)}>Less</button>`
            : html`<code>${short(details, 90)}</code> ${JSON.stringify(details).length > 90 && html`<button type="button"
                class="link-button" aria-label=${`Show all details of row ${row.seq}`} onClick=${() => setExpanded(row.seq)}>More</button>`}`)}</td>
        </tr>`;
      })}</tbody>
    </table></div>
  </div>`;
}
