// The explorer's own addresses: which view a path shows, and the path of each view.
import { BASE } from "./api.js";

const STORES = { kv: "namespace", r2: "bucket", d1: "database" };

/** Which page a path is: {page, workflow?, id?, namespace?, bucket?, database?}. */
export function route(path) {
  if (!path.startsWith(BASE)) return { page: "missing" };
  const parts = path.slice(BASE.length).split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts.length === 1 && parts[0] === "crons") return { page: "crons" };
  if (parts.length === 2 && STORES[parts[0]]) return { page: parts[0], [STORES[parts[0]]]: parts[1] };
  if (parts[0] !== "workflows" || parts.length < 2) return { page: "missing" };
  const workflow = parts[1];
  if (parts.length === 2) return { page: "workflow", workflow };
  if (parts.length === 3 && (parts[2] === "metrics" || parts[2] === "events")) return { page: parts[2], workflow };
  if (parts.length === 4 && parts[2] === "instances") return { page: "instance", workflow, id: parts[3] };
  return { page: "missing" };
}

const enc = encodeURIComponent;
const withQuery = (path, query) => (query ? `${path}?${query}` : path);

export const paths = {
  home: () => BASE,
  workflow: (wf, query) => withQuery(`${BASE}workflows/${enc(wf)}`, query),
  metrics: (wf) => `${BASE}workflows/${enc(wf)}/metrics`,
  events: (wf, query) => withQuery(`${BASE}workflows/${enc(wf)}/events`, query),
  instance: (wf, id) => `${BASE}workflows/${enc(wf)}/instances/${enc(id)}`,
  kv: (ns, query) => withQuery(`${BASE}kv/${enc(ns)}`, query),
  r2: (bucket, query) => withQuery(`${BASE}r2/${enc(bucket)}`, query),
  d1: (db, query) => withQuery(`${BASE}d1/${enc(db)}`, query),
  crons: () => `${BASE}crons`,
};
