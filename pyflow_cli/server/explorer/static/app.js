// The Local Explorer: which page the address shows, inside the common frame.
import { html, render, useEffect, useState } from "./lib/html.js";
import { api } from "./lib/api.js";
import { route, useLocation, paths } from "./lib/router.js";
import { Layout } from "./components/layout.js";
import { Spinner } from "./components/ui.js";

// Each view is loaded when first shown (the server preloads the one asked for), so a page does
// not fetch and parse the others, nor the charting library unless it shows metrics.
const VIEWS = {
  home: () => import("./pages/home.js"),
  workflow: () => import("./pages/workflow.js"),
  metrics: () => import("./pages/metrics.js"),
  instance: () => import("./pages/instance.js"),
};
const COMPONENTS = { home: "HomePage", workflow: "WorkflowPage", metrics: "MetricsPage", instance: "InstancePage" };
const loading = {};
const ready = {};
const load = (view) => (loading[view] ||= VIEWS[view]().then((module) => {
  ready[view] = module[COMPONENTS[view]];
  return ready[view];
}));
const first = route(location.pathname).page;
if (VIEWS[first]) load(first);  // its module is preloaded; boot.js asked for its data already

/** The component of `view`, once its module is loaded. */
function useView(view) {
  const [, setLoaded] = useState(0);
  useEffect(() => {
    if (VIEWS[view] && !ready[view]) load(view).then(() => setLoaded((n) => n + 1));
  }, [view]);
  return ready[view];
}

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
  const View = useView(where.page);
  let page;
  if (where.page === "missing") page = html`<section class="page"><h1>Not found</h1><p>The Local Explorer has no page at this address.</p></section>`;
  else if (!View) page = html`<${Spinner} />`;
  else if (where.page === "home") page = html`<${View} workflows=${workflows} />`;
  else if (where.page === "instance") page = html`<${View} key=${`${where.workflow}/${where.id}`} workflow=${where.workflow} id=${where.id} />`;
  else page = html`<${View} key=${where.workflow} workflow=${where.workflow} query=${query} />`;
  return html`<${Layout} workflows=${workflows} current=${path} crumbs=${crumbsFor(where)}>${page}</${Layout}>`;
}

const root = document.getElementById("app");
root.replaceChildren();  // the "Loading…" line
render(html`<${App} />`, root);
