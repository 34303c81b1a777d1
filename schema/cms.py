"""The blog for everyone, and the editorial workflow for editors and admins."""

from __future__ import annotations

import datetime as dt
from typing import Any, cast

import strawberry
from strawberry.scalars import JSON

from cms.articles import ArticleContent as Content
from cms.paging import Page
from models import cms as m
from models.enums import ArticleKind, ArticleStatus, Role
from resolvers import cms as resolve
from schema.accounts import User
from schema.arguments import parse_id, signed_in_user
from schema.catalogue import PageInfo, Service
from schema.context import Info
from schema.media import Image
from schema.permissions import EDITORIAL, HasRole, allow

ArticleKindType = strawberry.enum(ArticleKind, name="ArticleKind", description="Story, article or news item.")
ArticleStatusType = strawberry.enum(ArticleStatus, name="ArticleStatus")
REVIEWERS = HasRole(Role.ADMIN, reviewers=True)


@strawberry.type(description="Who wrote an article, as the public sees it.")
class Author:
    display_name: str


async def _cover(media_id: int | None, info: Info) -> Image | None:
    if media_id is None:
        return None
    return await info.context.loaders.media.load(media_id)  # type: ignore[return-value]


@strawberry.type(description="A published story, article or news item.")
class Article:
    slug: str
    kind: ArticleKindType  # type: ignore[valid-type]
    title: str

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        return isinstance(obj, cls | m.Article)

    summary: str
    body_html: str = strawberry.field(description="The body, rendered from Markdown and sanitised.")
    seo_title: str | None
    seo_description: str | None
    cover_alt: str | None

    @strawberry.field(description="The body as the editor wrote it, in Markdown.")
    def body_markdown(self: m.Article) -> str:  # type: ignore[misc]
        return self.body

    @strawberry.field
    def tags(self: m.Article) -> list[str]:  # type: ignore[misc]
        return list(self.tags or [])

    @strawberry.field
    def published_at(self: m.Article) -> dt.datetime | None:  # type: ignore[misc]
        return self.first_published_at

    @strawberry.field
    def updated_at(self: m.Article) -> dt.datetime | None:  # type: ignore[misc]
        return self.last_published_at

    @strawberry.field
    async def author(self: m.Article, info: Info) -> Author | None:  # type: ignore[misc]
        if self.author_id is None:
            return None
        return await info.context.loaders.user.load(self.author_id)  # type: ignore[return-value]

    @strawberry.field
    async def cover_image(self: m.Article, info: Info) -> Image | None:  # type: ignore[misc]
        return await _cover(self.cover_image_id, info)

    @strawberry.field(description="The catalogue services it talks about (published ones only).")
    async def related_services(self: m.Article, info: Info) -> list[Service]:  # type: ignore[misc]
        return await info.context.loaders.article_services.load(self.id)  # type: ignore[return-value]


@strawberry.type
class ArticleEdge:
    cursor: str
    node: Article


@strawberry.type
class ArticleConnection:
    edges: list[ArticleEdge]
    page_info: PageInfo
    page: strawberry.Private[Page[m.Article]]

    @strawberry.field
    def nodes(self) -> list[Article]:
        return [edge.node for edge in self.edges]

    @strawberry.field
    async def total_count(self) -> int:
        return await self.page.total_count()

    @classmethod
    def from_page(cls, page: Page[m.Article]) -> ArticleConnection:
        return cls(
            edges=[ArticleEdge(cursor=c, node=a) for c, a in zip(page.cursors, page.items, strict=True)],  # type: ignore[arg-type]
            page_info=PageInfo.of(page),
            page=page,
        )


@strawberry.type(description="What the editor is working on: the latest revision's content.")
class ArticleDraft:
    kind: ArticleKindType  # type: ignore[valid-type]
    title: str
    summary: str
    body: str
    tags: list[str]
    cover_image_id: strawberry.ID | None
    cover_alt: str | None
    seo_title: str | None
    seo_description: str | None
    related_services: list[str] = strawberry.field(description="Service slugs.")
    go_live_at: dt.datetime | None
    expire_at: dt.datetime | None

    @strawberry.field(description="The body rendered and sanitised, as it would be published.")
    def body_html(self) -> str:
        return resolve.render(self.body)

    @classmethod
    def of(cls, content: Content) -> ArticleDraft:
        return cls(
            kind=ArticleKind(content.kind),
            title=content.title,
            summary=content.summary,
            body=content.body,
            tags=list(content.tags),
            cover_image_id=strawberry.ID(str(content.cover_image_id)) if content.cover_image_id else None,
            cover_alt=content.cover_alt,
            seo_title=content.seo_title,
            seo_description=content.seo_description,
            related_services=list(content.related_services),
            go_live_at=content.go_live,
            expire_at=content.expire,
        )


@strawberry.type(description="A saved version of an article.")
class Revision:
    id: strawberry.ID
    created_at: dt.datetime
    message: str | None

    @strawberry.field
    def snapshot(self: m.Revision) -> JSON:  # type: ignore[misc]
        return cast(JSON, self.snapshot)

    @strawberry.field
    async def author(self: m.Revision, info: Info) -> User | None:  # type: ignore[misc]
        if self.author_id is None:
            return None
        return await info.context.loaders.user.load(self.author_id)  # type: ignore[return-value]


