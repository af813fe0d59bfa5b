// Instance statuses: their labels, and which actions each allows (SPEC §6, as the API enforces).

export const STATUSES = ["complete", "errored", "queued", "running", "waiting", "paused",
  "waitingForPause", "terminated"];

export const LABELS = {
  complete: "Complete", errored: "Errored", queued: "Queued", running: "Running",
  waiting: "Waiting", paused: "Paused", waitingForPause: "Pausing", terminated: "Terminated",
  unknown: "Unknown",
};

const TERMINAL = new Set(["complete", "errored", "terminated"]);
export const isTerminal = (status) => TERMINAL.has(status);

/** The actions an instance in `status` allows, in the order the UI offers them. */
export function actionsFor(status) {
  const actions = [];
  if (status === "running" || status === "waiting") actions.push("pause");
  if (status === "paused" || status === "waitingForPause") actions.push("resume");
  if (!isTerminal(status)) actions.push("terminate", "terminateRollback");
  actions.push("restart");
  if (!isTerminal(status)) actions.push("event");
  actions.push("delete");
  return actions;
}

export const ACTION_LABELS = {
  pause: "Pause", resume: "Resume", terminate: "Terminate", terminateRollback: "Terminate with rollback",
  restart: "Restart", event: "Send event…", delete: "Delete…",
};
