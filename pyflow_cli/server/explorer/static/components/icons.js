// Line icons (24×24, stroked): decorative, so hidden from assistive technology; the control
// that shows one always has its own accessible name.
import { html } from "../lib/html.js";

const PATHS = {
  pause: "M9 5v14M15 5v14",
  play: "M7 4l13 8-13 8z",
  stop: "M6 6h12v12H6z",
  restart: "M4 12a8 8 0 1 0 2.3-5.6M4 4v4h4",
  send: "M4 12l16-8-6 16-3-7z",
  trash: "M4 7h16M9 7V4h6v3M6 7l1 13h10l1-13",
  copy: "M8 8h11v12H8zM5 16V4h11",
  plus: "M12 5v14M5 12h14",
  search: "M11 4a7 7 0 1 0 0 14a7 7 0 1 0 0-14M16 16l5 5",
  chevron: "M9 6l6 6-6 6",
  menu: "M4 7h16M4 12h16M4 17h16",
  more: "M5 12h.01M12 12h.01M19 12h.01",
  flow: "M6 4v6M6 14v6M6 10a4 4 0 0 0 4 4h4M18 14a2 2 0 1 0 0 .01",
  chart: "M4 20V10M10 20V4M16 20v-7M22 20H2",
  list: "M8 6h13M8 12h13M8 18h13M3 6h.01M3 12h.01M3 18h.01",
  sun: "M12 8a4 4 0 1 0 0 8a4 4 0 1 0 0-8M12 2v2M12 20v2M2 12h2M20 12h2M5 5l1.5 1.5M17.5 17.5L19 19M5 19l1.5-1.5M17.5 6.5L19 5",
  moon: "M20 14A8 8 0 1 1 10 4a6 6 0 0 0 10 10z",
  monitor: "M3 4h18v12H3zM8 20h8M12 16v4",
  close: "M6 6l12 12M18 6L6 18",
  rollback: "M9 14L4 9l5-5M4 9h11a5 5 0 0 1 0 10h-3",
};

export function Icon({ name, size = 16 }) {
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true"
    focusable="false"><path d=${PATHS[name] || ""} /></svg>`;
}
