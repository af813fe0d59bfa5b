// The current time, re-rendering every `interval` ms: relative times and the timeline's "now"
// move on their own (the page's clock, not a request to the server).
import { useEffect, useState } from "../lib/html.js";

export function useNow(interval = 1000, running = true) {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    if (!running) return undefined;
    const timer = setInterval(() => setNow(Date.now()), interval);
    return () => clearInterval(timer);
  }, [interval, running]);
  return now;
}
