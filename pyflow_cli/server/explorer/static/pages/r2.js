// An R2 bucket: its objects by folder (a prefix and "/" as delimiter, as R2 lists them), a page
// at a time; an object's size, etag, upload time and metadata, a preview, download, upload and
// delete. Reads and writes go through the same binding the Worker uses.
import { html, useEffect, useId, useState } from "../lib/html.js";
import { api, objectUrl } from "../lib/api.js";
import { useLive, useReload, useSessionEvents } from "../lib/live.js";
import { navigate, paths } from "../lib/router.js";
import { PREVIEW_BYTES, fileBase64, size } from "../lib/bytes.js";
import { relative, timestamp } from "../lib/format.js";
import { Icon } from "../components/icons.js";
import { Dialog, ErrorBox, JsonBlock, Spinner, notify } from "../components/ui.js";
import { ConfirmDialog } from "../components/dialogs.js";
import { ValuePreview } from "../components/preview.js";
import { CursorPager, useCursorPages } from "./storage.js";

const PAGE_SIZE = 100;

export function R2Page({ name: bucket, project, query }) {
  const info = project.r2?.find((b) => b.name === bucket);
  const prefix = query.get("prefix") || "";
  const selected = query.get("object");
  const go = (changes) => {
    const next = new URLSearchParams();
    const merged = { prefix, object: selected, ...changes };
    for (const [name, value] of Object.entries(merged)) if (value) next.set(name, value);
    navigate(paths.r2(bucket, next.toString()), { replace: true });
  };
  const pages = useCursorPages(prefix);
  const [listing, setListing] = useState(null);
  const [error, setError] = useState(null);
  const [version, setVersion] = useState(0);
  const [uploading, setUploading] = useState(false);
  const reload = useReload(async () => {
    try {
      const found = await api.r2Objects(bucket, { prefix, delimiter: "/", cursor: pages.cursor, per_page: PAGE_SIZE });
      setListing({ objects: found.result, folders: found.result_info.delimited || [], next: found.result_info.cursor });
      setError(null);
    } catch (failure) {
      setError(failure);
    }
  }, [bucket, prefix, pages.cursor]);
  useLive({ session: true }, (message) => { if (message.type === "hello") reload(); });
  useSessionEvents((message) => {
    if (message.type === "binding" && message.kind === "r2" && message.name === bucket) {
      reload();
      setVersion((v) => v + 1);
    }
  });
  const folders = prefix.split("/").slice(0, -1);
  const objects = listing?.objects || [];
  const subfolders = listing?.folders || [];
  return html`<section class="page">
    <header class="page-header">
      <div class="title-row">
        <h1>${bucket}</h1>
        <div class="header-actions"><button type="button" class="button primary" onClick=${() => setUploading(true)}>
          <${Icon} name="upload" /><span>Upload</span></button></div>
      </div>
      <p class="muted">R2 bucket${info && html` · <code>env.${info.binding}</code> · stored in <code>${info.file}</code>`}</p>
    </header>
    <nav class="path-crumbs" aria-label="Folder">
      <button type="button" class="link-button" onClick=${() => go({ prefix: "", object: "" })}>${bucket}</button>
      ${folders.map((folder, i) => html`<span key=${i}><span class="muted" aria-hidden="true"> / </span>
        <button type="button" class="link-button" onClick=${() => go({ prefix: `${folders.slice(0, i + 1).join("/")}/`, object: "" })}>
          ${folder}</button></span>`)}
    </nav>
    <${ErrorBox} error=${error} />
    <div class="split">
      <div class="split-list">
        ${listing === null ? html`<${Spinner} label="Loading objects" />`
          : objects.length + subfolders.length === 0 ? html`<p class="empty">${prefix ? "This folder is empty." : "No objects yet. Upload one, or put one from your Worker."}</p>`
          : html`<div class="table-wrap"><table class="store-table" aria-label=${`Objects in ${bucket}/${prefix}`}>
            <thead><tr><th scope="col">Name</th><th scope="col" class="num">Size</th><th scope="col">Uploaded</th></tr></thead>
            <tbody>
              ${subfolders.map((folder) => html`<tr key=${folder} data-folder=${folder}>
                <td class="col-key"><button type="button" class="link-button with-icon" onClick=${() => go({ prefix: folder, object: "" })}>
                  <${Icon} name="folder" /><span>${folder.slice(prefix.length)}</span></button></td><td></td><td></td></tr>`)}
              ${objects.map((object) => html`<tr key=${object.key} data-key=${object.key} class=${object.key === selected ? "selected" : ""}>
                <td class="col-key"><button type="button" class="link-button with-icon" aria-pressed=${object.key === selected ? "true" : "false"}
                  onClick=${() => go({ object: object.key })}><${Icon} name="file" /><span>${object.key.slice(prefix.length)}</span></button></td>
                <td class="num nowrap">${size(object.size)}</td>
                <td class="nowrap muted"><time datetime=${object.last_modified} title=${timestamp(object.last_modified)}>
                  ${relative(object.last_modified)}</time></td>
              </tr>`)}
            </tbody>
          </table></div>`}
        <${CursorPager} pages=${pages} next=${listing?.next} shown=${objects.length + subfolders.length} noun="objects" />
      </div>
      ${selected && html`<${ObjectDetails} key=${`${selected}\n${version}`} bucket=${bucket} objectKey=${selected}
        onClose=${() => go({ object: "" })} onDeleted=${() => { go({ object: "" }); reload(); }} />`}
    </div>
    ${uploading && html`<${UploadDialog} bucket=${bucket} prefix=${prefix} onClose=${() => setUploading(false)}
      onUploaded=${(key) => { setUploading(false); notify(`Uploaded ${key}`); go({ object: key }); reload(); }} />`}
  </section>`;
}

