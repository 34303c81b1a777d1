"""One page of a list: its rows, their opaque cursors, and the query that counts every row."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.errors import BadUserInput

T = TypeVar("T", bound=Model)
MAX_CURSOR_LENGTH = 512
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    count: Callable[[], Awaitable[int]] = field(repr=False)

    async def total_count(self) -> int:
        return await self.count()

    @classmethod
    def of_rows(
        cls,
        rows: list[T],
        first: int,
        after: str | None,
        cursor: Callable[[T], str],
        total_query: QuerySet[T],
    ) -> Page[T]:
        """A page from `first + 1` fetched rows: the extra row only says there is a next page."""
        items = list(rows[:first])
        return cls(
            items=items,
            cursors=[cursor(item) for item in items],
            has_next_page=len(rows) > first,
            has_previous_page=after is not None,
            count=total_query.count,
        )


def page_size(first: int | None, maximum: int = MAX_PAGE_SIZE, default: int = DEFAULT_PAGE_SIZE) -> int:
    """`first` checked against its cap (every list's page size is capped); None means the default."""
    first = default if first is None else first
    if not 0 <= first <= maximum:
        raise BadUserInput(f"first must lie between 0 and {maximum}", field="first")
    return first


def check_offset(offset: int) -> int:
    if offset < 0:
        raise BadUserInput("offset cannot be negative", field="offset")
    return offset


def encode_cursor(payload: Any) -> str:
    raw = json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The JSON a cursor carries; anything malformed is BAD_USER_INPUT on `after`."""
    try:
        if len(cursor) > MAX_CURSOR_LENGTH:
            raise ValueError("too long")
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
        raise malformed_cursor() from exc


def malformed_cursor() -> BadUserInput:
    return BadUserInput(
        "malformed cursor: pass back an endCursor from the same list and ordering", field="after"
    )
