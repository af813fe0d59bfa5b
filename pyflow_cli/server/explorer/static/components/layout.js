// The frame around every page: a sidebar of the local data, grouped as wrangler's explorer groups
// it (D1 databases, KV namespaces, R2 buckets, workflows, cron triggers) and the engines
// connected to the store; a top bar with breadcrumbs, the live indicator and the theme.
import { html, useEffect, useState } from "../lib/html.js";
import { Link, paths } from "../lib/router.js";
import { useConnectionState } from "../lib/live.js";
import { relative } from "../lib/format.js";
import { useNow } from "../pages/clock.js";
import { Icon } from "./icons.js";
import { Dialog, Notices } from "./ui.js";

const THEMES = ["system", "light", "dark"];
const THEME_ICONS = { system: "monitor", light: "sun", dark: "moon" };

function readTheme() {
  try {
    return THEMES.includes(localStorage.getItem("pyflow-theme")) ? localStorage.getItem("pyflow-theme") : "system";
  } catch {
    return "system";
  }
}

function applyTheme(theme) {
  if (theme === "system") delete document.documentElement.dataset.theme;
  else document.documentElement.dataset.theme = theme;
}
applyTheme(readTheme());

function ThemeButton() {
  const [theme, setTheme] = useState(readTheme);
  const next = THEMES[(THEMES.indexOf(theme) + 1) % THEMES.length];
  const choose = () => {
    setTheme(next);
    applyTheme(next);
    try {
      localStorage.setItem("pyflow-theme", next);
    } catch {
      /* private mode: the choice lasts for this page only */
    }
  };
  const label = `Theme: ${theme}. Switch to ${next}`;
  return html`<button type="button" class="icon-button" aria-label=${label} title=${label}
    onClick=${choose}><${Icon} name=${THEME_ICONS[theme]} /></button>`;
}

function LiveIndicator() {
  const state = useConnectionState();
  const text = { live: "Live", connecting: "Connecting…", reconnecting: "Reconnecting…" }[state];
  return html`<span class=${`live live-${state}`} role="status" aria-live="polite"
    title=${state === "live" ? "Updates arrive as they happen" : "Waiting for the dev server"}>
    <span class="dot" aria-hidden="true"></span>${text}</span>`;
}

/** The sidebar: each section lists its items (a section with none says so). */
function Sidebar({ project, current, open, onNavigate }) {
  const sections = sidebarSections(project);
  const here = (href) => current === href || current.startsWith(`${href}/`);
  return html`<nav id="sidebar" class=${`sidebar${open ? " open" : ""}`} aria-label="Local data">
    ${sections.map((section) => html`<section class="nav-section" key=${section.id}
      aria-labelledby=${`nav-${section.id}`}>
      <h2 class="nav-title" id=${`nav-${section.id}`}><${Icon} name=${section.icon} />${section.title}</h2>
      ${section.items === null ? html`<p class="nav-empty">Loading…</p>`
        : section.items.length === 0
        ? html`<p class="nav-empty">${section.empty}</p>`
        : html`<ul>${section.items.map((item) => html`<li key=${item.href}>
            <${Link} href=${item.href} class=${here(item.href) ? "active" : ""}
              aria-current=${current === item.href ? "page" : undefined} onClick=${onNavigate}>
              <span class="nav-label">${item.label}</span>
              ${item.hint && html`<span class="nav-hint">${item.hint}</span>`}
            </${Link}></li>`)}</ul>`}
    </section>`)}
    <${Engines} engines=${project.engines} />
    <p class="nav-footer">pyflow Local Explorer · <kbd>?</kbd> shortcuts</p>
  </nav>`;
}

function sidebarSections(project) {
  const list = (items, make) => (items === null ? null : items.map(make));
  const crons = project.crons;
  return [
    { id: "d1", title: "D1 Databases", icon: "database", empty: "No [[d1_databases]] in the config",
      items: list(project.d1, (d) => ({ label: d.database_name, hint: d.binding, href: paths.d1(d.uuid) })) },
    { id: "kv", title: "KV Namespaces", icon: "key", empty: "No [[kv_namespaces]] in the config",
      items: list(project.kv, (n) => ({ label: n.title, hint: n.id, href: paths.kv(n.id) })) },
    { id: "r2", title: "R2 Buckets", icon: "bucket", empty: "No [[r2_buckets]] in the config",
      items: list(project.r2, (b) => ({ label: b.name, hint: b.binding, href: paths.r2(b.name) })) },
    { id: "workflows", title: "Workflows", icon: "flow", empty: "No workflows in the config",
      items: list(project.workflows, (w) => ({ label: w.name, hint: w.class_name, href: paths.workflow(w.name) })) },
    { id: "crons", title: "Cron Triggers", icon: "clock", empty: "No crons in the config",
      items: crons === null ? null : crons.length === 0 ? [] : [{ label: "Configured crons",
        hint: `${crons.length} trigger${crons.length === 1 ? "" : "s"}`, href: paths.crons() }] },
  ];
}

