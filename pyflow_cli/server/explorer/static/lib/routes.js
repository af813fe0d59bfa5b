// The explorer's own addresses: which view a path shows, and the path of each view.
import { BASE } from "./api.js";

/** Which page a path is: {page, workflow?, id?}. */
export function route(path) {
  if (!path.startsWith(BASE)) return { page: "missing" };
  const parts = path.slice(BASE.length).split("/").filter(Boolean).map(decodeURIComponent);
  if (parts.length === 0) return { page: "home" };
  if (parts[0] !== "workflows" || parts.length < 2) return { page: "missing" };
  const workflow = parts[1];
  if (parts.length === 2) return { page: "workflow", workflow };
  if (parts.length === 3 && parts[2] === "metrics") return { page: "metrics", workflow };
  if (parts.length === 4 && parts[2] === "instances") return { page: "instance", workflow, id: parts[3] };
  return { page: "missing" };
}

export const paths = {
  home: () => BASE,
  workflow: (wf, query) => `${BASE}workflows/${encodeURIComponent(wf)}${query ? `?${query}` : ""}`,
  metrics: (wf) => `${BASE}workflows/${encodeURIComponent(wf)}/metrics`,
  instance: (wf, id) => `${BASE}workflows/${encodeURIComponent(wf)}/instances/${encodeURIComponent(id)}`,
};
