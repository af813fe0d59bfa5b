// Pieces the KV and R2 pages share: a prefix search box, and cursor paging (KV and R2 list a page
// at a time and hand back a cursor for the next; going back uses the cursors already seen).
import { html, useEffect, useId, useState } from "../lib/html.js";
import { Icon } from "../components/icons.js";

const SEARCH_DELAY_MS = 250;

export function PrefixSearch({ label, value, onChange, placeholder = "Starts with…  ( / )" }) {
  const [text, setText] = useState(value);
  const id = useId();
  useEffect(() => setText(value), [value]);
  useEffect(() => {
    if (text === value) return undefined;
    const timer = setTimeout(() => onChange(text), SEARCH_DELAY_MS);
    return () => clearTimeout(timer);
  }, [text]);
  return html`<div class="filters" role="search" aria-label=${`Filter by ${label.toLowerCase()}`}>
    <div class="filter search">
      <label for=${id}>${label}</label>
      <div class="search-box"><${Icon} name="search" />
        <input id=${id} type="search" data-search value=${text} autocomplete="off" spellcheck=${false}
          placeholder=${placeholder} onInput=${(e) => setText(e.currentTarget.value)}
          onKeyDown=${(e) => { if (e.key === "Enter") onChange(text); if (e.key === "Escape") { setText(""); onChange(""); } }} />
      </div>
    </div>
  </div>`;
}

/** The cursors of the pages seen so far for one listing (`scope`: a new one starts over). */
export function useCursorPages(scope) {
  const [seen, setSeen] = useState({ scope, cursors: [""] });
  const cursors = seen.scope === scope ? seen.cursors : [""];
  const setCursors = (next) => setSeen({ scope, cursors: next });
  return {
    index: cursors.length - 1,
    cursor: cursors[cursors.length - 1],
    next: (cursor) => setCursors([...cursors, cursor]),
    back: () => setCursors(cursors.slice(0, -1)),
    first: () => setCursors([""]),
  };
}

export function CursorPager({ pages, next, shown, noun }) {
  if (pages.index === 0 && !next) return null;
  return html`<nav class="pager" aria-label=${`Pages of ${noun}`}>
    <span class="pager-info">Page ${pages.index + 1} · ${shown} ${noun}</span>
    <span class="pager-buttons">
      <button type="button" class="icon-button" aria-label="First page" disabled=${pages.index === 0} onClick=${pages.first}>«</button>
      <button type="button" class="icon-button" aria-label="Previous page" disabled=${pages.index === 0} onClick=${pages.back}>‹</button>
      <button type="button" class="icon-button" aria-label="Next page" disabled=${!next} onClick=${() => pages.next(next)}>›</button>
    </span>
  </nav>`;
}
