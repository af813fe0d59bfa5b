// Instance statuses: their labels, and the actions the UI offers (the API says which apply).

export const STATUSES = ["complete", "errored", "queued", "running", "waiting", "paused",
  "waitingForPause", "terminated"];

export const LABELS = {
  complete: "Complete", errored: "Errored", queued: "Queued", running: "Running",
  waiting: "Waiting", paused: "Paused", waitingForPause: "Pausing", terminated: "Terminated",
  unknown: "Unknown",
};

const TERMINAL = new Set(["complete", "errored", "terminated"]);
export const isTerminal = (status) => TERMINAL.has(status);

/** What the UI offers for an instance in `status`, in its order: the control actions the API
 * says apply (`allowed`, from the engine's table), terminate also with rollback, and sending an
 * event while the instance is unfinished. */
export function actionsFor(status, allowed = []) {
  const actions = [];
  for (const action of ["pause", "resume", "terminate", "restart"]) {
    if (!allowed.includes(action)) continue;
    actions.push(action);
    if (action === "terminate") actions.push("terminateRollback");
  }
  if (!isTerminal(status)) actions.push("event");
  if (allowed.includes("delete")) actions.push("delete");
  return actions;
}

export const ACTION_LABELS = {
  pause: "Pause", resume: "Resume", terminate: "Terminate", terminateRollback: "Terminate with rollback",
  restart: "Restart", event: "Send event…", delete: "Delete…",
};
