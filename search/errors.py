"""What an external search backend raises, without tying its callers to its client library."""

from __future__ import annotations

from collections.abc import Iterable


class SearchUnavailable(ConnectionError):
    """The external index cannot answer now (down, unreachable, overloaded, missing): ask the database."""


class DocumentsRejected(Exception):
    """The index took the other documents of a write but refused these keys (they are retried alone)."""

    def __init__(self, keys: Iterable[str], reason: str) -> None:
        self.keys = frozenset(keys)
        super().__init__(f"{len(self.keys)} document(s) refused: {reason}")