@strawberry.type(description="One field that differs between two revisions.")
class FieldChange:
    field: str
    before: JSON | None
    after: JSON | None


@strawberry.type(description="An article as editors see it: its workflow state and its draft.")
class EditorialArticle:
    id: strawberry.ID
    slug: str
    status: ArticleStatusType  # type: ignore[valid-type]
    live: bool = strawberry.field(description="True while a version is public.")
    has_unpublished_changes: bool
    review_comment: str | None = strawberry.field(description="Why the last review rejected it.")
    go_live_at: dt.datetime | None
    expire_at: dt.datetime | None
    first_published_at: dt.datetime | None
    last_published_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime

    @strawberry.field
    def title(self: m.Article) -> str:  # type: ignore[misc]
        return self.title

    @strawberry.field(description="The kind of the live version, or of the draft while nothing is live.")
    def kind(self: m.Article) -> ArticleKindType:  # type: ignore[misc, valid-type]
        return self.kind

    @strawberry.field
    async def draft(self: m.Article) -> ArticleDraft:  # type: ignore[misc]
        return ArticleDraft.of(await resolve.draft_of(self))

    @strawberry.field
    async def author(self: m.Article, info: Info) -> User | None:  # type: ignore[misc]
        if self.author_id is None:
            return None
        return await info.context.loaders.user.load(self.author_id)  # type: ignore[return-value]

    @strawberry.field(description="Every saved version, newest first.")
    async def revisions(self: m.Article) -> list[Revision]:  # type: ignore[misc]
        return await resolve.article_revisions(self.id)  # type: ignore[return-value]

    @strawberry.field
    def live_revision_id(self: m.Article) -> strawberry.ID | None:  # type: ignore[misc]
        return strawberry.ID(str(self.live_revision_id)) if self.live_revision_id else None

    @strawberry.field
    def latest_revision_id(self: m.Article) -> strawberry.ID | None:  # type: ignore[misc]
        return strawberry.ID(str(self.latest_revision_id)) if self.latest_revision_id else None


@strawberry.type(description="What someone did, and when.")
class AuditEntry:
    id: strawberry.ID
    action: str
    object_type: str
    object_id: int | None
    created_at: dt.datetime

    @strawberry.field
    def data(self: m.AuditLogEntry) -> JSON:  # type: ignore[misc]
        return cast(JSON, self.data)

    @strawberry.field
    async def actor(self: m.AuditLogEntry, info: Info) -> User | None:  # type: ignore[misc]
        if self.actor_id is None:
            return None
        return await info.context.loaders.user.load(self.actor_id)  # type: ignore[return-value]


@strawberry.type
class PreviewLink:
    url: str
    token: str
    expires_at: dt.datetime


@strawberry.type(description="A draft opened through a preview link.")
class ArticlePreview:
    title: str
    summary: str
    body_html: str
    kind: ArticleKindType  # type: ignore[valid-type]
    revision_id: strawberry.ID


@strawberry.input(description="What an editor writes. Dates need a time zone.")
class ArticleInput:
    kind: ArticleKindType  # type: ignore[valid-type]
    title: str
    summary: str
    body: str = strawberry.field(description="Markdown.")
    tags: list[str] | None = None
    cover_image_id: strawberry.ID | None = None
    cover_alt: str | None = None
    seo_title: str | None = None
    seo_description: str | None = None
    related_services: list[str] | None = strawberry.field(default=None, description="Service slugs.")
    go_live_at: dt.datetime | None = strawberry.field(default=None, description="Scheduled publication.")
    expire_at: dt.datetime | None = strawberry.field(default=None, description="When it leaves the site.")

    def fields(self) -> dict[str, Any]:
        cover = self.cover_image_id
        return {
            "kind": self.kind,
            "title": self.title,
            "summary": self.summary,
            "body": self.body,
            "tags": self.tags,
            "cover_image_id": parse_id(cover, "coverImageId") if cover else None,
            "cover_alt": self.cover_alt,
            "seo_title": self.seo_title,
            "seo_description": self.seo_description,
            "related_services": self.related_services,
            "go_live_at": self.go_live_at,
            "expire_at": self.expire_at,
        }


