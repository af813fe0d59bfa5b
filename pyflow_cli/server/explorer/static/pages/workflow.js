// A workflow's instances: counts by status, filters, search, server-side pages, row and bulk
// actions, create and delete-all. The filters live in the address, so a view can be shared.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload } from "../lib/live.js";
import { Link, navigate, paths } from "../lib/router.js";
import { LABELS, STATUSES } from "../lib/statuses.js";
import { number, relative, timestamp, versionLabel } from "../lib/format.js";
import { Icon } from "../components/icons.js";
import { ErrorBox, Menu, StatusBadge, notify } from "../components/ui.js";
import { InstanceActions, control } from "../components/actions.js";
import { ConfirmDialog, CreateDialog } from "../components/dialogs.js";
import { WorkflowHeader } from "./header.js";
import { Filters } from "./filters.js";
import { useNow } from "./clock.js";
import { PAGE_SIZES, listQuery, readView, writeView } from "../lib/listing.js";

export function WorkflowPage({ workflow, query }) {
  const view = readView(query);
  const key = writeView(view);
  const setView = (changes) => {
    const next = { ...view, page: 1, ...changes };
    navigate(paths.workflow(workflow, writeView(next)), { replace: true });
  };
  const [info, setInfo] = useState(null);
  const [counts, setCounts] = useState(null);
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [selected, setSelected] = useState(new Set());
  const [dialog, setDialog] = useState(null);
  const now = useNow(5000);

  const reload = useReload(async () => {
    try {
      const [details, page] = await Promise.all([
        api.workflow(workflow),
        api.instances(workflow, listQuery(view)),
      ]);
      setInfo(details.result);
      setCounts(details.result.instances);
      setListing({ rows: page.result, info: page.result_info });
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [workflow, key]);

  useLive({ workflow }, (message) => {
    if (message.type === "counts") setCounts(message.counts);
    else reload();
  });

  useEffect(() => {
    // After the rows are painted: what benchmarks/explorer_render.py times.
    if (listing && !performance.getEntriesByName("pyflow:instances-rendered").length) {
      performance.mark("pyflow:instances-rendered");
    }
  }, [listing]);
  const rows = listing?.rows || [];
  const total = listing?.info?.total_count ?? 0;
  const pages = Math.max(1, Math.ceil(total / view.perPage));
  useEffect(() => setSelected(new Set()), [key]);

  const toggle = (id) => {
    const next = new Set(selected);
    if (next.has(id)) next.delete(id);
    else next.add(id);
    setSelected(next);
  };
  const allOnPage = rows.length > 0 && rows.every((row) => selected.has(row.id));
  const bulk = async (action) => {
    const ids = [...selected];
    const chosen = rows.filter((row) => ids.includes(row.id));
    const applicable = chosen.filter((row) => (row.actions || []).includes(action));
    let failed = 0;
    for (const row of applicable) {
      try {
        await control(workflow, row.id, action);
      } catch {
        failed += 1;
      }
    }
    const done = applicable.length - failed;
    const skipped = chosen.length - applicable.length;
    notify(`${action === "terminate" ? "Terminated" : "Restarted"} ${done} instance${done === 1 ? "" : "s"}`
      + (skipped ? `; ${skipped} already finished` : "") + (failed ? `; ${failed} failed` : ""), failed ? "error" : "info");
    setSelected(new Set());
    reload();
  };

  return html`<section class="page">
    <${WorkflowHeader} workflow=${workflow} info=${info} tab="instances"
      actions=${html`<button type="button" class="button primary" onClick=${() => setDialog("create")}>
          <${Icon} name="plus" /><span>Create instance</span></button>
        <${Menu} label="More workflow actions" items=${[{ label: "Delete all instances…", icon: "trash",
          danger: true, onSelect: () => setDialog("deleteAll") }]} />`} />
    <${StatusStrip} counts=${counts} current=${view.status} onPick=${(status) => setView({ status })} />
    <${Filters} view=${view} setView=${setView} statuses=${STATUSES} />
    <${ErrorBox} error=${error} />
    ${selected.size > 0 && html`<div class="bulk-bar" role="region" aria-label="Selected instances">
      <span>${selected.size} selected</span>
      <button type="button" class="button" onClick=${() => bulk("terminate")}><${Icon} name="stop" /><span>Terminate</span></button>
      <button type="button" class="button" onClick=${() => bulk("restart")}><${Icon} name="restart" /><span>Restart</span></button>
      <button type="button" class="button danger" onClick=${() => setDialog("deleteSome")}><${Icon} name="trash" /><span>Delete</span></button>
      <button type="button" class="button subtle" onClick=${() => setSelected(new Set())}>Clear selection</button>
    </div>`}
    <${InstanceTable} workflow=${workflow} rows=${rows} loading=${listing === null} now=${now}
      selected=${selected} toggle=${toggle} allOnPage=${allOnPage}
      toggleAll=${() => setSelected(allOnPage ? new Set() : new Set(rows.map((row) => row.id)))}
      filtered=${!!(view.status || view.search || view.from || view.to)} onChanged=${reload} />
    <${Pager} view=${view} total=${total} pages=${pages} shown=${rows.length} setView=${setView} />
    <${CreateDialog} workflow=${workflow} open=${dialog === "create"} onClose=${() => setDialog(null)}
      onCreated=${(id) => { setDialog(null); notify(`Created ${id}`); reload(); }} />
    <${ConfirmDialog} open=${dialog === "deleteAll"} title="Delete all instances?" confirm="Delete all"
      message=${`All ${number(Object.values(counts || {}).reduce((a, b) => a + b, 0))} instances of ${workflow}, with all their state, will be deleted. This cannot be undone.`}
      onClose=${() => setDialog(null)}
      action=${async () => { await api.removeAll(workflow); notify(`Deleted every instance of ${workflow}`); reload(); }} />
    <${ConfirmDialog} open=${dialog === "deleteSome"} title=${`Delete ${selected.size} instance${selected.size === 1 ? "" : "s"}?`}
      confirm="Delete" message="The selected instances and all their state will be deleted. This cannot be undone."
      onClose=${() => setDialog(null)}
      action=${async () => {
        const result = (await api.removeMany(workflow, [...selected])).result;
        notify(`Deleted ${result.deleted.length}` + (result.errors.length ? `; ${result.errors.length} failed` : ""));
        setSelected(new Set());
        reload();
      }} />
  </section>`;
}

function StatusStrip({ counts, current, onPick }) {
  const shown = STATUSES.filter((s) => s !== "waitingForPause" || counts?.[s]);
  return html`<div class="status-strip" role="group" aria-label="Instances by status (click to filter)">
    ${shown.map((status) => html`<button type="button" key=${status} class=${`strip-item status-${status}`}
      aria-pressed=${current === status ? "true" : "false"}
      aria-label=${`${LABELS[status]}: ${number(counts?.[status])}${current === status ? " (filtering)" : ""}`}
      onClick=${() => onPick(current === status ? "" : status)}>
      <span class="strip-label"><span class="dot" aria-hidden="true"></span>${LABELS[status]}</span>
      <span class="strip-count" data-status=${status}>${counts ? number(counts[status]) : "–"}</span>
    </button>`)}
  </div>`;
}

function InstanceTable({ workflow, rows, loading, now, selected, toggle, allOnPage, toggleAll, filtered, onChanged }) {
  const body = useRef(null);
  const onKey = (event) => {
    const row = event.target.closest?.("tr[data-id]");
    if (!row || event.target.closest("button, input, a, [role=menu]") && event.target !== row) return;
    const all = [...body.current.querySelectorAll("tr[data-id]")];
    const at = all.indexOf(row);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      all[Math.min(all.length - 1, Math.max(0, at + (event.key === "ArrowDown" ? 1 : -1)))]?.focus();
    } else if (event.key === "Enter") {
      event.preventDefault();
      navigate(paths.instance(workflow, row.dataset.id));
    } else if (event.key === "x") {
      event.preventDefault();
      toggle(row.dataset.id);
    }
  };
  if (!loading && rows.length === 0) {
    return html`<p class="empty">${filtered ? "No instance matches these filters."
      : "No instances yet. Create one, or trigger one from your Worker."}</p>`;
  }
  return html`<div class="table-wrap"><table class="instances" aria-label=${`Instances of ${workflow}`}>
    <thead><tr>
      <th scope="col" class="col-check"><input type="checkbox" aria-label="Select every instance on this page"
        checked=${allOnPage} onChange=${toggleAll} /></th>
      <th scope="col">Status</th><th scope="col">Instance</th><th scope="col">Created</th>
      <th scope="col" class="col-version">Version</th><th scope="col" class="col-actions">Actions</th>
    </tr></thead>
    <tbody ref=${body} onKeyDown=${onKey}>${rows.map((row) => html`<tr key=${row.id} data-id=${row.id}
        tabindex="0" aria-label=${`Instance ${row.id}, ${LABELS[row.status] || row.status}`}
        class=${selected.has(row.id) ? "selected" : ""}>
      <td class="col-check"><input type="checkbox" aria-label=${`Select instance ${row.id}`}
        checked=${selected.has(row.id)} onChange=${() => toggle(row.id)} /></td>
      <td><${StatusBadge} status=${row.status} /></td>
      <td class="col-id"><${Link} href=${paths.instance(workflow, row.id)} tabindex="-1">${row.id}</${Link}></td>
      <td class="col-time"><time datetime=${row.created_on} title=${timestamp(row.created_on, true)}>
        ${relative(row.created_on, now)}</time></td>
      <td class="col-version"><code title=${row.versionId || ""}>${versionLabel(row)}</code></td>
      <td class="col-actions"><${InstanceActions} workflow=${workflow} id=${row.id} status=${row.status || "unknown"} allowed=${row.actions}
        onChanged=${onChanged} onDeleted=${onChanged} /></td>
    </tr>`)}</tbody>
  </table></div>`;
}

function Pager({ view, total, pages, shown, setView }) {
  const first = total === 0 ? 0 : (view.page - 1) * view.perPage + 1;
  const go = (page) => setView({ page: Math.min(Math.max(1, page), pages) });
  return html`<nav class="pager" aria-label="Pages of instances">
    <label class="page-size">Per page
      <select aria-label="Instances per page" value=${String(view.perPage)} onChange=${(e) => setView({ perPage: Number(e.currentTarget.value) })}>
        ${PAGE_SIZES.map((size) => html`<option key=${size} value=${String(size)}>${size}</option>`)}
      </select></label>
    <span class="pager-info" aria-live="polite">${total === 0 ? "No instances"
      : `Showing ${number(first)}–${number(first + shown - 1)} of ${number(total)}`}</span>
    <span class="pager-buttons">
      <button type="button" class="icon-button" aria-label="First page" disabled=${view.page <= 1} onClick=${() => go(1)}>«</button>
      <button type="button" class="icon-button" aria-label="Previous page" disabled=${view.page <= 1} onClick=${() => go(view.page - 1)}>‹</button>
      <span class="pager-page">Page ${number(view.page)} of ${number(pages)}</span>
      <button type="button" class="icon-button" aria-label="Next page" disabled=${view.page >= pages} onClick=${() => go(view.page + 1)}>›</button>
      <button type="button" class="icon-button" aria-label="Last page" disabled=${view.page >= pages} onClick=${() => go(pages)}>»</button>
    </span>
  </nav>`;
}
