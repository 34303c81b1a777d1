"""Resolvers of `search` and `suggest`: validate, ask the search service, load what the hits name."""

from __future__ import annotations

from collections.abc import Sequence

from cms.blog import live_articles
from cms.catalogue import published_services
from models.catalogue import Category, Service
from models.cms import Article
from models.enums import ArticleKind, ServiceKind
from models.errors import BadUserInput
from search.backend import ContentType, SearchFilter, SearchRequest, SearchResult, Suggestion
from search.service import run_search, run_suggest

KNOWN_KINDS = {k.value for k in ServiceKind} | {k.value for k in ArticleKind}


async def search(
    query: str,
    *,
    categories: Sequence[str],
    kinds: Sequence[str],
    platforms: Sequence[str],
    content_types: Sequence[ContentType],
    first: int,
    offset: int,
) -> SearchResult:
    unknown_kinds = sorted(set(kinds) - KNOWN_KINDS)
    if unknown_kinds:
        raise BadUserInput(f"unknown kind: {', '.join(unknown_kinds)}", field="filter.kinds")
    if categories:
        known = set(await Category.filter(slug__in=list(categories)).values_list("slug", flat=True))
        missing = sorted(set(categories) - known)
        if missing:
            raise BadUserInput(f"unknown category: {', '.join(missing)}", field="filter.categories")
    request = SearchRequest(
        query=query,
        filter=SearchFilter(
            categories=tuple(categories),
            kinds=tuple(kinds),
            platforms=tuple(platforms),
            content_types=tuple(content_types),
        ),
        first=first,
        offset=offset,
    )
    return await run_search(request)


async def load_items(result: SearchResult) -> dict[str, Service | Article]:
    """The published objects behind the hits (an index a moment behind never shows a draft)."""
    service_ids = [h.object_id for h in result.hits if h.content_type is ContentType.SERVICE]
    article_ids = [h.object_id for h in result.hits if h.content_type is ContentType.ARTICLE]
    items: dict[str, Service | Article] = {}
    if service_ids:
        for service in await published_services().filter(id__in=service_ids):
            items[f"service:{service.id}"] = service
    if article_ids:
        for article in await live_articles().filter(id__in=article_ids):
            items[f"article:{article.id}"] = article
    return items


async def suggest(prefix: str, first: int) -> list[Suggestion]:
    return await run_suggest(prefix, first)
