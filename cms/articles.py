"""Articles: what an editor may write, the draft they work on, and slugs that stay put."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from slugify import slugify
from tortoise.transactions import in_transaction

from cms import audit
from cms.markdown import render_markdown
from cms.revisions import save_revision
from models.accounts import User
from models.catalogue import Service
from models.cms import Article, Media, Revision
from models.enums import ArticleKind, ArticleStatus
from models.errors import BadUserInput, NotFound

OBJECT_TYPE = "article"
MAX_BODY = 100_000
MAX_TAGS = 10
MAX_RELATED = 10
_TAG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


@dataclass
class ArticleContent:
    """Everything an editor writes; one revision snapshot is exactly this, as JSON."""

    kind: str
    title: str
    summary: str
    body: str
    tags: list[str] = field(default_factory=list)
    cover_image_id: int | None = None
    cover_alt: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    related_services: list[str] = field(default_factory=list)
    go_live_at: str | None = None
    expire_at: str | None = None

    @classmethod
    def from_snapshot(cls, snapshot: dict[str, Any]) -> ArticleContent:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in snapshot.items() if k in known})

    def snapshot(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def go_live(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.go_live_at) if self.go_live_at else None

    @property
    def expire(self) -> dt.datetime | None:
        return dt.datetime.fromisoformat(self.expire_at) if self.expire_at else None


def _clean_text(value: str | None, name: str, *, required: bool, limit: int) -> str | None:
    value = (value or "").strip()
    if not value:
        if required:
            raise BadUserInput(f"{name} is required", field=name)
        return None
    if len(value) > limit:
        raise BadUserInput(f"{name} is limited to {limit} characters", field=name)
    return value


def _aware(moment: dt.datetime | None, name: str) -> str | None:
    if moment is None:
        return None
    if moment.tzinfo is None:
        raise BadUserInput(f"{name} needs a time zone", field=name)
    return moment.astimezone(dt.UTC).isoformat()


async def validate(
    *,
    kind: ArticleKind,
    title: str,
    summary: str,
    body: str,
    tags: list[str] | None = None,
    cover_image_id: int | None = None,
    cover_alt: str | None = None,
    seo_title: str | None = None,
    seo_description: str | None = None,
    related_services: list[str] | None = None,
    go_live_at: dt.datetime | None = None,
    expire_at: dt.datetime | None = None,
) -> ArticleContent:
    """Checks and normalises what an editor sent; raises BadUserInput naming the field."""
    tags = [t.strip().lower() for t in tags or []]
    if len(tags) > MAX_TAGS or any(not _TAG.match(t) or len(t) > 60 for t in tags):
        raise BadUserInput(f"up to {MAX_TAGS} tags, each a lowercase-hyphenated word", field="tags")
    related = list(dict.fromkeys(related_services or []))
    if len(related) > MAX_RELATED:
        raise BadUserInput(f"up to {MAX_RELATED} related services", field="relatedServices")
    if related:
        found = set(await Service.filter(slug__in=related).values_list("slug", flat=True))
        missing = [s for s in related if s not in found]
        if missing:
            raise BadUserInput(f"unknown service: {', '.join(missing)}", field="relatedServices")
    alt = _clean_text(cover_alt, "coverAlt", required=False, limit=300)
    if cover_image_id is not None:
        if not await Media.filter(id=cover_image_id).exists():
            raise BadUserInput("unknown cover image", field="coverImageId")
        if not alt:
            raise BadUserInput("a cover image needs its alt text", field="coverAlt")
    if len(body) > MAX_BODY:
        raise BadUserInput(f"the body is limited to {MAX_BODY} characters", field="body")
    if go_live_at and expire_at and expire_at <= go_live_at:
        raise BadUserInput("expireAt must come after goLiveAt", field="expireAt")
    return ArticleContent(
        kind=ArticleKind(kind).value,
        title=_clean_text(title, "title", required=True, limit=200) or "",
        summary=_clean_text(summary, "summary", required=True, limit=500) or "",
        body=body.strip(),
        tags=list(dict.fromkeys(tags)),
        cover_image_id=cover_image_id,
        cover_alt=alt,
        seo_title=_clean_text(seo_title, "seoTitle", required=False, limit=200),
        seo_description=_clean_text(seo_description, "seoDescription", required=False, limit=300),
        related_services=related,
        go_live_at=_aware(go_live_at, "goLiveAt"),
        expire_at=_aware(expire_at, "expireAt"),
    )


async def unique_slug(title: str, *, exclude_id: int | None = None) -> str:
    base = slugify(title, max_length=100, word_boundary=True) or "article"
    candidate, n = base, 1
    while await Article.filter(slug=candidate).exclude(id=exclude_id or 0).exists():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


def mirror(article: Article, content: ArticleContent) -> None:
    """Copies a draft onto the article's columns (only done while nothing of it is public)."""
    article.kind = ArticleKind(content.kind)
    article.title = content.title
    article.summary = content.summary
    article.body = content.body
    article.body_html = render_markdown(content.body)
    article.tags = content.tags
    article.cover_image_id = content.cover_image_id
    article.cover_alt = content.cover_alt
    article.seo_title = content.seo_title
    article.seo_description = content.seo_description
    article.go_live_at = content.go_live
    article.expire_at = content.expire


