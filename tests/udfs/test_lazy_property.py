"""``lazy_property``: computed once per instance, and never serialised across instances by a lock."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

from juicedb.udfs.common.lazy import lazy_property


class Batch:
    meeting = threading.Barrier(2, timeout=10)

    def __init__(self) -> None:
        self.calls = 0

    @lazy_property
    def value(self) -> int:
        """Meets the other thread's batch halfway through: a class-wide lock (Python 3.11's
        functools.cached_property) would keep the other thread out, and the barrier would break."""
        self.calls += 1
        self.meeting.wait()
        return id(self)


def test_two_threads_compute_two_batches_at_once():
    a, b = Batch(), Batch()
    with ThreadPoolExecutor(2) as pool:
        values = list(pool.map(lambda x: x.value, [a, b]))
    assert values == [id(a), id(b)]


def test_computed_once_then_read_from_the_instance():
    class Once:
        def __init__(self) -> None:
            self.calls = 0

        @lazy_property
        def value(self) -> list[int]:
            """doc"""
            self.calls += 1
            return [self.calls]

    x = Once()
    assert x.value is x.value and x.calls == 1
    assert Once.value.__doc__ == "doc" and isinstance(Once.__dict__["value"], lazy_property)
    assert Once().value == [1]
