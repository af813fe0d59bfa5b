// The local API (the same one wrangler and pyflow's CLI use). Every call that changes something
// is a JSON POST, PATCH or DELETE: the server refuses anything a plain HTML form could send.

export const BASE = "/cdn-cgi/local/explorer/";
export const API = "/cdn-cgi/local/explorer/api";

export class ApiError extends Error {
  constructor(status, messages) {
    super(messages.join("; ") || `HTTP ${status}`);
    this.status = status;
    this.messages = messages;
  }
}

const enc = encodeURIComponent;
const early = new Map();

function address(path, query) {
  const url = new URL(API + path, location.origin);
  for (const [key, value] of Object.entries(query || {})) {
    if (value !== undefined && value !== null && value !== "") url.searchParams.set(key, value);
  }
  return url;
}

/** Start the GETs a view is about to make, before it is on screen; the view's own identical
 * GET then takes the answer instead of asking again (once). */
export function prefetch(calls) {
  for (const [path, query] of calls) {
    const url = address(path, query).toString();
    if (!early.has(url)) {
      const pending = call("GET", path, { query });
      pending.catch(() => {});
      early.set(url, pending);
    }
  }
}

async function call(method, path, { query, body, headers } = {}) {
  const url = address(path, query);
  if (method === "GET" && early.has(url.toString())) {
    const pending = early.get(url.toString());
    early.delete(url.toString());
    return pending;
  }
  const init = { method, headers: { Accept: "application/json", ...headers } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  const response = await send(url, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok || !data || data.success === false) {
    const messages = (data?.errors || []).map((error) => error.message).filter(Boolean);
    throw new ApiError(response.status, messages);
  }
  return data;
}

async function send(url, init) {
  try {
    return await fetch(url, init);
  } catch {
    throw new ApiError(0, ["The pyflow dev server cannot be reached. Is it still running?"]);
  }
}

/** A stored value or object as it is: {bytes (Uint8Array), headers}. */
async function raw(path) {
  const response = await send(address(path), { headers: { Accept: "*/*" } });
  if (!response.ok) {
    let messages = [];
    try {
      messages = ((await response.json()).errors || []).map((error) => error.message);
    } catch {
      /* not the envelope */
    }
    throw new ApiError(response.status, messages);
  }
  return { bytes: new Uint8Array(await response.arrayBuffer()), headers: response.headers };
}

// A KV key or R2 object key is one encoded segment (its slashes too: "a/../b" stays a key).
const keyPath = enc;
export const kvPath = (ns) => `/storage/kv/namespaces/${enc(ns)}`;
export const r2Path = (bucket) => `/r2/buckets/${enc(bucket)}`;
export const d1Path = (db) => `/d1/database/${enc(db)}`;
/** Where the browser downloads an object from (the server sends it as an attachment). */
export const objectUrl = (bucket, key) => `${API}${r2Path(bucket)}/objects/${keyPath(key)}`;

export const workflowPath = (wf) => `/workflows/${enc(wf)}`;
export const instancePath = (wf, id) => `${workflowPath(wf)}/instances/${enc(id)}`;

export const api = {
  workflows: () => call("GET", "/workflows"),
  workflow: (wf) => call("GET", workflowPath(wf)),
  instances: (wf, query) => call("GET", `${workflowPath(wf)}/instances`, { query }),
  instance: (wf, id) => call("GET", instancePath(wf, id)),
  log: (wf, id, afterSeq = 0) => call("GET", `${instancePath(wf, id)}/log`, { query: { after_seq: afterSeq } }),
  metrics: (wf, query) => call("GET", `${workflowPath(wf)}/metrics`, { query }),
  create: (wf, body) => call("POST", `${workflowPath(wf)}/instances`, { body }),
  control: (wf, id, body) => call("PATCH", `${instancePath(wf, id)}/status`, { body }),
  sendEvent: (wf, id, type, payload) => call("POST", `${instancePath(wf, id)}/events/${enc(type)}`, { body: payload }),
  remove: (wf, id) => call("DELETE", instancePath(wf, id)),
  removeMany: (wf, ids) => call("POST", `${workflowPath(wf)}/instances/batch/delete`, { body: { instances: ids } }),
  removeAll: (wf) => call("DELETE", workflowPath(wf)),
  events: (wf, query) => call("GET", `${workflowPath(wf)}/events`, { query }),

  kvNamespaces: () => call("GET", "/storage/kv/namespaces"),
  kvKeys: (ns, query) => call("GET", `${kvPath(ns)}/keys`, { query }),
  kvValue: (ns, key) => raw(`${kvPath(ns)}/values/${keyPath(key)}`),
  kvWrite: (ns, entries) => call("PUT", `${kvPath(ns)}/bulk`, { body: entries }),
  kvDelete: (ns, key) => call("DELETE", `${kvPath(ns)}/values/${keyPath(key)}`),

  r2Buckets: () => call("GET", "/r2/buckets"),
  r2Objects: (bucket, query) => call("GET", `${r2Path(bucket)}/objects`, { query }),
  r2Head: (bucket, key) => call("GET", `${r2Path(bucket)}/objects/${keyPath(key)}`,
    { headers: { "cf-metadata-only": "true" } }),
  r2Object: (bucket, key) => raw(`${r2Path(bucket)}/objects/${keyPath(key)}`),
  r2Upload: (bucket, body) => call("POST", `${r2Path(bucket)}/objects`, { body }),
  r2Delete: (bucket, key) => call("DELETE", `${r2Path(bucket)}/objects/${keyPath(key)}`),

  d1Databases: () => call("GET", "/d1/database"),
  d1Tables: (db) => call("GET", `${d1Path(db)}/tables`),
  d1Rows: (db, query) => call("GET", `${d1Path(db)}/rows`, { query }),
  d1Query: (db, body) => call("POST", `${d1Path(db)}/raw`, { body }),
  d1Migrations: (db) => call("GET", `${d1Path(db)}/migrations`),

  crons: () => call("GET", "/local/crons"),
  runCron: (cron) => call("POST", "/local/scheduled", { body: { cron } }),
  engines: () => call("GET", "/local/engines"),
};

export const streamUrl = (filter) => {
  const url = new URL(`${API}/stream`, location.origin);
  if (filter.workflow) url.searchParams.set("workflow", filter.workflow);
  if (filter.instance) url.searchParams.set("instance", filter.instance);
  if (filter.session) url.searchParams.set("session", "1");
  return url.toString();
};
