// A small History-API router: the explorer's own paths under BASE, links that do not reload.
import { html, useEffect, useState } from "./html.js";
import { BASE } from "./api.js";

export { route, paths } from "./routes.js";

const listeners = new Set();
const notify = () => listeners.forEach((listener) => listener());
addEventListener("popstate", notify);

/** Go to `path` (absolute, or relative to BASE) without reloading. */
export function navigate(path, { replace = false } = {}) {
  const target = path.startsWith("/") ? path : BASE + path;
  if (target === location.pathname + location.search) return;
  history[replace ? "replaceState" : "pushState"](null, "", target);
  notify();
  if (!replace) scrollTo(0, 0);
}

/** The current path and query; re-renders the caller when they change. */
export function useLocation() {
  const read = () => ({ path: location.pathname, query: new URLSearchParams(location.search) });
  const [where, setWhere] = useState(read);
  useEffect(() => {
    const update = () => setWhere(read());
    listeners.add(update);
    return () => listeners.delete(update);
  }, []);
  return where;
}

/** An <a> that navigates in place (a new tab still opens with Ctrl/Cmd/middle click). */
export function Link({ href, children, onClick: also, ...rest }) {
  const onClick = (event) => {
    also?.(event);
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey
        || event.shiftKey || event.altKey) return;
    event.preventDefault();
    navigate(href);
  };
  return html`<a href=${href} onClick=${onClick} ...${rest}>${children}</a>`;
}
