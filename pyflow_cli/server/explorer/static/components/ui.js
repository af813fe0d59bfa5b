// Small building blocks: buttons, badges, JSON blocks, dialogs, menus, notices.
import { html, useEffect, useRef, useState } from "../lib/html.js";
import { LABELS } from "../lib/statuses.js";
import { pretty } from "../lib/format.js";
import { Icon } from "./icons.js";

export function StatusBadge({ status }) {
  return html`<span class=${`badge status-${status || "unknown"}`}>${LABELS[status] || status || "Unknown"}</span>`;
}

/** A button showing only an icon; `label` is its accessible name and its tooltip. */
export function IconButton({ icon, label, onClick, danger = false, disabled = false, class: extra = "", ...rest }) {
  return html`<button type="button" class=${`icon-button${danger ? " danger" : ""} ${extra}`} aria-label=${label}
    title=${label} onClick=${onClick} disabled=${disabled} ...${rest}><${Icon} name=${icon} /></button>`;
}

export function CopyButton({ text, label = "Copy" }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      const area = document.createElement("textarea");  // clipboard API needs a secure context
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setCopied(true);
    setTimeout(() => setCopied(false), 1200);
  };
  return html`<button type="button" class="icon-button copy" aria-label=${copied ? "Copied" : label}
    title=${copied ? "Copied" : label} onClick=${copy}><${Icon} name="copy" /></button>`;
}

/** A value as JSON text in a <pre>, with a copy button. Always text, never markup. */
export function JsonBlock({ value, label, empty = "null" }) {
  const text = value === undefined || value === null ? empty : pretty(value);
  return html`<div class="json-block">
    <pre tabindex="0" aria-label=${label}>${text}</pre>
    <${CopyButton} text=${text} label=${`Copy ${label.toLowerCase()}`} />
  </div>`;
}

export function Card({ title, children, actions }) {
  return html`<section class="card">
    <header class="card-header"><h3>${title}</h3>${actions}</header>
    <div class="card-body">${children}</div>
  </section>`;
}

/** A modal <dialog>: focus stays inside, Escape closes it (the browser does both). */
export function Dialog({ open, title, onClose, children, footer, labelledBy }) {
  const ref = useRef(null);
  useEffect(() => {
    const dialog = ref.current;
    if (!dialog) return;
    if (open && !dialog.open) dialog.showModal();
    if (!open && dialog.open) dialog.close();
  }, [open]);
  const id = labelledBy || `dialog-${title.replace(/\W+/g, "-").toLowerCase()}`;
  return html`<dialog ref=${ref} class="dialog" aria-labelledby=${id} onClose=${onClose}>
    ${open && html`<form method="dialog" class="dialog-form" onSubmit=${(e) => e.preventDefault()}>
      <header class="dialog-header">
        <h2 id=${id}>${title}</h2>
        <${IconButton} icon="close" label="Close" onClick=${onClose} />
      </header>
      <div class="dialog-body">${children}</div>
      <footer class="dialog-footer">${footer}</footer>
    </form>`}
  </dialog>`;
}

/** A menu button: arrows move between items, Escape closes, focus returns to the button. */
export function Menu({ label, items, icon = "more", text }) {
  const [open, setOpen] = useState(false);
  const button = useRef(null);
  const list = useRef(null);
  useEffect(() => {
    if (!open) return undefined;
    list.current?.querySelector("[role=menuitem]")?.focus();
    const away = (event) => {
      if (!list.current?.contains(event.target) && !button.current?.contains(event.target)) setOpen(false);
    };
    document.addEventListener("pointerdown", away);
    return () => document.removeEventListener("pointerdown", away);
  }, [open]);
  const close = () => {
    setOpen(false);
    button.current?.focus();
  };
  const onKey = (event) => {
    const entries = [...list.current.querySelectorAll("[role=menuitem]:not([disabled])")];
    const at = entries.indexOf(document.activeElement);
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      event.preventDefault();
      const step = event.key === "ArrowDown" ? 1 : -1;
      entries[(at + step + entries.length) % entries.length]?.focus();
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      entries[event.key === "Home" ? 0 : entries.length - 1]?.focus();
    } else if (event.key === "Escape" || event.key === "Tab") {
      event.preventDefault();
      event.stopPropagation();
      close();
    }
  };
  return html`<div class="menu">
    <button type="button" ref=${button} class=${text ? "button" : "icon-button"} aria-label=${label}
      title=${label} aria-haspopup="menu" aria-expanded=${open ? "true" : "false"}
      onClick=${() => setOpen(!open)}><${Icon} name=${icon} />${text && html`<span>${text}</span>`}</button>
    ${open && html`<div class="menu-list" role="menu" aria-label=${label} ref=${list} onKeyDown=${onKey}>
      ${items.map((item) => html`<button type="button" role="menuitem" tabindex="-1"
        class=${item.danger ? "danger" : ""} disabled=${item.disabled}
        onClick=${() => { setOpen(false); item.onSelect(); }}>
        ${item.icon && html`<${Icon} name=${item.icon} />`}<span>${item.label}</span></button>`)}
    </div>`}
  </div>`;
}

// -- notices ---------------------------------------------------------------------------------
const noticeListeners = new Set();
let notices = [];
let nextNotice = 1;

/** Show a short notice; `kind` "error" is announced at once to screen readers. */
export function notify(message, kind = "info") {
  const notice = { id: nextNotice++, message, kind };
  notices = [...notices, notice].slice(-4);
  noticeListeners.forEach((listener) => listener(notices));
  setTimeout(() => {
    notices = notices.filter((n) => n !== notice);
    noticeListeners.forEach((listener) => listener(notices));
  }, kind === "error" ? 8000 : 4000);
}

export function Notices() {
  const [shown, setShown] = useState(notices);
  useEffect(() => {
    noticeListeners.add(setShown);
    return () => noticeListeners.delete(setShown);
  }, []);
  return html`<div class="notices">
    <div role="status" aria-live="polite">${shown.filter((n) => n.kind !== "error").map((n) =>
      html`<p key=${n.id} class="notice">${n.message}</p>`)}</div>
    <div role="alert">${shown.filter((n) => n.kind === "error").map((n) =>
      html`<p key=${n.id} class="notice error">${n.message}</p>`)}</div>
  </div>`;
}

export function ErrorBox({ error }) {
  if (!error) return null;
  const text = error.messages?.length ? error.messages.join("; ") : String(error.message || error);
  return html`<p class="error-box" role="alert">${text}</p>`;
}

export function Spinner({ label = "Loading" }) {
  return html`<p class="loading" role="status">${label}…</p>`;
}
