// The live stream: one Server-Sent Events connection for what the page shows. Messages say what
// changed; the page re-reads it through the API. On every (re)connection the server says hello
// and the page re-reads everything, so a server restart loses nothing.
import { useEffect, useLayoutEffect, useRef, useState } from "./html.js";
import { streamUrl } from "./api.js";

const stateListeners = new Set();
let connectionState = "connecting";
// The notes about the session as a whole come with every stream, whatever it watches: a
// binding's data changed, a cron ran, the config was reloaded, the engines and their heartbeats.
const SESSION_EVENTS = ["binding", "cron", "project", "engines"];
const sessionListeners = new Set();

function setState(state) {
  connectionState = state;
  stateListeners.forEach((listener) => listener(state));
}

/** "connecting" | "live" | "reconnecting", for the header's indicator. */
export function useConnectionState() {
  const [state, set] = useState(connectionState);
  useEffect(() => {
    stateListeners.add(set);
    return () => stateListeners.delete(set);
  }, []);
  return state;
}

/** Calls `onMessage({type, ...data})` for each note about the session as a whole (types
 * binding, cron, project, engines; and hello on every (re)connection, to re-read everything),
 * from whichever stream the page has open. */
export function useSessionEvents(onMessage) {
  const handler = useRef(onMessage);
  handler.current = onMessage;
  useEffect(() => {
    const listener = (message) => handler.current(message);
    sessionListeners.add(listener);
    return () => sessionListeners.delete(listener);
  }, []);
}

/** Calls `onMessage({type, ...data})` for each message of the stream for `filter`
 * ({workflow?, instance?, session?}: session only, no instance notes); type "hello" means:
 * re-read everything. */
export function useLive(filter, onMessage) {
  const handler = useRef(onMessage);
  handler.current = onMessage;
  const key = `${filter.workflow || ""}\n${filter.instance || ""}\n${filter.session ? 1 : 0}`;
  useEffect(() => {
    let source = null;
    let retry = null;
    let delay = 500;
    let stopped = false;
    const deliver = (type, to = (message) => handler.current(message)) => (event) => {
      let data = {};
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      to({ type, ...data });
    };
    const toSession = (message) => sessionListeners.forEach((listener) => listener(message));
    const open = () => {
      source = new EventSource(streamUrl(filter));
      source.addEventListener("hello", (event) => {
        delay = 500;
        setState("live");
        deliver("hello")(event);
        deliver("hello", toSession)(event);
      });
      for (const type of ["instance", "counts", "resync"]) source.addEventListener(type, deliver(type));
      for (const type of SESSION_EVENTS) source.addEventListener(type, deliver(type, toSession));
      source.onerror = () => {
        setState("reconnecting");
        if (source.readyState === EventSource.CLOSED && !stopped) {
          // The browser gave up (the server answered with an error): try again ourselves.
          retry = setTimeout(open, delay);
          delay = Math.min(delay * 2, 5000);
        }
      };
    };
    open();
    return () => {
      stopped = true;
      clearTimeout(retry);
      source?.close();
    };
  }, [key]);
}

/** Runs `load` now and whenever `refresh()` is called, never twice at once: calls made while a
 * load runs are folded into one more load after it. */
export function useReload(load, deps) {
  const state = useRef({ running: false, again: false });
  const latest = useRef(load);
  latest.current = load;
  const refresh = useRef(null);
  if (!refresh.current) {
    refresh.current = async () => {
      const s = state.current;
      if (s.running) {
        s.again = true;
        return;
      }
      s.running = true;
      try {
        do {
          s.again = false;
          await latest.current();
        } while (s.again);
      } finally {
        s.running = false;
      }
    };
  }
  useLayoutEffect(() => {  // not after the next paint: the first answer is on screen sooner
    refresh.current();
  }, deps);
  return refresh.current;
}
