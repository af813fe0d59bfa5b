// The Local Explorer: which page the address shows, inside the common frame.
import { html, render, useEffect, useState } from "./lib/html.js";
import { api } from "./lib/api.js";
import { route, useLocation, paths } from "./lib/router.js";
import { Layout } from "./components/layout.js";
import { HomePage } from "./pages/home.js";
import { WorkflowPage } from "./pages/workflow.js";
import { InstancePage } from "./pages/instance.js";
import { MetricsPage } from "./pages/metrics.js";

function crumbsFor(where) {
  const crumbs = [{ label: "Workflows", href: paths.home() }];
  if (where.workflow) crumbs.push({ label: where.workflow, href: paths.workflow(where.workflow) });
  if (where.page === "metrics") crumbs.push({ label: "Metrics", href: paths.metrics(where.workflow) });
  if (where.page === "instance") crumbs.push({ label: where.id, href: paths.instance(where.workflow, where.id) });
  if (where.page === "missing") crumbs.push({ label: "Not found", href: location.pathname });
  return crumbs;
}

function App() {
  const { path, query } = useLocation();
  const where = route(path);
  const [workflows, setWorkflows] = useState(null);
  useEffect(() => {
    api.workflows().then((data) => setWorkflows(data.result)).catch(() => setWorkflows([]));
  }, []);
  useEffect(() => {
    const titles = { home: "Workflows", workflow: where.workflow, metrics: `Metrics · ${where.workflow}`,
      instance: `${where.id} · ${where.workflow}`, missing: "Not found" };
    document.title = `${titles[where.page]} · Local Explorer`;
  }, [path]);
  let page;
  if (where.page === "home") page = html`<${HomePage} workflows=${workflows} />`;
  else if (where.page === "workflow") page = html`<${WorkflowPage} key=${where.workflow} workflow=${where.workflow} query=${query} />`;
  else if (where.page === "metrics") page = html`<${MetricsPage} key=${where.workflow} workflow=${where.workflow} />`;
  else if (where.page === "instance") page = html`<${InstancePage} key=${`${where.workflow}/${where.id}`} workflow=${where.workflow} id=${where.id} />`;
  else page = html`<section class="page"><h1>Not found</h1><p>The Local Explorer has no page at this address.</p></section>`;
  return html`<${Layout} workflows=${workflows} current=${path} crumbs=${crumbsFor(where)}>${page}</${Layout}>`;
}

const root = document.getElementById("app");
root.replaceChildren();  // the "Loading…" line
render(html`<${App} />`, root);
