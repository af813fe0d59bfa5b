// A workflow's event log across all its instances, newest first: filter by event type, step name
// and time window; new rows arrive live (read on from the newest row shown); older ones a page
// at a time.
import { html, useRef, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload } from "../lib/live.js";
import { Link, navigate, paths } from "../lib/router.js";
import { EVENT_NAMES } from "../lib/events.js";
import { clockTime, short, timestamp } from "../lib/format.js";
import { ErrorBox, Spinner } from "../components/ui.js";
import { WorkflowHeader } from "./header.js";
import { PrefixSearch } from "./storage.js";

const PAGE = 100;
const MAX_ROWS = 2000;
const WINDOWS = [["", "All time"], ["15m", "Last 15 minutes"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"]];
const TYPES = Object.values(EVENT_NAMES);

export function EventsPage({ workflow, query }) {
  const filters = { event: query.get("event") || "", step: query.get("step") || "", since: query.get("since") || "" };
  const key = JSON.stringify(filters);
  const setFilter = (changes) => {
    const next = new URLSearchParams();
    for (const [name, value] of Object.entries({ ...filters, ...changes })) if (value) next.set(name, value);
    navigate(paths.events(workflow, next.toString()), { replace: true });
  };
  const [rows, setRows] = useState(null);
  const [more, setMore] = useState(false);
  const [error, setError] = useState(null);
  const [info, setInfo] = useState(null);
  const newest = useRef(0);
  const fresh = useRef(true);
  const shown = useRef(null);  // the filters the rows on screen were read with
  const ask = (extra) => ({ event: filters.event || undefined, step: filters.step || undefined,
    since: filters.since || undefined, limit: PAGE, ...extra });
  const reload = useReload(async () => {
    try {
      if (fresh.current || shown.current !== key) {
        fresh.current = false;
        shown.current = key;
        const [details, found] = await Promise.all([api.workflow(workflow), api.events(workflow, ask())]);
        setInfo(details.result);
        setRows(found.result);
        setMore(found.result_info.more);
        newest.current = found.result[0]?.seq || 0;
      } else {
        const found = await api.events(workflow, ask({ after_seq: newest.current, limit: 1000 }));
        if (found.result.length) {
          newest.current = found.result[0].seq;
          setRows((old) => [...found.result, ...old].slice(0, MAX_ROWS));
        }
      }
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [workflow, key]);
  useLive({ workflow }, (message) => {
    if (message.type === "hello" || message.type === "resync") fresh.current = true;
    if (message.type !== "counts") reload();
  });
  const older = async () => {
    const found = await api.events(workflow, ask({ before_seq: rows[rows.length - 1].seq }));
    setRows((old) => [...old, ...found.result].slice(0, MAX_ROWS));
    setMore(found.result_info.more);
  };
  return html`<section class="page">
    <${WorkflowHeader} workflow=${workflow} info=${info} tab="events" />
    <div class="filters" role="search" aria-label="Filter events">
      <label class="filter">Event
        <select aria-label="Event type" value=${filters.event} onChange=${(e) => setFilter({ event: e.currentTarget.value })}>
          <option value="">All</option>
          ${TYPES.map((name) => html`<option key=${name} value=${name}>${name}</option>`)}
        </select></label>
      <label class="filter">When
        <select aria-label="Time window" value=${filters.since} onChange=${(e) => setFilter({ since: e.currentTarget.value })}>
          ${WINDOWS.map(([value, label]) => html`<option key=${value} value=${value}>${label}</option>`)}
        </select></label>
    </div>
    <${PrefixSearch} label="Step name" value=${filters.step} placeholder="Step name contains…  ( / )"
      onChange=${(step) => setFilter({ step })} />
    <${ErrorBox} error=${error} />
    ${rows === null ? html`<${Spinner} label="Loading events" />`
      : rows.length === 0 ? html`<p class="empty">No events match.</p>`
      : html`<div class="table-wrap"><table class="log-table events-table" aria-label=${`Events of ${workflow}`}>
        <thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Instance</th>
          <th scope="col">Event</th><th scope="col">Step</th><th scope="col">Details</th></tr></thead>
        <tbody>${rows.map((row) => html`<tr key=${row.seq} data-seq=${row.seq}>
          <td class="num">${row.seq}</td>
          <td class="nowrap"><time datetime=${row.timestamp} title=${timestamp(row.timestamp, true)}>${clockTime(row.timestamp)}</time></td>
          <td class="col-id"><${Link} href=${paths.instance(workflow, row.instance_id)}>${row.instance_id}</${Link}></td>
          <td><code>${row.event_name}</code></td>
          <td class="nowrap">${row.target || ""}</td>
          <td class="details"><code>${Object.keys(row.metadata || {}).length ? short(row.metadata, 90) : ""}</code></td>
        </tr>`)}</tbody>
      </table></div>
      ${more && html`<button type="button" class="button subtle" onClick=${older}>Load older events</button>`}`}
  </section>`;
}
