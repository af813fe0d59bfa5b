"""Garbage-collector settings for a process that runs an engine.

Each step allocates a few dozen short-lived containers, nearly all freed at once by reference
counting. With CPython's default thresholds (a young collection every 700 allocations) the
collector still ran ~150 times per 10,000 steps, and the full collections that followed walked
every object the process had ever imported: 8-9 ms pauses that stalled the event loop (a request
waited behind them) and grew as the heap did, so a long-running engine slowed down by ~20%.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # allocations between young collections (CPython's default: 700)
MIDDLE_THRESHOLD = 50
OLD_THRESHOLD = 20

_tuned = False


def tune_for_engine() -> None:
    """Collect less often, and leave out of full collections what exists before the first engine
    starts (imported modules, the user's code). Done once per process."""
    global _tuned
    if _tuned:
        return
    _tuned = True
    gc.freeze()
    gc.set_threshold(YOUNG_THRESHOLD, MIDDLE_THRESHOLD, OLD_THRESHOLD)
