// A workflow's title, its class and script, and its views: instances, metrics and events.
import { html } from "../lib/html.js";
import { Link, paths } from "../lib/router.js";

export function WorkflowHeader({ workflow, info, tab, actions }) {
  return html`<header class="page-header workflow-header">
    <div class="title-row">
      <h1>${workflow}</h1>
      <div class="header-actions">${actions}</div>
    </div>
    ${info && html`<p class="muted">class <code>${info.class_name}</code> · script <code>${info.script_name}</code></p>`}
    <nav class="tabs" aria-label=${`${workflow} views`}>
      <${Link} href=${paths.workflow(workflow)} aria-current=${tab === "instances" ? "page" : undefined}>Instances</${Link}>
      <${Link} href=${paths.metrics(workflow)} aria-current=${tab === "metrics" ? "page" : undefined}>Metrics</${Link}>
      <${Link} href=${paths.events(workflow)} aria-current=${tab === "events" ? "page" : undefined}>Events</${Link}>
    </nav>
  </header>`;
}
