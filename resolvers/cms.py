"""Resolvers of the editorial fields: read arguments, call one domain function."""

from __future__ import annotations

import datetime as dt
from typing import Any

from cms import articles, blog, preview, revisions, workflow
from cms.articles import ArticleContent
from cms.markdown import render_markdown
from cms.paging import Page, check_offset, page_size
from models.accounts import User
from models.cms import Article, AuditLogEntry, Revision
from models.enums import ArticleKind, ArticleStatus
from models.errors import BadUserInput

MAX_EDITOR_PAGE = 100


async def list_articles(
    kind: ArticleKind | None, tag: str | None, first: int | None, after: str | None
) -> Page[Article]:
    return await blog.list_articles(kind, tag, first, after)


async def article(slug: str) -> Article:
    return await blog.get_live_article(slug)


async def editor_articles(status: ArticleStatus | None, first: int, offset: int) -> list[Article]:
    page_size(first, MAX_EDITOR_PAGE)
    check_offset(offset)
    query = Article.all()
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-updated_at", "-id").offset(offset).limit(first)


async def editor_article(article_id: int) -> Article:
    return await articles.get_article(article_id)


async def draft_of(article: Article) -> ArticleContent:
    return await articles.latest_content(article)


async def create_article(actor: User, fields: dict[str, Any]) -> Article:
    return await articles.create_article(actor, await articles.validate(**fields))


async def update_article(actor: User, article_id: int, fields: dict[str, Any]) -> Article:
    return await articles.save_draft(actor, article_id, await articles.validate(**fields))


async def transition(action: str, actor: User, article_id: int, comment: str | None = None) -> Article:
    if action == "reject":
        return await workflow.reject(actor, article_id, comment or "")
    actions = {
        "submit": workflow.submit,
        "approve": workflow.approve,
        "publish": workflow.publish,
        "unpublish": workflow.unpublish,
        "archive": workflow.archive,
        "unarchive": workflow.unarchive,
    }
    return await actions[action](actor, article_id)


async def restore(actor: User, article_id: int, revision_id: int) -> Article:
    return await articles.restore_revision(actor, article_id, revision_id)


async def article_revisions(article_id: int) -> list[Revision]:
    await articles.get_article(article_id)
    return await revisions.revisions_of(articles.OBJECT_TYPE, article_id)


async def compare_revisions(article_id: int, before_id: int, after_id: int) -> list[revisions.FieldChange]:
    before = await revisions.get_revision(articles.OBJECT_TYPE, article_id, before_id)
    after = await revisions.get_revision(articles.OBJECT_TYPE, article_id, after_id)
    return revisions.compare(before, after)


async def audit_log(object_type: str | None, object_id: int | None, first: int) -> list[AuditLogEntry]:
    page_size(first, MAX_EDITOR_PAGE)
    query = AuditLogEntry.all()
    if object_type:
        query = query.filter(object_type=object_type)
    if object_id is not None:
        query = query.filter(object_id=object_id)
    return await query.order_by("-created_at", "-id").limit(first).select_related("actor")


async def preview_token(secret: str, article_id: int) -> str:
    return preview.make_preview_token(secret, await articles.get_article(article_id))


async def open_preview(secret: str, token: str, lifetime: dt.timedelta) -> preview.Preview:
    return await preview.open_preview(secret, token, lifetime)


def render(markdown: str) -> str:
    if len(markdown) > articles.MAX_BODY:
        raise BadUserInput(f"the body is limited to {articles.MAX_BODY} characters", field="markdown")
    return render_markdown(markdown)
