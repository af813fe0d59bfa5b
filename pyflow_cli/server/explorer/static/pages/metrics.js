// A workflow's metrics over a window: instances started / succeeded / failed / terminated per
// bucket, wall time p50 / p95, and steps and retries per step name. Charts by uPlot; each chart
// also has its figures as a table, for screen readers and for copying.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import uPlot from "uplot";
import { api } from "../lib/api.js";
import { useLive, useReload } from "../lib/live.js";
import { duration, number } from "../lib/format.js";
import { ErrorBox, Spinner } from "../components/ui.js";
import { WorkflowHeader } from "./header.js";

// uPlot's own styles, needed on this view only.
if (!document.querySelector("link[data-uplot]")) {
  const sheet = document.createElement("link");
  sheet.rel = "stylesheet";
  sheet.href = "/cdn-cgi/local/explorer/static/vendor/uplot/uPlot.min.css";
  sheet.dataset.uplot = "";
  document.head.append(sheet);
}

const WINDOWS = [["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"]];
const MIN_GAP_MS = 2000;  // live changes re-read the metrics at most this often
const OUTCOMES = [["started", "Started", "--chart-1"], ["succeeded", "Succeeded", "--chart-2"],
  ["failed", "Failed", "--chart-3"], ["terminated", "Terminated", "--chart-4"]];
const WALLS = [["wall_time_p50_ms", "p50", "--chart-1"], ["wall_time_p95_ms", "p95", "--chart-3"]];

