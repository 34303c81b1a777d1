"""Turning services and articles into search documents (published content only)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

from cms.catalogue import published_services
from models.catalogue import Category, Service, ServiceCategory, ServiceLink
from models.cms import Article
from search.backend import ContentType, SearchDocument


def key_of(content_type: ContentType, object_id: int) -> str:
    return f"{content_type.value}:{object_id}"


def parse_key(key: str) -> tuple[ContentType, int]:
    kind, _, number = key.partition(":")
    return ContentType(kind), int(number)


async def service_documents(ids: Sequence[int] | None = None) -> list[SearchDocument]:
    query = published_services()
    if ids is not None:
        query = query.filter(id__in=list(ids))
    services = await query.order_by("id")
    if not services:
        return []
    service_ids = [s.id for s in services]
    categories: dict[int, list[Category]] = defaultdict(list)
    for row in (
        await ServiceCategory.filter(service_id__in=service_ids)
        .select_related("category")
        .order_by("position")
    ):
        categories[row.service_id].append(row.category)
    platforms: dict[int, list[str]] = defaultdict(list)
    for service_id, platform in await ServiceLink.filter(service_id__in=service_ids).values_list(
        "service_id", "platform"
    ):
        platforms[service_id].append(str(platform.value if hasattr(platform, "value") else platform))
    return [_service_document(s, categories[s.id], platforms[s.id]) for s in services]


def _service_document(service: Service, categories: list[Category], platforms: list[str]) -> SearchDocument:
    return SearchDocument(
        key=key_of(ContentType.SERVICE, service.id),
        content_type=ContentType.SERVICE,
        object_id=service.id,
        title=service.name,
        summary=service.short_description,
        body=service.long_description,
        tags=tuple(service.tags or ()),
        categories=tuple(c.slug for c in categories),
        category_names=tuple(c.name for c in categories),
        kind=service.kind.value,
        platforms=tuple(sorted(set(platforms))),
        rating=service.rating_average if service.rating_count else 0.0,
        popularity=service.redirect_count,
        published_at=service.published_at,
    )


async def article_documents(ids: Sequence[int] | None = None) -> list[SearchDocument]:
    query = Article.filter(live=True)
    if ids is not None:
        query = query.filter(id__in=list(ids))
    return [
        SearchDocument(
            key=key_of(ContentType.ARTICLE, article.id),
            content_type=ContentType.ARTICLE,
            object_id=article.id,
            title=article.title,
            summary=article.summary,
            body=article.body,
            tags=tuple(article.tags or ()),
            kind=article.kind.value,
            published_at=article.first_published_at,
        )
        for article in await query.order_by("id")
    ]


async def documents_for(keys: Iterable[str]) -> tuple[list[SearchDocument], list[str]]:
    """The current documents for these keys, and the keys that should leave the index."""
    wanted: dict[ContentType, list[int]] = defaultdict(list)
    unique = sorted(set(keys))
    for key in unique:
        content_type, object_id = parse_key(key)
        wanted[content_type].append(object_id)
    documents = await service_documents(wanted[ContentType.SERVICE]) if wanted[ContentType.SERVICE] else []
    if wanted[ContentType.ARTICLE]:
        documents += await article_documents(wanted[ContentType.ARTICLE])
    present = {d.key for d in documents}
    return documents, [key for key in unique if key not in present]


async def all_documents() -> list[SearchDocument]:
    return await service_documents() + await article_documents()
