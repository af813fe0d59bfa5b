// The event log's vocabulary (the numbers are the reference engine's, SPEC §3.3).
export const EVENT_NAMES = {
  0: "WORKFLOW_QUEUED", 1: "WORKFLOW_START", 2: "WORKFLOW_SUCCESS", 3: "WORKFLOW_FAILURE",
  4: "WORKFLOW_TERMINATED", 5: "STEP_START", 6: "STEP_SUCCESS", 7: "STEP_FAILURE", 8: "SLEEP_START",
  9: "SLEEP_COMPLETE", 10: "ATTEMPT_START", 11: "ATTEMPT_SUCCESS", 12: "ATTEMPT_FAILURE",
  14: "WAIT_START", 15: "WAIT_COMPLETE", 16: "WAIT_TIMED_OUT", 17: "ROLLBACK_START",
  18: "ROLLBACK_STEP_START", 19: "ROLLBACK_ATTEMPT_START", 20: "ROLLBACK_ATTEMPT_SUCCESS",
  21: "ROLLBACK_ATTEMPT_FAILURE", 22: "ROLLBACK_STEP_SUCCESS", 23: "ROLLBACK_STEP_FAILURE",
  24: "ROLLBACK_COMPLETE", 25: "ROLLBACK_FAILED", 26: "WORKFLOW_RUNNING", 27: "WORKFLOW_PAUSED",
  28: "WORKFLOW_WAITING_FOR_PAUSE", 29: "WORKFLOW_WAITING",
};

/** "fetch files-2" -> {base: "fetch files", count: 2}; the trailing counter names the use. */
export function splitStepName(name) {
  const found = /^(.*)-(\d+)$/.exec(name || "");
  return found ? { base: found[1], count: Number(found[2]) } : { base: name || "", count: 1 };
}

export const STEP_TYPES = { step: "do", sleep: "sleep", waitForEvent: "wait for event" };
