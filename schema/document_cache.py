"""A bounded cache of what is computed once per parsed document (its plan, its cost).

Strawberry's parser cache hands back the same DocumentNode object for the same query text, so
these caches key on object identity: hashing or comparing the syntax trees would cost more than
what they save. Each entry keeps its objects alive, so their ids cannot be reused while cached,
and a hit checks that the objects are the very same.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

V = TypeVar("V")


class DocumentCache(Generic[V]):
    def __init__(self, maxsize: int = 1024) -> None:
        self.maxsize = maxsize
        self._entries: OrderedDict[tuple[tuple[int, ...], Hashable], tuple[tuple[object, ...], V]] = (
            OrderedDict()
        )

    def get(self, objects: tuple[object, ...], extra: Hashable, compute: Callable[[], V]) -> V:
        """The value for these objects (by identity) and `extra` (by equality), computed once."""
        key = (tuple(id(o) for o in objects), extra)
        found = self._entries.get(key)
        if found is not None and all(a is b for a, b in zip(found[0], objects, strict=True)):
            self._entries.move_to_end(key)
            return found[1]
        value = compute()
        self.put(objects, extra, value)
        return value

    def put(self, objects: tuple[object, ...], extra: Hashable, value: V) -> None:
        key = (tuple(id(o) for o in objects), extra)
        self._entries[key] = (objects, value)
        self._entries.move_to_end(key)
        if len(self._entries) > self.maxsize:
            self._entries.popitem(last=False)
