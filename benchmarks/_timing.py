"""Shared by the benchmark scripts: the median wall time of repeated runs."""

from __future__ import annotations

import time
from collections.abc import Callable


def median_seconds(fn: Callable[[], object], repeat: int) -> float:
    """Run ``fn`` ``repeat`` times; the median wall time (the upper middle one for an even count)."""
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]
