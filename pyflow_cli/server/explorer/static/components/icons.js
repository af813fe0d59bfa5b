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
  database: "M4 6c0-1.7 3.6-3 8-3s8 1.3 8 3-3.6 3-8 3-8-1.3-8-3zM4 6v12c0 1.7 3.6 3 8 3s8-1.3 8-3V6M4 12c0 1.7 3.6 3 8 3s8-1.3 8-3",
  key: "M8 10a4 4 0 1 0 0 8a4 4 0 1 0 0-8M11 11l9-9M16 6l3 3M14 8l2 2",
  bucket: "M4 7h16l-2 13H6zM4 7c0-2 3.6-3 8-3s8 1 8 3",
  clock: "M12 3a9 9 0 1 0 0 18a9 9 0 1 0 0-18M12 7v5l3 3",
  server: "M4 4h16v6H4zM4 14h16v6H4zM8 7h.01M8 17h.01",
  folder: "M3 6h6l2 2h10v11H3z",
  file: "M6 3h8l5 5v13H6zM14 3v5h5",
  download: "M12 4v11M7 10l5 5 5-5M5 20h14",
  upload: "M12 20V9M7 14l5-5 5 5M5 4h14",
  edit: "M4 20h4L19 9l-4-4L4 16zM14 6l4 4",
  run: "M6 4l14 8-14 8z",
  refresh: "M20 12a8 8 0 1 1-2.3-5.6M20 4v4h-4",
};

export function Icon({ name, size = 16 }) {
  return html`<svg class="icon" width=${size} height=${size} viewBox="0 0 24 24" aria-hidden="true"
    focusable="false"><path d=${PATHS[name] || ""} /></svg>`;
}