function ObjectDetails({ bucket, objectKey, onClose, onDeleted }) {
  const [object, setObject] = useState(null);
  const [body, setBody] = useState(null);
  const [error, setError] = useState(null);
  const [confirm, setConfirm] = useState(false);
  useEffect(() => {
    api.r2Head(bucket, objectKey).then((found) => {
      setObject(found.result);
      if (found.result.size <= PREVIEW_BYTES) api.r2Object(bucket, objectKey).then((raw) => setBody(raw.bytes), () => {});
    }, setError);
  }, [bucket, objectKey]);
  if (error) {
    return html`<aside class="card detail-panel"><div class="card-body">
      <p class="error-text">${error.status === 404 ? `Object "${objectKey}" does not exist (any more).` : error.message}</p>
      <button type="button" class="button" onClick=${onClose}>Close</button></div></aside>`;
  }
  if (!object) return html`<aside class="card detail-panel"><${Spinner} label="Loading the object" /></aside>`;
  return html`<aside class="card detail-panel" aria-label=${`Object ${objectKey}`}>
    <header class="card-header"><h2 class="detail-title">${objectKey}</h2>
      <button type="button" class="icon-button" aria-label="Close the object" title="Close" onClick=${onClose}><${Icon} name="close" /></button>
    </header>
    <div class="card-body stack">
      <dl class="facts">
        <div><dt>Size</dt><dd>${size(object.size)}</dd></div>
        <div><dt>Uploaded</dt><dd><time datetime=${object.last_modified} title=${timestamp(object.last_modified)}>${relative(object.last_modified)}</time></dd></div>
        <div><dt>ETag</dt><dd><code>${object.etag}</code></dd></div>
        <div><dt>Content type</dt><dd>${object.http_metadata.contentType || "–"}</dd></div>
      </dl>
      ${body ? html`<${ValuePreview} bytes=${body} label="Content" />`
        : object.size > PREVIEW_BYTES ? html`<p class="muted">Too large to preview here: download it.</p>` : null}
      <h3>HTTP metadata</h3>
      <${JsonBlock} label="HTTP metadata" value=${object.http_metadata} />
      <h3>Custom metadata</h3>
      <${JsonBlock} label="Custom metadata" value=${object.custom_metadata} />
      <div class="actions">
        <a class="button" href=${objectUrl(bucket, objectKey)} download=${objectKey.split("/").pop()}>
          <${Icon} name="download" /><span>Download</span></a>
        <button type="button" class="button danger" onClick=${() => setConfirm(true)}><${Icon} name="trash" /><span>Delete</span></button>
      </div>
    </div>
    <${ConfirmDialog} open=${confirm} title="Delete this object?" confirm="Delete object"
      message=${`The object "${objectKey}" will be deleted from ${bucket}. Your Worker will no longer find it.`}
      onClose=${() => setConfirm(false)}
      action=${async () => { await api.r2Delete(bucket, objectKey); notify(`Deleted ${objectKey}`); onDeleted(); }} />
  </aside>`;
}

function UploadDialog({ bucket, prefix, onClose, onUploaded }) {
  const [file, setFile] = useState(null);
  const [key, setKey] = useState(prefix);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const id = useId();
  const submit = async () => {
    if (!file || !key || busy) return;
    setBusy(true);
    try {
      await api.r2Upload(bucket, { key, value: await fileBase64(file),
        http_metadata: file.type ? { contentType: file.type } : {} });
      onUploaded(key);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} open title="Upload an object" onClose=${onClose}
    footer=${html`<button type="button" class="button" onClick=${onClose}>Cancel</button>
      <button type="submit" class="button primary" disabled=${!file || !key || busy} onClick=${submit}>
        ${busy ? "Uploading…" : "Upload"}</button>`}>
    <div class="field">
      <label for=${`${id}-file`}>File</label>
      <input id=${`${id}-file`} type="file" onChange=${(e) => {
        const chosen = e.currentTarget.files[0] || null;
        setFile(chosen);
        if (chosen && (!key || key === prefix || key.endsWith("/"))) setKey(prefix + chosen.name);
      }} />
    </div>
    <div class="field">
      <label for=${`${id}-key`}>Key</label>
      <input id=${`${id}-key`} type="text" value=${key} autocomplete="off" spellcheck=${false}
        onInput=${(e) => setKey(e.currentTarget.value)} />
      <p class="hint">Slashes make folders: <code>reports/2026/june.csv</code>.</p>
    </div>
    <${ErrorBox} error=${error} />
  </${Dialog}>`;
}