async def create_article(actor: User, content: ArticleContent) -> Article:
    async with in_transaction():
        article = Article(slug=await unique_slug(content.title), author=actor, status=ArticleStatus.DRAFT)
        mirror(article, content)
        await article.save()
        revision = await save_revision(OBJECT_TYPE, article.id, content.snapshot(), actor, "created")
        article.latest_revision = revision
        await article.save(update_fields=["latest_revision_id"])
        await audit.record(actor, "article.create", OBJECT_TYPE, article.id, revision=revision.id)
    return article


async def get_article(article_id: int, *, for_update: bool = False) -> Article:
    query = Article.filter(id=article_id)
    if for_update:
        query = query.select_for_update()
    article = await query.first()
    if article is None:
        raise NotFound(f"no article {article_id}", id=article_id)
    return article


async def latest_content(article: Article) -> ArticleContent:
    revision = await Revision.get(id=article.latest_revision_id)
    return ArticleContent.from_snapshot(revision.snapshot)


async def save_draft(
    actor: User, article_id: int, content: ArticleContent, message: str | None = None
) -> Article:
    """A new revision. A live article stays as published until the new one is; a review restarts."""
    async with in_transaction():
        article = await get_article(article_id, for_update=True)
        if article.status is ArticleStatus.ARCHIVED:
            raise BadUserInput("an archived article cannot be edited: unarchive it first", status="archived")
        revision = await save_revision(OBJECT_TYPE, article.id, content.snapshot(), actor, message)
        article.latest_revision = revision
        article.has_unpublished_changes = True
        if article.status in (ArticleStatus.IN_REVIEW, ArticleStatus.SCHEDULED):
            article.status = ArticleStatus.PUBLISHED if article.live else ArticleStatus.DRAFT
        if not article.live:
            mirror(article, content)
            if article.first_published_at is None:
                article.slug = await unique_slug(content.title, exclude_id=article.id)
        await article.save()
        await audit.record(actor, "article.save", OBJECT_TYPE, article.id, revision=revision.id)
    return article


async def restore_revision(actor: User, article_id: int, revision_id: int) -> Article:
    """Makes an old revision the new draft; it never publishes."""
    revision = await Revision.get_or_none(id=revision_id, object_type=OBJECT_TYPE, object_id=article_id)
    if revision is None:
        raise NotFound(f"no revision {revision_id} of article {article_id}", revision=revision_id)
    content = ArticleContent.from_snapshot(revision.snapshot)
    article = await save_draft(actor, article_id, content, f"restored from revision {revision_id}")
    await audit.record(actor, "article.restore", OBJECT_TYPE, article_id, revision=revision_id)
    return article
