"""Documents: the CLI's output as lines of styled segments, laid out without Rich.

Views build a ``Doc`` (labelled blocks as wrangler's ``formatLabelledValues`` aligns them, and
tables drawn as cli-table3 draws them, with a rule between every row); ``render`` turns one into
Rich text, or plain text when there is no terminal. Style names are Rich style strings; "" is plain.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

Seg = tuple[str, str]
"""A piece of text and its style."""
Line = list[Seg]
Doc = list[Line]

BORDER_STYLE = "dim"
HEAD_STYLE = "bold blue"
LABEL_STYLE = "bold"
MIN_COLUMN_TEXT = 3
FLEXIBLE_FLOOR = 16  # free-text columns give way first, down to this many cells of text


def plain(doc: Doc) -> str:
    """The document as text, one line per line, without styles."""
    return "\n".join("".join(text for text, _ in line) for line in doc)


def line(text: str, style: str = "") -> Line:
    """A one-segment line."""
    return [(text, style)]


# -- widths -------------------------------------------------------------------------------------------
def _char_width(char: str) -> int:
    if unicodedata.category(char) in ("Mn", "Me", "Cf") or char == "\u200d":
        return 0
    return 2 if unicodedata.east_asian_width(char) in ("W", "F") else 1


def cell_width(text: str) -> int:
    """Terminal cells ``text`` takes; a character followed by VS16 (``⏸️``) is an emoji: two."""
    width = previous = 0
    for char in text:
        if char == "\ufe0f":
            if previous == 1:
                width += 1
                previous = 2
            continue
        previous = _char_width(char)
        width += previous
    return width


def _clusters(text: str) -> list[str]:
    """Characters with their trailing zero-width marks, so a wrap never splits ``⏸️``."""
    clusters: list[str] = []
    for char in text:
        if clusters and (char == "\ufe0f" or _char_width(char) == 0):
            clusters[-1] += char
        else:
            clusters.append(char)
    return clusters


def wrap(text: str, width: int) -> list[str]:
    """``text`` broken into lines of at most ``width`` cells: at spaces, else inside words."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        current = ""
        for word in paragraph.split(" "):
            candidate = f"{current} {word}" if current else word
            if cell_width(candidate) <= width:
                current = candidate
                continue
            if current:
                lines.append(current)
            current = ""
            if cell_width(word) <= width:
                current = word
                continue
            for cluster in _clusters(word):
                if cell_width(current + cluster) > width and current:
                    lines.append(current)
                    current = ""
                current += cluster
        lines.append(current)
    return lines


# -- labelled values ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Field:
    """One ``Label:  value`` line of a labelled block."""

    label: str
    value: str
    style: str = ""


def labelled(fields: Sequence[Field], indent: int = 0, spacer: int = 2) -> Doc:
    """wrangler's ``formatLabelledValues``: values start at ``max(len(label) + 1) + spacer``;
    later lines of a multi-line value are indented to the same column."""
    if not fields:
        return []
    column = max(len(f.label) + 1 for f in fields)
    doc: Doc = []
    for field in fields:
        for number, text in enumerate(field.value.split("\n")):
            if number == 0:
                gap = " " * (column + spacer - len(field.label) - 1)
                doc.append([(" " * indent, ""), (field.label + ":", LABEL_STYLE), (gap, ""),
                            (text, field.style)])
            else:
                doc.append([(" " * (column + spacer + indent), ""), (text, field.style)])
    return [[] if not "".join(t for t, _ in row).strip() else row for row in doc]


# -- tables ---------------------------------------------------------------------------------------------
def _fit(widths: list[int], max_width: int | None, flexible: Sequence[int] = ()) -> list[int]:
    """Shrink columns until the table fits ``max_width`` cells (if it can): the ``flexible`` ones
    (free text, such as errors) first, then the widest."""
    widths = list(widths)
    if max_width is None:
        return widths
    while sum(widths) + len(widths) + 1 > max_width:
        candidates = [i for i in flexible if widths[i] > FLEXIBLE_FLOOR + 2] or range(len(widths))
        widest = max(candidates, key=lambda i: widths[i])
        if widths[widest] <= MIN_COLUMN_TEXT + 2:
            break
        widths[widest] -= 1
    return widths


def table(rows: Sequence[Mapping[str, str]], max_width: int | None = None,
          styles: Mapping[str, str] | None = None, flexible: Sequence[str] = ()) -> Doc:
    """cli-table3's default table: headers are the first row's keys, one space of padding, a rule
    between every row; cells wrap when the table would be wider than ``max_width``, in the
    ``flexible`` columns first."""
    if not rows:
        return []
    styles = styles or {}
    headers = list(rows[0])
    body = [[row.get(header, "") for header in headers] for row in rows]
    natural = [max(cell_width(part) for cell in [header, *(r[i] for r in body)]
                   for part in cell.split("\n")) + 2
               for i, header in enumerate(headers)]
    widths = _fit(natural, max_width, [headers.index(h) for h in flexible if h in headers])

    def rule(left: str, middle: str, right: str) -> Line:
        return [(left + middle.join("─" * w for w in widths) + right, BORDER_STYLE)]

    def row_lines(cells: list[str], cell_styles: list[str]) -> Doc:
        wrapped = [wrap(cell, w - 2) for cell, w in zip(cells, widths, strict=True)]
        height = max(len(parts) for parts in wrapped)
        out: Doc = []
        for n in range(height):
            current: Line = [("│", BORDER_STYLE)]
            for parts, w, style in zip(wrapped, widths, cell_styles, strict=True):
                text = parts[n] if n < len(parts) else ""
                current += [(" ", ""), (text, style), (" " * (w - 2 - cell_width(text)) + " ", ""),
                            ("│", BORDER_STYLE)]
            out.append(current)
        return out

    doc: Doc = [rule("┌", "┬", "┐")]
    doc += row_lines(headers, [HEAD_STYLE] * len(headers))
    body_styles = [styles.get(header, "") for header in headers]
    for cells in body:
        doc.append(rule("├", "┼", "┤"))
        doc += row_lines(cells, body_styles)
    doc.append(rule("└", "┴", "┘"))
    return doc
