// A workflow page's view (filters, search, page) as it is kept in the address, and the
// listing query it makes.

export const PAGE_SIZES = [10, 25, 50, 100];

/** The view the address asks for. */
export function readView(query) {
  const perPage = Number(query.get("per_page"));
  return {
    status: query.get("status") || "",
    search: query.get("q") || "",
    scope: query.get("in") === "text" ? "text" : "id",
    from: query.get("from") || "",
    to: query.get("to") || "",
    page: Math.max(1, Number(query.get("page")) || 1),
    perPage: PAGE_SIZES.includes(perPage) ? perPage : 25,
  };
}

export function writeView(view) {
  const query = new URLSearchParams();
  if (view.status) query.set("status", view.status);
  if (view.search) query.set("q", view.search);
  if (view.search && view.scope === "text") query.set("in", "text");
  if (view.from) query.set("from", view.from);
  if (view.to) query.set("to", view.to);
  if (view.page > 1) query.set("page", String(view.page));
  if (view.perPage !== 25) query.set("per_page", String(view.perPage));
  return query.toString();
}

const isoOrEmpty = (local) => (local ? new Date(local).toISOString() : "");

/** The listing's query for `view`. */
export function listQuery(view) {
  return {
    page: view.page, per_page: view.perPage, status: view.status || undefined,
    id_prefix: view.scope === "id" ? view.search : undefined,
    q: view.scope === "text" ? view.search : undefined,
    date_start: isoOrEmpty(view.from), date_end: isoOrEmpty(view.to),
  };
}
