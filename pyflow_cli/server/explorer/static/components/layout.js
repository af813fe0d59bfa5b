// The frame around every page: a sidebar of sections (Workflows now; more kinds of local data
// can be added as sections), a top bar with breadcrumbs, the live indicator and the theme.
import { html, useEffect, useState } from "../lib/html.js";
import { Link, paths } from "../lib/router.js";
import { useConnectionState } from "../lib/live.js";
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
function Sidebar({ sections, current, open, onNavigate }) {
  return html`<nav id="sidebar" class=${`sidebar${open ? " open" : ""}`} aria-label="Local data">
    ${sections.map((section) => html`<section class="nav-section" key=${section.id}>
      <h2 class="nav-title"><${Icon} name=${section.icon} />${section.title}</h2>
      ${section.items.length === 0
        ? html`<p class="nav-empty">${section.empty}</p>`
        : html`<ul>${section.items.map((item) => html`<li key=${item.href}>
            <${Link} href=${item.href} class=${current.startsWith(item.href) ? "active" : ""}
              aria-current=${current === item.href ? "page" : undefined} onClick=${onNavigate}>
              <span class="nav-label">${item.label}</span>
              ${item.hint && html`<span class="nav-hint">${item.hint}</span>`}
            </${Link}></li>`)}</ul>`}
    </section>`)}
    <p class="nav-footer">pyflow Local Explorer · <kbd>?</kbd> shortcuts</p>
  </nav>`;
}

const SHORTCUTS = [["/", "Search"], ["↑ ↓", "Move between rows"], ["Enter", "Open the row"],
  ["x", "Select the row"], ["Esc", "Close a dialog or menu"], ["?", "This list"]];

export function Layout({ workflows, current, crumbs, children }) {
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
  const sections = [{
    id: "workflows", title: "Workflows", icon: "flow", empty: "No workflows in the config",
    items: (workflows || []).map((w) => ({ label: w.name, hint: w.class_name, href: paths.workflow(w.name) })),
  }];
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
    <${Sidebar} sections=${sections} current=${current} open=${menuOpen}
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
