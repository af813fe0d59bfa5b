// A KV namespace: its keys by prefix, a page at a time (cursor paging, as KV lists them); a key's
// value (text, JSON pretty-printed, or hex), metadata and expiration; put, edit and delete.
// Everything it shows is read through the same binding the Worker uses; a write by the Worker
// shows up here as it happens.
import { html, useEffect, useId, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { useLive, useReload, useSessionEvents } from "../lib/live.js";
import { navigate, paths } from "../lib/router.js";
import { describeBytes } from "../lib/bytes.js";
import { parseJson } from "../lib/json.js";
import { relative, short, timestamp } from "../lib/format.js";
import { Icon } from "../components/icons.js";
import { Dialog, ErrorBox, JsonBlock, Spinner, notify } from "../components/ui.js";
import { ConfirmDialog, JsonField } from "../components/dialogs.js";
import { ValuePreview } from "../components/preview.js";
import { PrefixSearch, CursorPager, useCursorPages } from "./storage.js";

const PAGE_SIZE = 50;

export function KvPage({ name: namespace, project, query }) {
  const info = project.kv?.find((n) => n.id === namespace);
  const prefix = query.get("prefix") || "";
  const selected = query.get("key");
  const go = (changes) => {
    const next = new URLSearchParams({ prefix, ...(selected ? { key: selected } : {}) });
    for (const [name, value] of Object.entries(changes)) {
      if (value) next.set(name, value);
      else next.delete(name);
    }
    if (!next.get("prefix")) next.delete("prefix");
    navigate(paths.kv(namespace, next.toString()), { replace: true });
  };
  const pages = useCursorPages(prefix);
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const [dialog, setDialog] = useState(null);
  const reload = useReload(async () => {
    try {
      const found = await api.kvKeys(namespace, { prefix, cursor: pages.cursor, limit: PAGE_SIZE });
      setListing({ keys: found.result, next: found.result_info.cursor });
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [namespace, prefix, pages.cursor]);
  useLive({ session: true }, (message) => { if (message.type === "hello") reload(); });
  useSessionEvents((message) => {
    if (message.type === "binding" && message.kind === "kv" && message.name === namespace) {
      reload();
      setVersion((v) => v + 1);
    }
  });
  const keys = listing?.keys || [];
  const row = keys.find((k) => k.name === selected);
  return html`<section class="page">
    <header class="page-header">
      <div class="title-row">
        <h1>${info?.title || namespace}</h1>
        <div class="header-actions"><button type="button" class="button primary" onClick=${() => setDialog({})}>
          <${Icon} name="plus" /><span>Put key</span></button></div>
      </div>
      <p class="muted">KV namespace <code>${namespace}</code>${info && html` · <code>env.${info.binding}</code> · stored in${" "}
        <code>${info.file}</code>`}</p>
    </header>
    <${PrefixSearch} label="Key prefix" value=${prefix} onChange=${(value) => go({ prefix: value, key: "" })} />
    <${ErrorBox} error=${error} />
    <div class="split">
      <div class="split-list">
        ${listing === null ? html`<${Spinner} label="Loading keys" />`
          : keys.length === 0 ? html`<p class="empty">${prefix ? `No key starts with "${prefix}".` : "No keys yet. Put one, or write one from your Worker."}</p>`
          : html`<div class="table-wrap"><table class="store-table" aria-label=${`Keys of ${info?.title || namespace}`}>
            <thead><tr><th scope="col">Key</th><th scope="col">Expires</th><th scope="col">Metadata</th></tr></thead>
            <tbody>${keys.map((key) => html`<tr key=${key.name} data-key=${key.name}
                class=${key.name === selected ? "selected" : ""}>
              <td class="col-key"><button type="button" class="link-button" aria-pressed=${key.name === selected ? "true" : "false"}
                onClick=${() => go({ key: key.name })}>${key.name}</button></td>
              <td class="nowrap muted">${key.expiration ? relative(new Date(key.expiration * 1000).toISOString()) : "never"}</td>
              <td class="muted"><code>${key.metadata === undefined ? "" : short(key.metadata, 60)}</code></td>
            </tr>`)}</tbody>
          </table></div>`}
        <${CursorPager} pages=${pages} next=${listing?.next} shown=${keys.length} noun="keys" />
      </div>
      ${selected && html`<${KeyDetails} key=${`${selected}\n${version}`} namespace=${namespace} name=${selected} row=${row}
        onEdit=${(current) => setDialog(current)} onClose=${() => go({ key: "" })}
        onDeleted=${() => { go({ key: "" }); reload(); }} />`}
    </div>
    ${dialog && html`<${PutDialog} namespace=${namespace} initial=${dialog} onClose=${() => setDialog(null)}
      onSaved=${(key) => { setDialog(null); notify(`Saved ${key}`); go({ key }); reload(); setVersion((v) => v + 1); }} />`}
  </section>`;
}

function KeyDetails({ namespace, name, row, onEdit, onClose, onDeleted }) {
  const [value, setValue] = useState(null);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(false);
  useEffect(() => {
    api.kvValue(namespace, name).then(setValue, setError);
  }, [namespace, name]);
  if (error) {
    return html`<aside class="card detail-panel" aria-label=${`Key ${name}`}><div class="card-body">
      <p class="error-text">${error.status === 404 ? `Key "${name}" does not exist (any more).` : error.message}</p>
      <button type="button" class="button" onClick=${onClose}>Close</button></div></aside>`;
  }
  if (!value) return html`<aside class="card detail-panel"><${Spinner} label="Loading the value" /></aside>`;
  const meta = value.headers.get("x-pyflow-kv-metadata");
  const metadata = meta === null ? undefined : JSON.parse(decodeURIComponent(meta));
  const expires = value.headers.get("expiration");
  const expiresIso = expires ? new Date(Number(expires) * 1000).toISOString() : null;
  const described = describeBytes(value.bytes);
  return html`<aside class="card detail-panel" aria-label=${`Key ${name}`}>
    <header class="card-header"><h2 class="detail-title">${name}</h2>
      <button type="button" class="icon-button" aria-label="Close the key" title="Close" onClick=${onClose}><${Icon} name="close" /></button>
    </header>
    <div class="card-body stack">
      <dl class="facts">
        <div><dt>Expires</dt><dd>${expiresIso ? html`<time datetime=${expiresIso} title=${timestamp(expiresIso)}>${relative(expiresIso)}</time>` : "Never"}</dd></div>
        <div><dt>Size</dt><dd>${value.bytes.length.toLocaleString("en-US")} bytes</dd></div>
      </dl>
      <${ValuePreview} bytes=${value.bytes} label="Value" />
      <h3>Metadata</h3>
      <${JsonBlock} label="Metadata" value=${metadata} empty="No metadata" />
      <div class="actions">
        <button type="button" class="button" disabled=${described.kind === "binary"}
          title=${described.kind === "binary" ? "A binary value cannot be edited as text" : "Edit this value"}
          onClick=${() => onEdit({ key: name, value: new TextDecoder().decode(value.bytes), metadata, editing: true, row })}>
          <${Icon} name="edit" /><span>Edit</span></button>
        <button type="button" class="button danger" onClick=${() => setConfirm(true)}><${Icon} name="trash" /><span>Delete</span></button>
      </div>
    </div>
    <${ConfirmDialog} open=${confirm} title="Delete this key?" confirm="Delete key"
      message=${`The key "${name}" and its value will be deleted from the namespace. Your Worker will no longer find it.`}
      onClose=${() => setConfirm(false)}
      action=${async () => { await api.kvDelete(namespace, name); notify(`Deleted ${name}`); onDeleted(); }} />
  </aside>`;
}

function PutDialog({ namespace, initial, onClose, onSaved }) {
  const [key, setKey] = useState(initial.key || "");
  const [value, setValue] = useState(initial.value || "");
  const [metadata, setMetadata] = useState(initial.metadata === undefined ? "" : JSON.stringify(initial.metadata, null, 2));
  const [ttl, setTtl] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const parsed = parseJson(metadata);
  const ttlProblem = ttl && !(/^\d+$/.test(ttl) && Number(ttl) >= 60) ? "At least 60 seconds." : "";
  const invalid = !key || !parsed.ok || !!ttlProblem;
  const submit = async () => {
    if (invalid || busy) return;
    setBusy(true);
    try {
      const entry = { key, value };
      if (!parsed.empty) entry.metadata = parsed.value;
      if (ttl) entry.expiration_ttl = Number(ttl);
      await api.kvWrite(namespace, [entry]);
      onSaved(key);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const title = initial.editing ? "Edit a key" : "Put a key";
  return html`<${Dialog} open title=${title} onClose=${onClose}
    footer=${html`<button type="button" class="button" onClick=${onClose}>Cancel</button>
      <button type="submit" class="button primary" disabled=${invalid || busy} onClick=${submit}>
        ${busy ? "Saving…" : "Save"}</button>`}>
    <div class="field">
      <label for=${`${id}-key`}>Key</label>
      <input id=${`${id}-key`} type="text" value=${key} readOnly=${!!initial.editing} autocomplete="off"
        spellcheck=${false} onInput=${(e) => setKey(e.currentTarget.value)} />
    </div>
    <div class="field">
      <label for=${`${id}-value`}>Value</label>
      <textarea id=${`${id}-value`} rows="6" class="code" spellcheck=${false} value=${value}
        onInput=${(e) => setValue(e.currentTarget.value)}></textarea>
    </div>
    <${JsonField} label="Metadata" value=${metadata} onInput=${setMetadata} rows="3" placeholder='{"owner": "me"}'
      hint="Optional JSON stored with the key (at most 1024 bytes)." />
    <div class="field">
      <label for=${`${id}-ttl`}>Expires after (seconds)</label>
      <input id=${`${id}-ttl`} type="text" inputmode="numeric" value=${ttl} placeholder="Never"
        aria-invalid=${ttlProblem ? "true" : "false"} onInput=${(e) => setTtl(e.currentTarget.value.trim())} />
      <p class="field-error" aria-live="polite">${ttlProblem}</p>
    </div>
    <${ErrorBox} error=${error} />
  </${Dialog}>`;
}
