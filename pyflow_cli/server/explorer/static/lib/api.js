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

async function call(method, path, { query, body } = {}) {
  const url = address(path, query);
  if (method === "GET" && early.has(url.toString())) {
    const pending = early.get(url.toString());
    early.delete(url.toString());
    return pending;
  }
  const init = { method, headers: { Accept: "application/json" } };
  if (method !== "GET") {
    init.headers["Content-Type"] = "application/json";
    if (body !== undefined) init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch {
    throw new ApiError(0, ["The pyflow dev server cannot be reached. Is it still running?"]);
  }
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
};

export const streamUrl = (filter) => {
  const url = new URL(`${API}/stream`, location.origin);
  if (filter.workflow) url.searchParams.set("workflow", filter.workflow);
  if (filter.instance) url.searchParams.set("instance", filter.instance);
  return url.toString();
};
