// The dialogs that change things: create an instance, send an event, confirm a deletion.
import { html, useEffect, useId, useState } from "../lib/html.js";
import { api } from "../lib/api.js";
import { parseJson } from "../lib/json.js";
import { Dialog, ErrorBox } from "./ui.js";

const ID_PATTERN = /^[a-zA-Z0-9_][a-zA-Z0-9\-_]*$/;
const MAX_ID = 100;

/** "" when `id` may be used, else why not (the API's rules; it checks again). */
export function idProblem(id) {
  if (!id) return "";
  if (id.length > MAX_ID) return `An id has at most ${MAX_ID} characters (this one has ${id.length}).`;
  if (!ID_PATTERN.test(id)) return "Use letters, digits, - and _ only, not starting with -.";
  return "";
}

/** A JSON textarea that says, as you type, whether (and where) the JSON is wrong. */
export function JsonField({ label, value, onInput, placeholder, hint, rows = 6 }) {
  const id = useId();
  const parsed = parseJson(value);
  const describedBy = `${id}-hint ${id}-error`;
  return html`<div class="field">
    <label for=${id}>${label}</label>
    <textarea id=${id} rows=${rows} spellcheck=${false} class="code" placeholder=${placeholder}
      value=${value} onInput=${(e) => onInput(e.currentTarget.value)}
      aria-invalid=${parsed.ok ? "false" : "true"} aria-describedby=${describedBy}></textarea>
    <p id=${`${id}-hint`} class="hint">${hint}</p>
    <p id=${`${id}-error`} class="field-error" aria-live="polite">${parsed.ok ? "" : `Invalid JSON. ${parsed.message}`}</p>
  </div>`;
}

export function CreateDialog({ workflow, open, onClose, onCreated }) {
  const [id, setId] = useState("");
  const [params, setParams] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setId("");
      setParams("");
      setError(null);
    }
  }, [open]);
  const idError = idProblem(id.trim());
  const parsed = parseJson(params);
  const invalid = !!idError || !parsed.ok;
  const inputId = useId();
  const submit = async () => {
    if (invalid || busy) return;
    setBusy(true);
    setError(null);
    try {
      const body = {};
      if (id.trim()) body.id = id.trim();
      if (!parsed.empty) body.params = parsed.value;
      const created = await api.create(workflow, body);
      onCreated(created.result.id);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} open=${open} title="Create an instance" onClose=${onClose}
    footer=${html`<button type="button" class="button" onClick=${onClose}>Cancel</button>
      <button type="submit" class="button primary" disabled=${invalid || busy} onClick=${submit}>
        ${busy ? "Creating…" : "Create instance"}</button>`}>
    <p class="muted">Start an instance of <strong>${workflow}</strong> with the params below.</p>
    <div class="field">
      <label for=${inputId}>Instance ID <span class="muted">(optional)</span></label>
      <input id=${inputId} type="text" placeholder="Auto-generated UUID if empty" value=${id}
        autocomplete="off" spellcheck=${false} onInput=${(e) => setId(e.currentTarget.value)}
        aria-invalid=${idError ? "true" : "false"} aria-describedby=${`${inputId}-error`} />
      <p id=${`${inputId}-error`} class="field-error" aria-live="polite">${idError}</p>
    </div>
    <${JsonField} label="Params" value=${params} onInput=${setParams} placeholder='{"key": "value"}'
      hint="JSON passed to run() as event.payload; empty means {}." />
    <${ErrorBox} error=${error} />
  </${Dialog}>`;
}

export function SendEventDialog({ workflow, id, open, onClose, onSent }) {
  const [type, setType] = useState("");
  const [payload, setPayload] = useState("");
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  useEffect(() => {
    if (open) {
      setPayload("");
      setError(null);
    }
  }, [open]);
  const typeId = useId();
  const parsed = parseJson(payload);
  const invalid = !type.trim() || !parsed.ok;
  const submit = async () => {
    if (invalid || busy) return;
    setBusy(true);
    setError(null);
    try {
      await api.sendEvent(workflow, id, type.trim(), parsed.empty ? undefined : parsed.value);
      onSent(type.trim());
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} open=${open} title="Send an event" onClose=${onClose}
    footer=${html`<button type="button" class="button" onClick=${onClose}>Cancel</button>
      <button type="submit" class="button primary" disabled=${invalid || busy} onClick=${submit}>
        ${busy ? "Sending…" : "Send event"}</button>`}>
    <p class="muted">To instance <code>${id}</code>: a <code>step.wait_for_event</code> waiting for this
      type receives it.</p>
    <${EventFields} typeId=${typeId} type=${type} setType=${setType} payload=${payload}
      setPayload=${setPayload} />
    <${ErrorBox} error=${error} />
  </${Dialog}>`;
}

export function EventFields({ typeId, type, setType, payload, setPayload }) {
  return html`<div class="field">
      <label for=${typeId}>Event type</label>
      <input id=${typeId} type="text" required value=${type} autocomplete="off" spellcheck=${false}
        placeholder="e.g. approval" onInput=${(e) => setType(e.currentTarget.value)} />
    </div>
    <${JsonField} label="Payload" value=${payload} onInput=${setPayload} rows="4"
      placeholder='{"approved": true}' hint="JSON; empty sends no payload." />`;
}

/** "Are you sure?" with the consequence spelled out; `action` runs on confirmation. */
export function ConfirmDialog({ open, title, message, confirm, onClose, action }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState(null);
  useEffect(() => {
    if (open) setError(null);
  }, [open]);
  const run = async () => {
    setBusy(true);
    try {
      await action();
      onClose();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return html`<${Dialog} open=${open} title=${title} onClose=${onClose}
    footer=${html`<button type="button" class="button" onClick=${onClose}>Cancel</button>
      <button type="submit" class="button danger-fill" disabled=${busy} onClick=${run}>
        ${busy ? "Working…" : confirm}</button>`}>
    <p>${message}</p>
    <${ErrorBox} error=${error} />
  </${Dialog}>`;
}
