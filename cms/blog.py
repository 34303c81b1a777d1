"""What the public reads of the blog: live articles only, and only published services through them."""

from __future__ import annotations

import datetime as dt

from tortoise.expressions import Q, Subquery
from tortoise.queryset import QuerySet

from cms.catalogue import published_services
from cms.paging import Page, decode_cursor, encode_cursor, malformed_cursor, page_size
from models.catalogue import Service
from models.cms import Article, ArticleService, ArticleTag
from models.enums import ArticleKind
from models.errors import NotFound


def live_articles() -> QuerySet[Article]:
    return Article.filter(live=True)


def _cursor(article: Article) -> str:
    assert article.first_published_at is not None
    return encode_cursor([article.first_published_at.isoformat(), article.id])


def _after(cursor: str) -> Q:
    payload = decode_cursor(cursor)
    try:
        published, article_id = payload
        published_at = dt.datetime.fromisoformat(published)
        if not isinstance(article_id, int) or isinstance(article_id, bool):
            raise ValueError("id")
    except (ValueError, TypeError) as exc:
        raise malformed_cursor() from exc
    return Q(first_published_at__lt=published_at) | Q(first_published_at=published_at, id__lt=article_id)


async def list_articles(
    kind: ArticleKind | None = None, tag: str | None = None, first: int | None = 20, after: str | None = None
) -> Page[Article]:
    first = page_size(first)
    query = live_articles()
    if kind is not None:
        query = query.filter(kind=kind)
    if tag is not None:
        query = query.filter(id__in=Subquery(ArticleTag.filter(tag=tag.strip().lower()).values("article_id")))
    page_query = query.filter(_after(after)) if after else query
    rows = await page_query.order_by("-first_published_at", "-id").limit(first + 1) if first else []
    return Page.of_rows(list(rows), first, after, _cursor, query)


async def get_live_article(slug: str) -> Article:
    article = await live_articles().get_or_none(slug=slug)
    if article is None:
        raise NotFound(f"no published article with slug {slug!r}", slug=slug)
    return article


async def related_published_services(article_ids: list[int]) -> dict[int, list[Service]]:
    """An article's related services, leaving out any that is not published (or not free)."""
    links = await ArticleService.filter(
        article_id__in=article_ids, service_id__in=Subquery(published_services().values("id"))
    ).order_by("position")
    services = {s.id: s for s in await Service.filter(id__in=[link.service_id for link in links])}
    result: dict[int, list[Service]] = {article_id: [] for article_id in article_ids}
    for link in links:
        result[link.article_id].append(services[link.service_id])
    return result
