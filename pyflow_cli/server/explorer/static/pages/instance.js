// One instance: its status and facts, params / output / error, the timeline, the steps, the
// event log and a form to send it an event. Everything updates live while it runs.
import { html, useId, useRef, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload } from "../lib/live.js";
import { navigate, paths } from "../lib/router.js";
import { isTerminal } from "../lib/statuses.js";
import { duration, errorText, relative, timestamp, versionLabel } from "../lib/format.js";
import { parseJson } from "../lib/json.js";
import { Card, ErrorBox, JsonBlock, Spinner, StatusBadge, notify } from "../components/ui.js";
import { InstanceActions } from "../components/actions.js";
import { EventFields } from "../components/dialogs.js";
import { Timeline } from "./timeline.js";
import { StepList } from "./steps.js";
import { EventLog } from "./eventlog.js";
import { useNow } from "./clock.js";

const TRIGGERS = { api: "API", binding: "Binding", cron: "Cron", cli: "CLI", event: "Event" };

export function InstancePage({ workflow, id }) {
  const [details, setDetails] = useState(null);
  const [log, setLog] = useState([]);
  const [error, setError] = useState(null);
  const [gone, setGone] = useState(false);
  const [open, setOpen] = useState(new Set());
  const lastSeq = useRef(0);
  const fullLog = useRef(true);
  const running = details !== null && !isTerminal(details.status);
  const now = useNow(1000, running);

  const reload = useReload(async () => {
    try {
      const [found, rows] = await Promise.all([
        api.instance(workflow, id),
        api.log(workflow, id, fullLog.current ? 0 : lastSeq.current),
      ]);
      const fresh = rows.result;
      if (fullLog.current) setLog(fresh);
      else if (fresh.length) setLog((old) => [...old, ...fresh]);
      if (fresh.length) lastSeq.current = fresh[fresh.length - 1].seq;
      fullLog.current = false;
      setDetails(found.result);
      setError(null);
      setGone(false);
    } catch (failure) {
      if (failure.status === 404) setGone(true);
      else setError(failure);
    }
  }, [workflow, id]);

  const rereadAll = () => {
    fullLog.current = true;
    reload();
  };
  useLive({ workflow, instance: id }, (message) => {
    if (message.type === "instance" && message.deleted) setGone(true);
    // A restart rewrites the log (and sets the status to queued): read it all again.
    else if (message.type === "hello" || message.type === "resync" || message.status === "queued") rereadAll();
    else if (message.type === "instance") reload();
  });

  if (gone) {
    return html`<section class="page"><h1>Instance not found</h1>
      <p>There is no instance <code>${id}</code> of <code>${workflow}</code> (any more).</p>
      <p><a href=${paths.workflow(workflow)} onClick=${(e) => { e.preventDefault(); navigate(paths.workflow(workflow)); }}>
        Back to ${workflow}</a></p></section>`;
  }
  if (!details) return html`<section class="page"><${ErrorBox} error=${error} /><${Spinner} label="Loading the instance" /></section>`;
  const start = Date.parse(details.start || details.queued);
  const end = details.end ? Date.parse(details.end) : now;
  const steps = details.steps || [];
  const completed = steps.filter((s) => (s.type === "step" ? s.success === true : s.finished && !s.error)).length;
  const toggle = (index) => {
    const next = new Set(open);
    if (next.has(index)) next.delete(index);
    else next.add(index);
    setOpen(next);
  };
  return html`<section class="page instance-page">
    <header class="page-header">
      <div class="title-row">
        <h1><span class="muted">${workflow}</span> <span class="instance-id">${id}</span></h1>
        <${InstanceActions} workflow=${workflow} id=${id} status=${details.status} allowed=${details.actions} labelled
          onChanged=${reload} onDeleted=${() => navigate(paths.workflow(workflow))} />
      </div>
    </header>
    <${ErrorBox} error=${error} />
    <dl class="facts summary">
      <div><dt>Status</dt><dd><${StatusBadge} status=${details.status} /></dd></div>
      <div><dt>Steps completed</dt><dd>${completed} of ${steps.length}</dd></div>
      <div><dt>Duration</dt><dd>${duration(end - start)}${details.end ? "" : " so far"}</dd></div>
      <div><dt>Created</dt><dd><time datetime=${details.created_on || details.queued}
        title=${timestamp(details.created_on || details.queued, true)}>${relative(details.created_on || details.queued, now)}</time></dd></div>
      <div><dt>Trigger</dt><dd>${TRIGGERS[details.trigger?.source] || details.trigger?.source || "–"}</dd></div>
      <div><dt>Version</dt><dd><code title=${details.versionId || ""}>${versionLabel(details)}</code></dd></div>
    </dl>
    <div class="cards">
      <${Card} title="Params"><${JsonBlock} label="Params" value=${details.params} /></${Card}>
      <${Card} title="Output"><${JsonBlock} label="Output" value=${details.output}
        empty=${details.status === "complete" ? "null" : "No output yet"} /></${Card}>
      ${details.error && html`<${Card} title="Error"><p class="error-text">${errorText(details.error)}</p>
        <${JsonBlock} label="Error" value=${details.error} /></${Card}>`}
    </div>
    <${Card} title="Timeline"><${Timeline} details=${details} now=${now}
      onPick=${(index) => { if (!open.has(index)) toggle(index); else document.getElementById(`step-${index}`)?.scrollIntoView({ block: "nearest" }); }} /></${Card}>
    <${Card} title="Steps"><${StepList} workflow=${workflow} id=${id} steps=${steps} now=${now}
      open=${open} setOpen=${toggle} onChanged=${rereadAll} /></${Card}>
    ${!isTerminal(details.status) && html`<${Card} title="Send an event"><${SendEventForm} workflow=${workflow} id=${id} onSent=${reload} /></${Card}>`}
    <${Card} title="Event log"><${EventLog} rows=${log} /></${Card}>
  </section>`;
}

function SendEventForm({ workflow, id, onSent }) {
  const [type, setType] = useState("");
  const [payload, setPayload] = useState("");
  const [error, setError] = useState(null);
  const typeId = useId();
  const parsed = parseJson(payload);
  const submit = async (event) => {
    event.preventDefault();
    if (!type.trim() || !parsed.ok) return;
    try {
      await api.sendEvent(workflow, id, type.trim(), parsed.empty ? undefined : parsed.value);
      notify(`Event "${type.trim()}" sent`);
      setError(null);
      setPayload("");
      onSent();
    } catch (failure) {
      setError(failure);
    }
  };
  return html`<form class="send-event" aria-label="Send an event to this instance" onSubmit=${submit}>
    <${EventFields} typeId=${typeId} type=${type} setType=${setType} payload=${payload} setPayload=${setPayload} />
    <${ErrorBox} error=${error} />
    <button type="submit" class="button primary" disabled=${!type.trim() || !parsed.ok}>Send event</button>
  </form>`;
}
