"""How the garbage collector runs while a capture streams through.

Reading a capture allocates per frame - headers, views, strings - and few of those objects
ever form cycles, yet the default threshold runs a young-generation collection every 700
allocations, about once per frame, and promotes the survivors into older generations that
are then traversed again and again. While frames stream, collections are made rarer. In a
process that forks workers (:mod:`mikeyshark.workers`) it matters twice: a collection
writes to every object it walks, and each page written after a fork is copied by the kernel.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# a young collection every 100,000 net allocations (~1 per 1,000 frames), the middle one
# every 50 of those, the oldest every 100 middle ones (CPython's: 700, 10, 10)
STREAMING_THRESHOLDS = (100_000, 50, 100)


@contextmanager
def streaming() -> Iterator[None]:
    """Collections made rare for the time frames stream through; restored afterwards."""
    thresholds = gc.get_threshold()
    gc.set_threshold(*STREAMING_THRESHOLDS)
    try:
        yield
    finally:
        gc.set_threshold(*thresholds)
