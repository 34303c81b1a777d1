"""One page of a list: its rows, their opaque cursors, and the query that counts every row."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from tortoise.models import Model
from tortoise.queryset import QuerySet

from models.errors import BadUserInput

T = TypeVar("T", bound=Model)
MAX_CURSOR_LENGTH = 512


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    cursors: list[str]
    has_next_page: bool
    has_previous_page: bool
    total_query: QuerySet[T] = field(repr=False)

    async def total_count(self) -> int:
        return await self.total_query.count()


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
