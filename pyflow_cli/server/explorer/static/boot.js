// Loaded first, on its own: asks for the data the first view shows while the rest of the app is
// still loading (the view's identical requests then take these answers).
import { instancePath, prefetch, workflowPath } from "./lib/api.js";
import { route } from "./lib/routes.js";
import { listQuery, readView } from "./lib/listing.js";

const where = route(location.pathname);
const calls = [["/workflows"]];
if (where.workflow) calls.push([workflowPath(where.workflow)]);
if (where.page === "workflow") {
  calls.push([`${workflowPath(where.workflow)}/instances`, listQuery(readView(new URLSearchParams(location.search)))]);
} else if (where.page === "instance") {
  const path = instancePath(where.workflow, where.id);
  calls.push([path], [`${path}/log`, { after_seq: 0 }]);
}
// The sidebar's other lists, after what the view shows first.
calls.push(["/d1/database"], ["/storage/kv/namespaces"], ["/r2/buckets"], ["/local/crons"], ["/local/engines"]);
prefetch(calls);
