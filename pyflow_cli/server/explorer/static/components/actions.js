// What can be done to one instance in its current status: pause, resume, terminate (with or
// without rollback), restart, send an event, delete. Buttons for the common ones, a menu for all.
import { html, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { ACTION_LABELS, actionsFor } from "../lib/statuses.js";
import { Icon } from "./icons.js";
import { IconButton, Menu, notify } from "./ui.js";
import { ConfirmDialog, SendEventDialog } from "./dialogs.js";

const ICONS = { pause: "pause", resume: "play", terminate: "stop", terminateRollback: "rollback",
  restart: "restart", event: "send", delete: "trash" };
const INLINE = ["pause", "resume", "terminate", "restart", "event", "delete"];
const DONE = { pause: "Pause requested", resume: "Resumed", terminate: "Terminated",
  terminateRollback: "Terminated after rollback", restart: "Restarted" };

/** Calls the API for `action`; resolves to the status it reports. */
export async function control(workflow, id, action) {
  const body = action === "terminateRollback" ? { status: "terminate", rollback: true } : { status: action };
  return (await api.control(workflow, id, body)).result.status;
}

export function InstanceActions({ workflow, id, status, allowed, labelled = false, onChanged, onDeleted }) {
  const [dialog, setDialog] = useState(null);
  const offered = actionsFor(status, allowed);
  const run = async (action) => {
    if (action === "event" || action === "delete") {
      setDialog(action);
      return;
    }
    try {
      await control(workflow, id, action);
      notify(`${DONE[action]}: ${id}`);
      onChanged?.();
    } catch (error) {
      notify(`${ACTION_LABELS[action]} failed for ${id}: ${error.message}`, "error");
    }
  };
  const label = (action) => `${ACTION_LABELS[action].replace("…", "")} instance ${id}`;
  return html`<div class="actions">
    ${INLINE.filter((a) => offered.includes(a)).map((action) => (labelled
      ? html`<button type="button" key=${action} class=${`button inline-action${action === "delete" ? " danger" : ""}`}
          onClick=${() => run(action)}><${Icon} name=${ICONS[action]} /><span>${ACTION_LABELS[action]}</span></button>`
      : html`<${IconButton} key=${action} icon=${ICONS[action]} label=${label(action)}
          danger=${action === "delete"} class="inline-action" onClick=${() => run(action)} />`))}
    <${Menu} label=${`Actions for instance ${id}`} items=${offered.map((action) => ({
      label: ACTION_LABELS[action], icon: ICONS[action], danger: action === "delete" || action.startsWith("terminate"),
      onSelect: () => run(action) }))} />
    ${dialog === "event" && html`<${SendEventDialog} workflow=${workflow} id=${id} open onClose=${() => setDialog(null)}
      onSent=${(type) => { setDialog(null); notify(`Event "${type}" sent to ${id}`); onChanged?.(); }} />`}
    ${dialog === "delete" && html`<${ConfirmDialog} open title="Delete this instance?" confirm="Delete instance"
      message=${`Instance ${id} and all its state (steps, events, log) will be deleted. This cannot be undone.`}
      onClose=${() => setDialog(null)}
      action=${async () => { await api.remove(workflow, id); notify(`Deleted ${id}`); onDeleted?.(); }} />`}
  </div>`;
}
