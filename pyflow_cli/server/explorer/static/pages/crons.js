// The project's cron triggers: what each runs, its next fire times (UTC, and the browser's local
// time), its last runs this session and how they ended, and "Run now" (the same path as
// /cdn-cgi/handler/scheduled). Runs appear as they happen.
import { html, useEffect, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload, useSessionEvents } from "../lib/live.js";
import { Link, paths } from "../lib/router.js";
import { duration, relative, timestamp } from "../lib/format.js";
import { Icon } from "../components/icons.js";
import { ErrorBox, Spinner, notify } from "../components/ui.js";
import { useNow } from "./clock.js";

const pad = (n) => String(n).padStart(2, "0");
const utc = (iso) => {
  const d = new Date(iso);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())} UTC`;
};
const SOURCES = { schedule: "Schedule", manual: "Run now" };

export function CronsPage() {
  const [crons, setCrons] = useState(null);
  const [error, setError] = useState(null);
  const now = useNow(1000);
  const reload = useReload(async () => {
    try {
      setCrons((await api.crons()).result);
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, []);
  useLive({ session: true }, (message) => { if (message.type === "hello") reload(); });
  useSessionEvents((message) => { if (message.type === "cron" || message.type === "project") reload(); });
  const soonest = Math.min(...(crons || []).map((c) => (c.next[0] ? Date.parse(c.next[0]) : Infinity)));
  useEffect(() => {
    if (now > soonest + 1000) reload();  // a fire time passed: show the following ones
  }, [now > soonest + 1000]);
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "local";
  return html`<section class="page">
    <header class="page-header">
      <h1>Cron Triggers</h1>
      <p class="lede">The crons of your config: <code>[triggers] crons</code> call your Worker's${" "}
        <code>scheduled</code> handler, a workflow's <code>schedules</code> start an instance of it. Times are UTC, as
        Cloudflare runs them${zone === "UTC" ? "" : `, and your local time (${zone})`}.</p>
    </header>
    <${ErrorBox} error=${error} />
    ${crons === null ? html`<${Spinner} label="Loading cron triggers" />`
      : crons.length === 0 ? html`<p class="empty">No cron triggers: add <code>[triggers] crons = ["*/5 * * * *"]</code>
          or <code>schedules</code> to a workflow in your config.</p>`
      : html`<ul class="cron-list">${crons.map((cron) => html`<li key=${cron.cron}><${CronCard} cron=${cron} now=${now}
          onRan=${reload} /></li>`)}</ul>`}
  </section>`;
}

function CronCard({ cron, now, onRan }) {
  const [busy, setBusy] = useState(false);
  const run = async () => {
    setBusy(true);
    try {
      const result = (await api.runCron(cron.cron)).result;
      if (result.outcome === "ok") notify(`Ran "${cron.cron}"`);
      else notify(`"${cron.cron}" failed: ${result.error}`, "error");
      onRan();
    } catch (failure) {
      notify(`Could not run "${cron.cron}": ${failure.message}`, "error");
    } finally {
      setBusy(false);
    }
  };
  return html`<article class="card cron-card" data-cron=${cron.cron} aria-label=${`Cron ${cron.cron}`}>
    <header class="card-header">
      <h2><code>${cron.cron}</code></h2>
      <button type="button" class="button" disabled=${busy || !!cron.error} onClick=${run}
        aria-label=${`Run ${cron.cron} now`}><${Icon} name="run" /><span>${busy ? "Running…" : "Run now"}</span></button>
    </header>
    <div class="card-body stack">
      <p>${cron.handler && html`Calls the Worker's <code>scheduled</code> handler`}${cron.handler && cron.workflows.length ? "; " : ""}
        ${cron.workflows.length > 0 && html`starts ${cron.workflows.map((w, i) => html`${i ? ", " : ""}<${Link} href=${paths.workflow(w)}>${w}</${Link}>`)}`}</p>
      ${cron.error ? html`<p class="error-text">${cron.error}</p>` : html`<div>
        <h3>Next</h3>
        <ol class="next-times">${cron.next.map((iso) => html`<li key=${iso}><time datetime=${iso}>${utc(iso)}</time>
          <span class="muted"> · ${timestamp(iso).slice(0, 16)} local · ${relative(iso, now)}</span></li>`)}</ol>
      </div>`}
      <h3>Last runs</h3>
      ${cron.runs.length === 0 ? html`<p class="muted">Not run since pyflow dev started.</p>`
        : html`<div class="table-wrap"><table class="runs" aria-label=${`Runs of ${cron.cron}`}>
          <thead><tr><th scope="col">Started</th><th scope="col">By</th><th scope="col">Outcome</th>
            <th scope="col" class="num">Took</th><th scope="col">Instances</th></tr></thead>
          <tbody>${cron.runs.map((run) => html`<tr key=${run.started + run.source}>
            <td class="nowrap"><time datetime=${run.started} title=${timestamp(run.started, true)}>${relative(run.started, now)}</time></td>
            <td>${SOURCES[run.source] || run.source}</td>
            <td><span class=${`badge ${run.outcome === "ok" ? "status-complete" : "status-errored"}`}>${run.outcome === "ok" ? "OK" : "Exception"}</span>
              ${run.error && html`<span class="error-text run-error"> ${run.error}</span>`}</td>
            <td class="num nowrap">${duration(run.duration_ms)}</td>
            <td>${run.instances.map((i) => html`<${Link} key=${i.id} class="instance-link" href=${paths.instance(i.workflow, i.id)}>${i.id}</${Link}> `)}</td>
          </tr>`)}</tbody></table></div>`}
    </div>
  </article>`;
}
