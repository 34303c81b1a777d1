"""The editorial workflow: draft → in review → published (or scheduled) → archived.

Each action checks that the article's state allows it, changes the state, writes the audit log
and queues the webhooks, in one transaction. Who may call each action is declared on the GraphQL
mutations (schema/cms.py); the table below is the reference for both.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable

from tortoise.transactions import in_transaction

from cms import audit, webhooks
from cms.articles import OBJECT_TYPE, get_article, latest_content, mirror, unique_slug
from models.accounts import User
from models.catalogue import Service
from models.cms import Article, ArticleService, ArticleTag
from models.enums import ArticleStatus
from models.errors import BadUserInput
from search import sync as search_sync

S = ArticleStatus
# action: (states it starts from, who may do it)
TRANSITIONS: dict[str, tuple[frozenset[ArticleStatus], str]] = {
    "submit": (frozenset({S.DRAFT, S.PUBLISHED}), "editors and admins"),
    "approve": (frozenset({S.IN_REVIEW}), "admins and reviewers"),
    "reject": (frozenset({S.IN_REVIEW}), "admins and reviewers"),
    "publish": (frozenset({S.DRAFT, S.IN_REVIEW, S.SCHEDULED, S.PUBLISHED}), "admins and reviewers"),
    "unpublish": (frozenset({S.PUBLISHED, S.IN_REVIEW, S.SCHEDULED}), "admins and reviewers"),
    "archive": (frozenset({S.DRAFT, S.IN_REVIEW, S.SCHEDULED, S.PUBLISHED}), "admins and reviewers"),
    "unarchive": (frozenset({S.ARCHIVED}), "admins and reviewers"),
}


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _check(action: str, article: Article) -> None:
    allowed, _ = TRANSITIONS[action]
    if article.status not in allowed:
        raise BadUserInput(
            f"cannot {action} an article that is {article.status.value.replace('_', ' ')}",
            action=action,
            status=article.status.value,
        )
    if action == "submit" and article.status is S.PUBLISHED and not article.has_unpublished_changes:
        raise BadUserInput("nothing to submit: the published version is the latest", action=action)
    if action == "unpublish" and not article.live:
        raise BadUserInput("cannot unpublish an article that is not live", action=action)


async def _act(
    action: str,
    actor: User | None,
    article_id: int,
    change: Callable[[Article], Awaitable[None]],
    **data: object,
) -> Article:
    async with in_transaction():
        article = await get_article(article_id, for_update=True)
        _check(action, article)
        before = article.status
        await change(article)
        await article.save()
        await search_sync.articles_changed([article.id])
        await audit.record(
            actor,
            f"article.{action}",
            OBJECT_TYPE,
            article.id,
            **{"from": before.value, "to": article.status.value, **data},
        )
    return article


def _payload(article: Article) -> dict[str, object]:
    return {"id": article.id, "slug": article.slug, "title": article.title, "kind": article.kind.value}


async def _make_live(article: Article, now: dt.datetime) -> None:
    """Copies the latest revision onto the public columns and relations."""
    content = await latest_content(article)
    if article.first_published_at is None:
        article.slug = await unique_slug(content.title, exclude_id=article.id)
    mirror(article, content)
    await ArticleService.filter(article_id=article.id).delete()
    services = await Service.filter(slug__in=content.related_services).values_list("slug", "id")
    ids = dict(services)
    await ArticleService.bulk_create(
        [
            ArticleService(article_id=article.id, service_id=ids[slug], position=n)
            for n, slug in enumerate(content.related_services)
            if slug in ids
        ]
    )
    await ArticleTag.filter(article_id=article.id).delete()
    await ArticleTag.bulk_create([ArticleTag(article_id=article.id, tag=tag) for tag in content.tags])
    article.status = S.PUBLISHED
    article.live = True
    article.has_unpublished_changes = False
    article.live_revision_id = article.latest_revision_id
    article.first_published_at = article.first_published_at or now
    article.last_published_at = now
    article.review_comment = None
    await webhooks.enqueue(webhooks.ARTICLE_PUBLISHED, _payload(article))


async def _publish_or_schedule(article: Article) -> None:
    now = _now()
    go_live = (await latest_content(article)).go_live
    if go_live and go_live > now:
        article.status = S.SCHEDULED
        article.go_live_at = go_live
    else:
        await _make_live(article, now)


async def _take_down(article: Article, to: ArticleStatus) -> None:
    was_live = article.live
    article.live = False
    article.status = to
    article.has_unpublished_changes = True
    if was_live:
        await webhooks.enqueue(webhooks.ARTICLE_UNPUBLISHED, _payload(article))


async def submit(actor: User, article_id: int) -> Article:
    async def change(article: Article) -> None:
        article.status = S.IN_REVIEW
        article.review_comment = None

    return await _act("submit", actor, article_id, change)


async def approve(actor: User, article_id: int) -> Article:
    return await _act("approve", actor, article_id, _publish_or_schedule)


async def publish(actor: User, article_id: int) -> Article:
    return await _act("publish", actor, article_id, _publish_or_schedule)


async def reject(actor: User, article_id: int, comment: str) -> Article:
    comment = (comment or "").strip()
    if not comment:
        raise BadUserInput("say why the article is rejected", field="comment")
    if len(comment) > 2000:
        raise BadUserInput("the comment is limited to 2000 characters", field="comment")

    async def change(article: Article) -> None:
        article.status = S.PUBLISHED if article.live else S.DRAFT
        article.review_comment = comment

    return await _act("reject", actor, article_id, change, comment=comment)


async def unpublish(actor: User, article_id: int) -> Article:
    return await _act("unpublish", actor, article_id, lambda article: _take_down(article, S.DRAFT))


async def archive(actor: User, article_id: int) -> Article:
    return await _act("archive", actor, article_id, lambda article: _take_down(article, S.ARCHIVED))


async def unarchive(actor: User, article_id: int) -> Article:
    async def change(article: Article) -> None:
        article.status = S.DRAFT

    return await _act("unarchive", actor, article_id, change)


async def publish_due(now: dt.datetime | None = None) -> list[int]:
    """Publishes scheduled articles whose time has come. Safe when several workers run it at once:
    the row lock and the state re-check inside make exactly one of them publish each article."""
    now = now or _now()
    published = []
    due = await Article.filter(status=S.SCHEDULED, go_live_at__lte=now).only("id")
    for article_id in [a.id for a in due]:
        async with in_transaction():
            article = await get_article(article_id, for_update=True)
            if article.status is not S.SCHEDULED or not article.go_live_at or article.go_live_at > now:
                continue  # another worker got there first
            await _make_live(article, now)
            await article.save()
            await search_sync.articles_changed([article.id])
            await audit.record(None, "article.publish_scheduled", OBJECT_TYPE, article.id, at=now.isoformat())
            published.append(article.id)
    return published


async def expire_due(now: dt.datetime | None = None) -> list[int]:
    """Takes down live articles whose expiry time has passed (they go to the archive)."""
    now = now or _now()
    expired = []
    due = await Article.filter(live=True, expire_at__lte=now).only("id")
    for article_id in [a.id for a in due]:
        async with in_transaction():
            article = await get_article(article_id, for_update=True)
            if not article.live or not article.expire_at or article.expire_at > now:
                continue
            await _take_down(article, S.ARCHIVED)
            await article.save()
            await search_sync.articles_changed([article.id])
            await audit.record(None, "article.expire", OBJECT_TYPE, article.id, at=now.isoformat())
            expired.append(article.id)
    return expired
