// The Local Explorer: which page the address shows, inside the common frame.
import { html, render, useEffect, useState } from "./lib/html.js";
import { route, useLocation, paths } from "./lib/router.js";
import { useProject } from "./lib/project.js";
import { Layout } from "./components/layout.js";
import { Spinner } from "./components/ui.js";

// Each view is loaded when first shown (the server preloads the one asked for), so a page does
// not fetch and parse the others, nor the charting library unless it shows metrics.
const VIEWS = {
  home: () => import("./pages/home.js"),
  workflow: () => import("./pages/workflow.js"),
  metrics: () => import("./pages/metrics.js"),
  events: () => import("./pages/events.js"),
  instance: () => import("./pages/instance.js"),
  kv: () => import("./pages/kv.js"),
  r2: () => import("./pages/r2.js"),
  d1: () => import("./pages/d1.js"),
  crons: () => import("./pages/crons.js"),
};
const COMPONENTS = { home: "HomePage", workflow: "WorkflowPage", metrics: "MetricsPage",
  events: "EventsPage", instance: "InstancePage", kv: "KvPage", r2: "R2Page", d1: "D1Page",
  crons: "CronsPage" };
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
  if (where.page === "events") crumbs.push({ label: "Events", href: paths.events(where.workflow) });
  if (where.page === "instance") crumbs.push({ label: where.id, href: paths.instance(where.workflow, where.id) });
  if (where.page === "kv") crumbs.splice(0, 1, { label: "KV Namespaces", href: paths.kv(where.namespace) }, { label: where.namespace, href: paths.kv(where.namespace) });
  if (where.page === "r2") crumbs.splice(0, 1, { label: "R2 Buckets", href: paths.r2(where.bucket) }, { label: where.bucket, href: paths.r2(where.bucket) });
  if (where.page === "d1") crumbs.splice(0, 1, { label: "D1 Databases", href: paths.d1(where.database) }, { label: where.database, href: paths.d1(where.database) });
  if (where.page === "crons") crumbs.splice(0, 1, { label: "Cron Triggers", href: paths.crons() });
  if (where.page === "missing") crumbs.push({ label: "Not found", href: location.pathname });
  return crumbs;
}

const TITLES = {
  home: () => "Workflows", workflow: (w) => w.workflow, metrics: (w) => `Metrics · ${w.workflow}`,
  events: (w) => `Events · ${w.workflow}`, instance: (w) => `${w.id} · ${w.workflow}`,
  kv: (w) => `KV · ${w.namespace}`, r2: (w) => `R2 · ${w.bucket}`, d1: (w) => `D1 · ${w.database}`,
  crons: () => "Cron Triggers", missing: () => "Not found",
};

function App() {
  const { path, query } = useLocation();
  const where = route(path);
  const project = useProject();
  useEffect(() => {
    document.title = `${TITLES[where.page](where)} · Local Explorer`;
  }, [path]);
  const View = useView(where.page);
  let page;
  if (where.page === "missing") page = html`<section class="page"><h1>Not found</h1><p>The Local Explorer has no page at this address.</p></section>`;
  else if (!View) page = html`<${Spinner} />`;
  else if (where.page === "home") page = html`<${View} workflows=${project.workflows} />`;
  else if (where.page === "instance") page = html`<${View} key=${`${where.workflow}/${where.id}`} workflow=${where.workflow} id=${where.id} />`;
  else if (where.page === "crons") page = html`<${View} query=${query} />`;
  else if (where.workflow) page = html`<${View} key=${where.workflow} workflow=${where.workflow} query=${query} />`;
  else {
    const name = where.namespace || where.bucket || where.database;
    page = html`<${View} key=${name} name=${name} project=${project} query=${query} />`;
  }
  return html`<${Layout} project=${project} current=${path} crumbs=${crumbsFor(where)}>${page}</${Layout}>`;
}

const root = document.getElementById("app");
root.replaceChildren();  // the "Loading…" line
render(html`<${App} />`, root);
