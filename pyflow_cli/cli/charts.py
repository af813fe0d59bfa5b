"""``workflows metrics``: the figures as a document, with sparklines for the per-bucket series.

Takes the metrics answer (``pyflow_cli.metrics.metrics_view``, or the local API's) and the time
zone; nothing here prints or reads a clock.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import tzinfo
from typing import Any

from pyflow_cli.cli.doc import LABEL_STYLE, Doc, Field, labelled, line, table
from pyflow_cli.cli.formats import iso_to_ms, locale_datetime

BARS = "▁▂▃▄▅▆▇█"
SPARK_WIDTH = 60


def sparkline(values: Sequence[float | None], width: int = SPARK_WIDTH) -> str:
    """One character per value (values summed into at most ``width`` columns); a space for none,
    ``▁`` for zero, up to ``█`` for the largest."""
    if not values:
        return ""
    per = max(1, math.ceil(len(values) / width))
    columns: list[float | None] = []
    for start in range(0, len(values), per):
        chunk = [v for v in values[start:start + per] if v is not None]
        columns.append(sum(chunk) if chunk else None)
    top = max((v for v in columns if v is not None), default=0) or 1
    return "".join(_bar(v, top) for v in columns)


def _bar(value: float | None, top: float) -> str:
    if value is None:
        return " "
    if value <= 0:
        return BARS[0]
    return BARS[max(1, min(len(BARS) - 1, round(value / top * (len(BARS) - 1))))]


def duration_text(ms: float | None) -> str:
    """``850ms``, ``3.2s``, ``2m 5s``, ``1h 3m``; ``–`` for none."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f}ms"
    if ms < 60_000:
        return f"{ms / 1000:.1f}s"
    minutes, seconds = divmod(int(ms / 1000), 60)
    if minutes < 60:
        return f"{minutes}m {seconds}s" if seconds else f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def metrics_doc(metrics: Mapping[str, Any], tz: tzinfo | None, max_width: int | None) -> Doc:
    """The window, the totals, a sparkline per outcome and the step table."""
    totals = metrics["totals"]
    series = metrics["series"]
    since, until = iso_to_ms(metrics["since"]), iso_to_ms(metrics["until"])
    bucket = duration_text(float(metrics["bucket_ms"]))
    doc = [line(f'Metrics of "{metrics["workflow"]}" from {locale_datetime(since, tz)} to '
                f"{locale_datetime(until, tz)}, per {bucket}:", LABEL_STYLE)]
    wall = totals["wall_time_ms"]
    fields = [Field(name.capitalize(), f"{totals[name]:<6} {sparkline([p[name] for p in series])}")
              for name in ("started", "succeeded", "failed", "terminated")]
    fields.append(Field("Wall time", f"p50 {duration_text(wall['p50'])} · p95 "
                                     f"{duration_text(wall['p95'])} ({wall['runs']} runs)"))
    doc += labelled(fields)
    steps = metrics["steps"]
    if steps:
        doc.append(line("Steps:", LABEL_STYLE))
        doc += table([{"Step": s["name"], "Started": str(s["started"]), "Retries": str(s["retries"]),
                       "Failed attempts": str(s["failed_attempts"]), "Failed": str(s["failed"])}
                      for s in steps], max_width)
    return doc