@strawberry.type
class CmsQuery:
    @strawberry.field(
        description="Published stories, articles and news, newest first; `first` capped at 100."
    )
    async def articles(
        self,
        kind: ArticleKindType | None = None,  # type: ignore[valid-type]
        tag: str | None = None,
        first: int | None = 20,
        after: str | None = None,
    ) -> ArticleConnection:
        return ArticleConnection.from_page(await resolve.list_articles(kind, tag, first, after))

    @strawberry.field(description="One published article.")
    async def article(self, slug: str) -> Article | None:
        return await resolve.article(slug)  # type: ignore[return-value]

    @strawberry.field(description="A draft, through a signed preview link's token (no account needed).")
    async def article_preview(self, info: Info, token: str) -> ArticlePreview:
        preview = await resolve.open_preview(
            info.context.config.secret, token, info.context.config.preview_lifetime
        )
        return ArticlePreview(
            title=preview.content.title,
            summary=preview.content.summary,
            body_html=resolve.render(preview.content.body),
            kind=ArticleKind(preview.content.kind),
            revision_id=strawberry.ID(str(preview.revision.id)),
        )

    @strawberry.field(
        description="Every article, any state, most recently changed first.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def editorial_articles(
        self,
        status: ArticleStatusType | None = None,  # type: ignore[valid-type]
        first: int = 50,
        offset: int = 0,
    ) -> list[EditorialArticle]:
        return await resolve.editor_articles(status, first, offset)  # type: ignore[return-value]

    @strawberry.field(extensions=allow(HasRole(*EDITORIAL)))
    async def editorial_article(self, id: strawberry.ID) -> EditorialArticle:
        return await resolve.editor_article(parse_id(id, "id"))  # type: ignore[return-value]

    @strawberry.field(
        description="The fields that differ between two revisions.", extensions=allow(HasRole(*EDITORIAL))
    )
    async def compare_revisions(
        self, article_id: strawberry.ID, before: strawberry.ID, after: strawberry.ID
    ) -> list[FieldChange]:
        changes = await resolve.compare_revisions(
            parse_id(article_id, "articleId"), parse_id(before, "before"), parse_id(after, "after")
        )
        return [FieldChange(field=c.field, before=c.before, after=c.after) for c in changes]

    @strawberry.field(
        description="Markdown rendered and sanitised, for the editor's live preview.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    def render_markdown(self, markdown: str) -> str:
        return resolve.render(markdown)

    @strawberry.field(
        description="The audit log, newest first (admins only).", extensions=allow(HasRole(Role.ADMIN))
    )
    async def audit_log(
        self, object_type: str | None = None, object_id: int | None = None, first: int = 50
    ) -> list[AuditEntry]:
        return await resolve.audit_log(object_type, object_id, first)  # type: ignore[return-value]


async def _transition(
    info: Info, action: str, id: strawberry.ID, comment: str | None = None
) -> EditorialArticle:
    return await resolve.transition(action, await signed_in_user(info), parse_id(id, "id"), comment)  # type: ignore[return-value]


@strawberry.type
class CmsMutation:
    @strawberry.mutation(extensions=allow(HasRole(*EDITORIAL)))
    async def create_article(self, info: Info, input: ArticleInput) -> EditorialArticle:
        return await resolve.create_article(await signed_in_user(info), input.fields())  # type: ignore[return-value]

    @strawberry.mutation(
        description="Save a new revision of the draft.", extensions=allow(HasRole(*EDITORIAL))
    )
    async def update_article(self, info: Info, id: strawberry.ID, input: ArticleInput) -> EditorialArticle:
        return await resolve.update_article(await signed_in_user(info), parse_id(id, "id"), input.fields())  # type: ignore[return-value]

    @strawberry.mutation(description="Send the draft for review.", extensions=allow(HasRole(*EDITORIAL)))
    async def submit_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "submit", id)

    @strawberry.mutation(
        description="Approve a reviewed draft: it goes live, or waits for goLiveAt.",
        extensions=allow(REVIEWERS),
    )
    async def approve_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "approve", id)

    @strawberry.mutation(
        description="Send a reviewed draft back to its editor with a comment.", extensions=allow(REVIEWERS)
    )
    async def reject_article(self, info: Info, id: strawberry.ID, comment: str) -> EditorialArticle:
        return await _transition(info, "reject", id, comment)

    @strawberry.mutation(
        description="Publish the latest revision now (or at goLiveAt).", extensions=allow(REVIEWERS)
    )
    async def publish_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "publish", id)

    @strawberry.mutation(extensions=allow(REVIEWERS))
    async def unpublish_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "unpublish", id)

    @strawberry.mutation(extensions=allow(REVIEWERS))
    async def archive_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "archive", id)

    @strawberry.mutation(extensions=allow(REVIEWERS))
    async def unarchive_article(self, info: Info, id: strawberry.ID) -> EditorialArticle:
        return await _transition(info, "unarchive", id)

    @strawberry.mutation(
        description="Make an old revision the new draft (never publishes).",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def restore_article_revision(
        self, info: Info, id: strawberry.ID, revision_id: strawberry.ID
    ) -> EditorialArticle:
        return await resolve.restore(
            await signed_in_user(info), parse_id(id, "id"), parse_id(revision_id, "revisionId")
        )  # type: ignore[return-value]

    @strawberry.mutation(
        description="A signed link to the latest draft, valid for a limited time.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def create_preview_link(self, info: Info, id: strawberry.ID) -> PreviewLink:
        config = info.context.config
        token = await resolve.preview_token(config.secret, parse_id(id, "id"))
        return PreviewLink(
            url=info.context.url_for_path(f"/preview/{token}"),
            token=token,
            expires_at=dt.datetime.now(dt.UTC) + config.preview_lifetime,
        )
