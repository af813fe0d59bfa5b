// The instance's timeline, Gantt style: one row per step; a `do` row shows each attempt (green
// when it succeeded, red when it failed, blue while it runs) and the retry delays between them;
// sleeps and event waits are bars of their own; a line marks the current moment while the
// instance is unfinished. A row is a button: it opens that step in the list below.
import { html, useMemo } from "../lib/html.js";
import { duration, errorText } from "../lib/format.js";
import { splitStepName } from "../lib/events.js";

const MIN_WIDTH = 0.35;  // percent: a 1 ms attempt stays visible
const NICE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000, 15000, 30000, 60000,
  120000, 300000, 600000, 900000, 1800000, 3600000, 7200000, 21600000, 43200000, 86400000];

const ms = (iso) => (iso ? Date.parse(iso) : null);

/** Bars of one step, as [kind, start, end, tooltip] with times in epoch ms. */
function segments(step, now) {
  const start = ms(step.start);
  if (step.type === "sleep") {
    const end = ms(step.end) ?? now;
    const planned = step.durationMs != null ? ` of ${duration(step.durationMs)}` : "";
    return [["sleep", start, end, `Sleep${planned}: ${step.end ? "done" : "sleeping"} (${duration(end - start)})`]];
  }
  if (step.type === "waitForEvent") {
    const end = ms(step.end) ?? now;
    const kind = step.error ? "wait-failed" : "wait";
    const what = step.error ? `timed out ${errorText(step.error)}` : step.end ? `received "${step.output?.type ?? ""}"` : "waiting";
    return [[kind, start, end, `Wait for event "${step.eventType ?? ""}": ${what} (${duration(end - start)})`]];
  }
  const bars = [];
  const attempts = step.attempts || [];
  attempts.forEach((attempt, index) => {
    const from = ms(attempt.start) ?? start;
    const to = ms(attempt.end) ?? now;
    const kind = attempt.success === true ? "ok" : attempt.success === false ? "failed" : "running";
    const outcome = kind === "ok" ? "succeeded" : kind === "failed" ? `failed: ${errorText(attempt.error)}` : "running";
    bars.push([`attempt-${kind}`, from, to, `Attempt ${index + 1} ${outcome} (${duration(to - from)})`]);
    const next = attempts[index + 1];
    if (kind === "failed" && (next || attempt.retryDelayMs != null)) {
      const resume = next ? ms(next.start) ?? now : Math.min(now, to + attempt.retryDelayMs);
      if (resume > to) bars.push(["retry", to, resume, `Retry delay${attempt.retryDelayMs != null ? ` of ${duration(attempt.retryDelayMs)}` : ""}`]);
    }
  });
  if (bars.length === 0) bars.push(["attempt-running", start, ms(step.end) ?? now, "Started"]);
  return bars;
}

function ticks(span) {
  const step = NICE.find((size) => span / size <= 6) || NICE[NICE.length - 1];
  const found = [];
  for (let t = 0; t <= span; t += step) found.push(t);
  return found;
}

export function Timeline({ details, now, onPick }) {
  const finished = details.end != null;
  const origin = ms(details.start) ?? ms(details.queued) ?? now;
  const rows = useMemo(() => (details.steps || []).map((step, index) => ({
    index, step, bars: segments(step, now) })), [details, finished ? 0 : now]);
  const last = Math.max(finished ? ms(details.end) : now, ...rows.flatMap((r) => r.bars.map((b) => b[2])));
  const span = Math.max(1, last - origin);
  const x = (t) => ((t - origin) / span) * 100;
  const place = (from, to) => {
    const left = Math.min(100, Math.max(0, x(from)));
    return { left: `${left}%`, width: `${Math.max(MIN_WIDTH, Math.min(100 - left, x(to) - x(from)))}%` };
  };
  if (rows.length === 0) return html`<p class="empty">No steps yet.</p>`;
  return html`<div class="timeline">
    <div class="tl-row tl-axis" aria-hidden="true"><span class="tl-name"></span>
      <span class="tl-track">${ticks(span).map((t) => html`<span key=${t}
        class=${`tl-tick${x(origin + t) > 85 ? " tl-tick-end" : ""}`} style=${{ left: `${x(origin + t)}%` }}>
        +${duration(t)}</span>`)}</span></div>
    <ol class="tl-rows">${rows.map(({ index, step, bars }) => {
      const { base, count } = splitStepName(step.name);
      const total = bars.filter((b) => b[0].startsWith("attempt")).length;
      const failed = bars.filter((b) => b[0] === "attempt-failed").length;
      const summary = step.type === "step"
        ? `${total} attempt${total === 1 ? "" : "s"}${failed ? `, ${failed} failed` : ""}`
        : bars[0][3];
      return html`<li key=${index}><button type="button" class="tl-row" onClick=${() => onPick(index)}
          aria-label=${`${base}${count > 1 ? ` #${count}` : ""}: ${summary}. Show this step`}>
        <span class="tl-name" title=${step.name}>${base}${count > 1 ? html` <span class="muted">#${count}</span>` : ""}</span>
        <span class="tl-track">
          ${bars.map(([kind, from, to, tip], i) => html`<span key=${i} class=${`tl-bar tl-${kind}`}
            style=${place(from, to)} title=${tip}></span>`)}
          ${!finished && html`<span class="tl-now" style=${{ left: `${x(now)}%` }}></span>`}
        </span>
      </button></li>`;
    })}</ol>
    ${!finished && html`<p class="tl-legend-now"><span class="tl-now-key" aria-hidden="true"></span> now</p>`}
    <ul class="tl-legend" aria-label="Timeline legend">
      <li><span class="tl-key tl-attempt-ok"></span>attempt succeeded</li>
      <li><span class="tl-key tl-attempt-failed"></span>attempt failed</li>
      <li><span class="tl-key tl-attempt-running"></span>running</li>
      <li><span class="tl-key tl-retry"></span>retry delay</li>
      <li><span class="tl-key tl-sleep"></span>sleep</li>
      <li><span class="tl-key tl-wait"></span>waiting for an event</li>
    </ul>
  </div>`;
}
