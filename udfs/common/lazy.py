"""``lazy_property``: a cached property without a lock, for the intermediates of one batch.

Python 3.11's ``functools.cached_property`` holds one lock per property for every instance of the class
(dropped in 3.12): two operator threads computing the same intermediate of two different batches (the
character classes of each, the word spans of each) wait for each other, and the compiled kernels, which
release the GIL, run one at a time. A batch is worked on by one thread, so its intermediates need no lock:
the value is computed on first access and stored in the instance, as ``cached_property`` does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Generic, TypeVar, overload

T = TypeVar("T")


class lazy_property(Generic[T]):
    def __init__(self, fn: Callable[[Any], T]) -> None:
        self.fn = fn
        self.name = fn.__name__
        self.__doc__ = fn.__doc__

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    @overload
    def __get__(self, obj: None, owner: type | None = None) -> lazy_property[T]: ...

    @overload
    def __get__(self, obj: object, owner: type | None = None) -> T: ...

    def __get__(self, obj: object | None, owner: type | None = None) -> T | lazy_property[T]:
        if obj is None:
            return self
        value = self.fn(obj)
        obj.__dict__[self.name] = value  # found before this (non-data) descriptor from now on
        return value