/** The engines connected to the store (this server's and any other process's), live. */
function Engines({ engines }) {
  const now = useNow(1000);
  return html`<section class="nav-section" aria-labelledby="nav-engines">
    <h2 class="nav-title" id="nav-engines"><${Icon} name="server" />Engines</h2>
    ${engines === null ? html`<p class="nav-empty">Loading…</p>`
      : engines.length === 0 ? html`<p class="nav-empty">No engine is running</p>`
      : html`<ul class="engines">${engines.map((engine) => {
        const age = now - Date.parse(engine.heartbeat);
        const state = !engine.alive ? "gone" : age > 30_000 ? "stale" : "live";
        return html`<li key=${engine.id} class=${`engine engine-${state}`} data-engine=${engine.id}
          title=${engine.id}>
          <span class="nav-label"><span class="dot" aria-hidden="true"></span>${engine.host} · pid ${engine.pid}
            ${engine.current && html`<span class="muted"> (this server)</span>`}</span>
          <span class="nav-hint">code <code>${(engine.version || "–").slice(0, 8)}</code> ·
            heartbeat <time datetime=${engine.heartbeat}>${relative(engine.heartbeat, now)}</time>
            ${state !== "live" && html` · ${state}`}</span>
        </li>`;
      })}</ul>`}
  </section>`;
}

const SHORTCUTS = [["/", "Search"], ["↑ ↓", "Move between rows"], ["Enter", "Open the row"],
  ["x", "Select the row"], ["Esc", "Close a dialog or menu"], ["?", "This list"]];

export function Layout({ project, current, crumbs, children }) {
  const [menuOpen, setMenuOpen] = useState(false);
  const [help, setHelp] = useState(false);
  useEffect(() => {
    const onKey = (event) => {
      const typing = event.target.closest?.("input, textarea, select, [contenteditable]");
      if (typing || event.metaKey || event.ctrlKey || event.altKey) return;
      if (event.key === "/") {
        const search = document.querySelector("[data-search]");
        if (search) {
          event.preventDefault();
          search.focus();
        }
      } else if (event.key === "?") {
        setHelp(true);
      }
    };
    addEventListener("keydown", onKey);
    return () => removeEventListener("keydown", onKey);
  }, []);
  return html`<div class="shell">
    <a class="skip" href="#main">Skip to content</a>
    <header class="topbar">
      <button type="button" class="icon-button menu-toggle" aria-label="Show navigation"
        aria-expanded=${menuOpen ? "true" : "false"} aria-controls="sidebar"
        onClick=${() => setMenuOpen(!menuOpen)}><${Icon} name="menu" /></button>
      <${Link} href=${paths.home()} class="brand" aria-label="Local Explorer home">
        <img src="/cdn-cgi/local/explorer/static/favicon.svg" alt="" width="22" height="22" />
        <span>Local Explorer</span>
      </${Link}>
      <nav class="crumbs" aria-label="Breadcrumb"><ol>
        ${crumbs.map((crumb, i) => html`<li key=${i}>${i === crumbs.length - 1
          ? html`<span aria-current="page">${crumb.label}</span>`
          : html`<${Link} href=${crumb.href}>${crumb.label}</${Link}>`}</li>`)}
      </ol></nav>
      <div class="topbar-end"><${LiveIndicator} /><${ThemeButton} /></div>
    </header>
    <${Sidebar} project=${project} current=${current} open=${menuOpen}
      onNavigate=${() => setMenuOpen(false)} />
    <main id="main" class="main" tabindex="-1">${children}</main>
    <${Notices} />
    <${Dialog} open=${help} title="Keyboard shortcuts" onClose=${() => setHelp(false)}
      footer=${html`<button type="button" class="button" onClick=${() => setHelp(false)}>Close</button>`}>
      <dl class="shortcuts">${SHORTCUTS.map(([key, what]) => html`<div key=${key}>
        <dt><kbd>${key}</kbd></dt><dd>${what}</dd></div>`)}</dl>
    </${Dialog}>
  </div>`;
}
