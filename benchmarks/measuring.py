"""Shared by the benchmarks: wall time and peak traced memory of one step."""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from typing import Any


def measured(step: Callable[[], Any]) -> tuple[Any, float, float]:
    """``step()``'s result, wall seconds and peak memory traced by tracemalloc (NumPy and pandas report to it), MiB."""
    tracemalloc.start()
    start = time.perf_counter()
    result = step()
    seconds = time.perf_counter() - start
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    return result, seconds, peak
