"""The one interface every search backend implements, and the values that cross it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol


class ContentType(StrEnum):
    SERVICE = "service"
    ARTICLE = "article"


@dataclass(frozen=True)
class SearchDocument:
    """What is indexed of one published service or live article."""

    key: str  # "service:12", "article:7"
    content_type: ContentType
    object_id: int
    title: str
    summary: str
    body: str
    tags: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()  # category slugs (services)
    category_names: tuple[str, ...] = ()
    kind: str | None = None  # service kind or article kind
    platforms: tuple[str, ...] = ()
    rating: float = 0.0
    popularity: int = 0
    published_at: dt.datetime | None = None


@dataclass(frozen=True)
class SearchFilter:
    categories: tuple[str, ...] = ()
    kinds: tuple[str, ...] = ()
    platforms: tuple[str, ...] = ()
    content_types: tuple[ContentType, ...] = ()


@dataclass(frozen=True)
class SearchRequest:
    query: str
    filter: SearchFilter = field(default_factory=SearchFilter)
    first: int = 20
    offset: int = 0


@dataclass(frozen=True)
class Hit:
    key: str
    content_type: ContentType
    object_id: int
    score: float
    # Text with the matched words wrapped in <mark>…</mark>; everything else HTML-escaped.
    snippet: str


@dataclass(frozen=True)
class Facets:
    categories: dict[str, int] = field(default_factory=dict)
    kinds: dict[str, int] = field(default_factory=dict)
    platforms: dict[str, int] = field(default_factory=dict)
    content_types: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchResult:
    hits: list[Hit]
    total: int
    facets: Facets


@dataclass(frozen=True)
class Suggestion:
    text: str
    key: str | None = None  # the document it completes to, when it is a title


class SearchBackend(Protocol):
    name: str

    async def setup(self) -> None:
        """Creates what the backend needs (tables, extensions, index); safe to run again."""

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        """Adds or replaces these documents."""

    async def delete(self, keys: Sequence[str]) -> None:
        """Removes these documents; unknown keys are ignored."""

    async def search(self, request: SearchRequest) -> SearchResult:
        """Ranked hits (published content only is ever indexed) with facet counts over all matches."""

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        """Completions for what someone is typing."""

    async def facets(self, request: SearchRequest) -> Facets:
        """The facet counts alone."""

    async def clear(self) -> None:
        """Removes every document."""
