// The workflows of the project, each with its class, script and live status counts.
import { html, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload } from "../lib/live.js";
import { Link, paths } from "../lib/router.js";
import { LABELS, STATUSES } from "../lib/statuses.js";
import { number } from "../lib/format.js";
import { Spinner } from "../components/ui.js";

export function HomePage({ workflows }) {
  const [counts, setCounts] = useState({});
  const names = (workflows || []).map((w) => w.name);
  const reload = useReload(async () => {
    const found = {};
    await Promise.all(names.map(async (name) => {
      try {
        found[name] = (await api.workflow(name)).result.instances;
      } catch {
        found[name] = null;
      }
    }));
    setCounts(found);
  }, [names.join("\n")]);
  useLive({}, (message) => {
    if (message.type === "counts") setCounts((old) => ({ ...old, [message.workflow]: message.counts }));
    else if (message.type === "hello" || message.type === "resync") reload();
  });
  if (workflows === null) return html`<${Spinner} label="Loading workflows" />`;
  return html`<section class="page">
    <header class="page-header"><h1>Workflows</h1>
      <p class="lede">Every workflow in your config, with its instances by status, live.</p></header>
    ${workflows.length === 0
      ? html`<p class="empty">No workflows: add a <code>[[workflows]]</code> section to your config.</p>`
      : html`<ul class="workflow-cards">${workflows.map((w) => {
        const shown = counts[w.name] || {};
        const total = Object.values(shown).reduce((a, b) => a + b, 0);
        return html`<li key=${w.name} class="workflow-card">
          <h2><${Link} href=${paths.workflow(w.name)}>${w.name}</${Link}></h2>
          <p class="muted">class <code>${w.class_name}</code> · script <code>${w.script_name}</code></p>
          <p class="total">${number(total)} instance${total === 1 ? "" : "s"}</p>
          <ul class="mini-counts" aria-label=${`Instances of ${w.name} by status`}>
            ${STATUSES.filter((s) => s !== "waitingForPause" || shown[s]).map((s) => html`<li key=${s}
              class=${`status-${s}`}><span class="count" data-status=${s}>${number(shown[s])}</span> ${LABELS[s]}</li>`)}
          </ul>
          <p class="card-links"><${Link} href=${paths.workflow(w.name)}>Instances</${Link}>
            <${Link} href=${paths.metrics(w.name)}>Metrics</${Link}></p>
        </li>`;
      })}</ul>`}
  </section>`;
}