export function MetricsPage({ workflow }) {
  const [since, setSince] = useState("24h");
  const [metrics, setMetrics] = useState(null);
  const [info, setInfo] = useState(null);
  const [error, setError] = useState(null);
  const last = useRef(0);
  const timer = useRef(null);
  const reload = useReload(async () => {
    last.current = Date.now();
    try {
      const [details, found] = await Promise.all([api.workflow(workflow), api.metrics(workflow, { since })]);
      setInfo(details.result);
      setMetrics(found.result);
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [workflow, since]);
  useEffect(() => () => clearTimeout(timer.current), []);
  useLive({ workflow }, (message) => {
    if (message.type === "counts") return;
    const wait = MIN_GAP_MS - (Date.now() - last.current);
    clearTimeout(timer.current);
    if (wait <= 0) reload();
    else timer.current = setTimeout(reload, wait);
  });
  const totals = metrics?.totals;
  const decided = totals ? totals.succeeded + totals.failed : 0;
  return html`<section class="page">
    <${WorkflowHeader} workflow=${workflow} info=${info} tab="metrics"
      actions=${html`<div class="segmented" role="group" aria-label="Time window">
        ${WINDOWS.map(([value, label]) => html`<button type="button" key=${value}
          aria-pressed=${since === value ? "true" : "false"} onClick=${() => setSince(value)}>${label}</button>`)}
      </div>`} />
    <${ErrorBox} error=${error} />
    ${!metrics ? html`<${Spinner} label="Loading metrics" />` : html`
      <dl class="tiles">
        ${OUTCOMES.map(([key, label]) => html`<div key=${key}><dt>${label}</dt><dd data-metric=${key}>${number(totals[key])}</dd></div>`)}
        <div><dt>Success rate</dt><dd>${decided ? `${Math.round((totals.succeeded / decided) * 100)}%` : "–"}</dd></div>
        <div><dt>Wall time p50</dt><dd>${duration(totals.wall_time_ms.p50)}</dd></div>
        <div><dt>Wall time p95</dt><dd>${duration(totals.wall_time_ms.p95)}</dd></div>
      </dl>
      <${Chart} title="Instances" series=${OUTCOMES} metrics=${metrics} format=${(v) => number(v)} />
      <${Chart} title="Wall time, queued to end" series=${WALLS} metrics=${metrics} format=${duration} />
      <${StepTable} steps=${metrics.steps} />`}
  </section>`;
}

function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Re-renders the caller when the colour scheme changes (system or the theme button). */
function useSchemeVersion() {
  const [version, setVersion] = useState(0);
  useEffect(() => {
    const bump = () => setVersion((v) => v + 1);
    const query = matchMedia("(prefers-color-scheme: dark)");
    query.addEventListener("change", bump);
    const watcher = new MutationObserver(bump);
    watcher.observe(document.documentElement, { attributes: true, attributeFilter: ["data-theme"] });
    return () => {
      query.removeEventListener("change", bump);
      watcher.disconnect();
    };
  }, []);
  return version;
}

function Chart({ title, series, metrics, format }) {
  const box = useRef(null);
  const scheme = useSchemeVersion();
  const times = metrics.series.map((point) => Date.parse(point.start) / 1000);
  const columns = series.map(([key]) => metrics.series.map((point) => point[key]));
  useEffect(() => {
    const element = box.current;
    if (!element) return undefined;
    const text = cssVar("--muted");
    const grid = cssVar("--border");
    // Wall times exist only where runs ended: draw those as points joined across the gaps.
    const sparse = columns.some((column) => column.some((v) => v == null));
    const axis = { stroke: text, grid: { stroke: grid, width: 1 }, ticks: { stroke: grid, width: 1 } };
    const options = {
      width: Math.max(280, element.clientWidth), height: 220,
      scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(1, max)] } },
      axes: [axis, { ...axis, size: 64, values: (u, values) => values.map(format) }],
      legend: { live: true },
      cursor: { points: { size: 6 } },
      series: [{ label: "Time" }, ...series.map(([, label, color]) => ({
        label, stroke: cssVar(color), width: 2, spanGaps: sparse,
        points: { show: sparse || metrics.series.length <= 100, size: sparse ? 7 : 5, fill: cssVar(color) },
        value: (u, v) => (v == null ? "–" : format(v)) }))],
    };
    const chart = new uPlot(options, [times, ...columns], element);
    const resize = new ResizeObserver(() => chart.setSize({ width: Math.max(280, element.clientWidth), height: 220 }));
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
    };
  }, [metrics, scheme]);
  const slug = title.toLowerCase().replace(/\W+/g, "-");
  return html`<figure class="card chart" aria-labelledby=${`${slug}-title`}>
    <figcaption id=${`${slug}-title`} class="card-header"><h3>${title}</h3></figcaption>
    <div class="chart-box" ref=${box} data-chart=${slug} role="img" aria-label=${`${title}: chart; the same figures are in the table below`}></div>
    <details class="chart-data"><summary>${title} as a table</summary>
      <div class="table-wrap"><table><thead><tr><th scope="col">From</th>
        ${series.map(([, label]) => html`<th scope="col" key=${label}>${label}</th>`)}</tr></thead>
      <tbody>${metrics.series.map((point) => html`<tr key=${point.start}>
        <td><time datetime=${point.start}>${new Date(point.start).toLocaleString()}</time></td>
        ${series.map(([key]) => html`<td key=${key} class="num">${point[key] == null ? "–" : format(point[key])}</td>`)}
      </tr>`)}</tbody></table></div>
    </details>
  </figure>`;
}

function StepTable({ steps }) {
  const most = Math.max(1, ...steps.map((s) => Math.max(s.started, s.retries)));
  return html`<section class="card">
    <header class="card-header"><h3>Steps and retries per step</h3></header>
    <div class="card-body">${steps.length === 0 ? html`<p class="empty">No step ran in this window.</p>` : html`
      <div class="table-wrap"><table class="step-metrics">
        <thead><tr><th scope="col">Step</th><th scope="col">Started</th><th scope="col" class="bar-col">
          <span class="visually-hidden">Started and retried, as bars</span></th>
          <th scope="col">Retries</th><th scope="col">Failed attempts</th><th scope="col">Failed</th></tr></thead>
        <tbody>${steps.map((step) => html`<tr key=${step.name}>
          <th scope="row">${step.name}</th>
          <td class="num">${number(step.started)}</td>
          <td class="bar-col" aria-hidden="true"><span class="hbar started" style=${{ width: `${(step.started / most) * 100}%` }}></span>
            <span class="hbar retries" style=${{ width: `${(step.retries / most) * 100}%` }}></span></td>
          <td class="num">${number(step.retries)}</td>
          <td class="num">${number(step.failed_attempts)}</td>
          <td class="num">${number(step.failed)}</td>
        </tr>`)}</tbody>
      </table></div>`}</div>
  </section>`;
}
