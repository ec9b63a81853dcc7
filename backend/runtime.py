"""Process tuning shared by the long-running processes (the iot worker; see each caller).

Python's cyclic garbage collector runs a generation-0 pass every 700 net allocations of container objects
and, every tenth of those, scans older generations too. A process that holds a large, long-lived heap (the
iot worker's rule states, windows and histories, the imported framework) and allocates hundreds of
thousands of short-lived objects a second (one decoded reading, tuple and list after another) spends a
large share of its time re-scanning what never becomes garbage: measured 2026-12-04 on the ingest bench's
single-reading phase, 3.7 s of the worker's 9.9 CPU seconds. ``tune_gc`` moves what exists after start-up
out of the collector's sight (``gc.freeze``: imports, settings, pools) and raises the generation-0
threshold, so collections are rare and scan little (0.16 s in the same run). Reference counting still frees
almost everything at once; cycles are still collected, only in larger steps.
"""

from __future__ import annotations

import gc

from backend.settings import Settings


def tune_gc(settings: Settings) -> tuple[int, int, int]:
    """Freeze the start-up heap and set the collector's thresholds; returns the thresholds now in force."""
    if settings.GC_GEN0_THRESHOLD > 0:
        gc.collect()
        gc.freeze()
        gc.set_threshold(settings.GC_GEN0_THRESHOLD, 10, 10)
    return gc.get_threshold()
