// The step list: filter by type, search by name; each step opens to its output (or error), its
// config and its attempts (newest first, with errors, tracebacks and the delays between them),
// and can be the step an instance restarts from.
import { html, useEffect, useId, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { duration, errorText, timestamp, tracebackText, versionLabel } from "../lib/format.js";
import { STEP_TYPES, splitStepName } from "../lib/events.js";
import { IconButton, JsonBlock, notify } from "../components/ui.js";
import { ConfirmDialog } from "../components/dialogs.js";

const FILTERS = [["all", "All"], ["step", "Do"], ["sleep", "Sleep"], ["waitForEvent", "Wait for event"]];
const RESTART_TYPE = { step: "do", sleep: "sleep", waitForEvent: "waitForEvent" };

function stepState(step) {
  if (step.type === "step") return step.success === true ? "ok" : step.success === false ? "failed" : "running";
  if (step.error) return "failed";
  return step.finished ? "ok" : "running";
}

const STATE_LABEL = { ok: "done", failed: "failed", running: "in progress" };

export function StepList({ workflow, id, steps, now, open, setOpen, onChanged }) {
  const [filter, setFilter] = useState("all");
  const [search, setSearch] = useState("");
  const [restart, setRestart] = useState(null);
  const searchId = useId();
  const needle = search.trim().toLowerCase();
  const shown = steps.map((step, index) => ({ step, index }))
    .filter(({ step }) => filter === "all" || step.type === filter)
    .filter(({ step }) => !needle || (step.name || "").toLowerCase().includes(needle));
  return html`<div class="steps">
    <div class="step-controls">
      <div class="segmented" role="group" aria-label="Show steps of type">
        ${FILTERS.map(([value, label]) => html`<button type="button" key=${value}
          aria-pressed=${filter === value ? "true" : "false"} onClick=${() => setFilter(value)}>${label}</button>`)}
      </div>
      <label for=${searchId} class="visually-hidden">Search steps</label>
      <input id=${searchId} type="search" placeholder="Search steps…" value=${search}
        onInput=${(e) => setSearch(e.currentTarget.value)} />
    </div>
    ${shown.length === 0 ? html`<p class="empty">${steps.length ? "No step matches." : "No steps yet."}</p>`
      : html`<ol class="step-list">${shown.map(({ step, index }) => html`<${StepItem} key=${index}
          index=${index} step=${step} now=${now} open=${open.has(index)}
          toggle=${() => setOpen(index)} onRestart=${() => setRestart(step)} />`)}</ol>`}
    <${ConfirmDialog} open=${restart !== null} title="Restart from this step?" confirm="Restart from here"
      message=${restart ? `"${splitStepName(restart.name).base}" and every step after it run again; the results they stored are discarded. Earlier steps keep their results.` : ""}
      onClose=${() => setRestart(null)}
      action=${async () => {
        const { base, count } = splitStepName(restart.name);
        await api.control(workflow, id, { status: "restart", from: { name: base, count, type: RESTART_TYPE[restart.type] } });
        notify(`Restarted ${id} from "${base}"`);
        onChanged();
      }} />
  </div>`;
}

function StepItem({ index, step, now, open, toggle, onRestart }) {
  const state = stepState(step);
  const { base, count } = splitStepName(step.name);
  const start = Date.parse(step.start);
  const end = step.end ? Date.parse(step.end) : now;
  const panel = `step-panel-${index}`;
  useEffect(() => {
    if (open) document.getElementById(`step-${index}`)?.scrollIntoView?.({ block: "nearest" });
  }, [open]);
  return html`<li id=${`step-${index}`} class=${`step step-${state}${open ? " open" : ""}`}>
    <div class="step-head">
      <button type="button" class="step-toggle" aria-expanded=${open ? "true" : "false"} aria-controls=${panel}
        onClick=${toggle}>
        <span class=${`step-state state-${state}`} aria-label=${STATE_LABEL[state]} role="img"></span>
        ${step.type !== "step" && html`<span class=${`tag tag-${step.type}`}>${STEP_TYPES[step.type]}</span>`}
        <span class="step-name">${base}${count > 1 ? html` <span class="muted">#${count}</span>` : ""}</span>
        <span class="step-time"><time datetime=${step.start}>${timestamp(step.start)}</time></span>
        <span class="step-duration">${duration(end - start)}</span>
      </button>
      <${IconButton} icon="restart" label=${`Restart from step ${base}${count > 1 ? ` #${count}` : ""}`} onClick=${onRestart} />
    </div>
    ${open && html`<div id=${panel} class="step-panel">${StepDetails({ step })}</div>`}
  </li>`;
}

function StepDetails({ step }) {
  if (step.type === "sleep") {
    return html`<dl class="facts"><div><dt>Duration</dt><dd>${step.durationMs != null ? duration(step.durationMs) : "–"}</dd></div>
      <div><dt>Ends</dt><dd>${step.end ? timestamp(step.end, true) : "sleeping"}</dd></div></dl>`;
  }
  if (step.type === "waitForEvent") {
    return html`<dl class="facts"><div><dt>Event type</dt><dd><code>${step.eventType ?? "–"}</code></dd></div></dl>
      ${step.error ? html`<p class="error-text">${errorText(step.error) || "Timed out"}</p>`
        : html`<${JsonBlock} label="Received event" value=${step.output} empty="Not received yet" />`}`;
  }
  const attempts = (step.attempts || []).map((attempt, i) => ({ attempt, number: i + 1 })).reverse();
  const lastError = [...(step.attempts || [])].reverse().find((a) => a.error)?.error;
  return html`<div class="step-grid">
      ${step.success === false
        ? html`<div><h4>Error</h4><p class="error-text">${errorText(lastError)}</p></div>`
        : html`<div><h4>Output</h4><${JsonBlock} label="Output" value=${step.output}
            empty=${step.success ? "null" : "No output yet"} /></div>`}
      <div><h4>Config</h4><${JsonBlock} label="Config" value=${step.config} /></div>
    </div>
    <h4>Attempts</h4>
    <ol class="attempts" reversed>${attempts.map(({ attempt, number }, i) => {
      const older = attempts[i + 1]?.attempt;
      const waited = older?.end && attempt.start ? Date.parse(attempt.start) - Date.parse(older.end) : null;
      const took = attempt.start && attempt.end ? Date.parse(attempt.end) - Date.parse(attempt.start) : null;
      const outcome = attempt.success === true ? "Success" : attempt.success === false ? "Error" : "Running";
      const trace = tracebackText(attempt.traceback);
      return html`<li key=${number} class=${`attempt attempt-${outcome.toLowerCase()}`}>
        <div class="attempt-head"><span class="attempt-number">#${number}</span>
          <strong>${outcome}</strong><span class="muted">${took != null ? duration(took) : ""}</span>
          <time class="muted" datetime=${attempt.start}>${timestamp(attempt.start, true)}</time>
          ${attempt.versionId && html`<code class="attempt-version muted" title=${`ran on version ${attempt.versionId}`}>${versionLabel(attempt)}</code>`}</div>
        ${attempt.error && html`<p class="error-text">${errorText(attempt.error)}</p>`}
        ${trace && html`<details class="traceback" open><summary>Traceback</summary><pre tabindex="0">${trace}</pre></details>`}
        ${waited != null && waited > 0 && html`<p class="waited muted">${`waited ${duration(waited)} before this attempt${
          older.retryDelayMs != null ? ` (retry delay ${duration(older.retryDelayMs)})` : ""}`}</p>`}
      </li>`;
    })}</ol>`;
}
