// What the sidebar lists on every page: the config's workflows, D1 databases, KV namespaces, R2
// buckets and cron triggers, and the engines connected to the store. Read once, again when the
// config is reloaded or the server comes back; the engines arrive by themselves on the stream.
import { useEffect, useRef, useState } from "./html.js";
import { api } from "./api.js";
import { useSessionEvents } from "./live.js";

const EMPTY = { workflows: null, d1: null, kv: null, r2: null, crons: null, engines: null };

async function settled(promise, pick) {
  try {
    return pick(await promise);
  } catch {
    return [];
  }
}

export function useProject() {
  const [project, setProject] = useState(EMPTY);
  const server = useRef(null);
  const load = async () => {
    const [workflows, d1, kv, r2, crons, engines] = await Promise.all([
      settled(api.workflows(), (d) => d.result),
      settled(api.d1Databases(), (d) => d.result),
      settled(api.kvNamespaces(), (d) => d.result),
      settled(api.r2Buckets(), (d) => d.result.buckets),
      settled(api.crons(), (d) => d.result),
      settled(api.engines(), (d) => d.result),
    ]);
    setProject({ workflows, d1, kv, r2, crons, engines });
  };
  useEffect(() => {
    load();
  }, []);
  useSessionEvents((message) => {
    if (message.type === "engines") setProject((old) => ({ ...old, engines: message.engines }));
    else if (message.type === "project") load();
    else if (message.type === "hello") {
      if (server.current && server.current !== message.server) load();  // a restarted server
      server.current = message.server;
    }
  });
  return project;
}
