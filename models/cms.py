"""Editorial content: articles, their revisions, the audit log and uploaded media."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.catalogue import Service
from models.enums import ArticleKind, ArticleStatus


class Media(Model):
    """An uploaded image and its resized variants, stored under MEDIA_ROOT."""

    id = fields.IntField(primary_key=True)
    # Content-addressed base name, so a URL never changes meaning and can be cached for ever.
    key = fields.CharField(max_length=80, unique=True)
    original_name = fields.CharField(max_length=255)
    content_type = fields.CharField(max_length=64)
    width = fields.IntField()
    height = fields.IntField()
    size = fields.IntField()
    alt_text = fields.CharField(max_length=300)
    variants: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    uploaded_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="media", null=True, on_delete=fields.SET_NULL
    )
    uploaded_by_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "media"


class Article(Model):
    """A blog story, article or news item.

    Its columns hold the version the public sees once `live` is true, copied from a revision
    when it is published. Editors work on `latest_revision`, which may be newer.
    """

    id = fields.IntField(primary_key=True)
    slug = fields.CharField(max_length=120, unique=True)
    kind = fields.CharEnumField(ArticleKind, max_length=16, db_index=True)
    title = fields.CharField(max_length=200)
    summary = fields.CharField(max_length=500)
    body = fields.TextField()
    body_html = fields.TextField()
    cover_image: fields.ForeignKeyNullableRelation[Media] = fields.ForeignKeyField(
        "store.Media", related_name="covers", null=True, on_delete=fields.SET_NULL
    )
    cover_image_id: int | None
    cover_alt = fields.CharField(max_length=300, null=True)
    tags: fields.Field[list[str]] = fields.JSONField(default=list)
    seo_title = fields.CharField(max_length=200, null=True)
    seo_description = fields.CharField(max_length=300, null=True)
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="articles", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    status = fields.CharEnumField(ArticleStatus, max_length=16, default=ArticleStatus.DRAFT, db_index=True)
    live = fields.BooleanField(default=False, db_index=True)
    has_unpublished_changes = fields.BooleanField(default=True)
    go_live_at = fields.DatetimeField(null=True, db_index=True)
    expire_at = fields.DatetimeField(null=True, db_index=True)
    first_published_at = fields.DatetimeField(null=True)
    last_published_at = fields.DatetimeField(null=True, db_index=True)
    review_comment: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]
    latest_revision: fields.ForeignKeyNullableRelation[Revision] = fields.ForeignKeyField(
        "store.Revision", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    latest_revision_id: int | None
    live_revision: fields.ForeignKeyNullableRelation[Revision] = fields.ForeignKeyField(
        "store.Revision", related_name=False, null=True, on_delete=fields.SET_NULL
    )
    live_revision_id: int | None
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "article"


class ArticleService(Model):
    """A catalogue service an article talks about (of the live version)."""

    id = fields.IntField(primary_key=True)
    article: fields.ForeignKeyRelation[Article] = fields.ForeignKeyField(
        "store.Article", related_name="service_links", on_delete=fields.CASCADE
    )
    article_id: int
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="article_links", on_delete=fields.CASCADE
    )
    service_id: int
    position = fields.SmallIntField(default=0)

    class Meta:
        table = "article_service"
        unique_together = (("article", "service"),)


class ArticleTag(Model):
    """A tag of the live version, kept in its own table so tag filters are plain SQL."""

    id = fields.IntField(primary_key=True)
    article: fields.ForeignKeyRelation[Article] = fields.ForeignKeyField(
        "store.Article", related_name="tag_rows", on_delete=fields.CASCADE
    )
    article_id: int
    tag = fields.CharField(max_length=60, db_index=True)

    class Meta:
        table = "article_tag"
        unique_together = (("article", "tag"),)


class Revision(Model):
    """A full JSON snapshot of any editable object, taken at every save."""

    id = fields.IntField(primary_key=True)
    object_type = fields.CharField(max_length=32)
    object_id = fields.IntField()
    snapshot: fields.Field[dict[str, Any]] = fields.JSONField()
    author: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="revisions", null=True, on_delete=fields.SET_NULL
    )
    author_id: int | None
    message = fields.CharField(max_length=300, null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "revision"
        indexes = (("object_type", "object_id"),)


class AuditLogEntry(Model):
    """Who did what to which object, and when."""

    id = fields.BigIntField(primary_key=True)
    actor: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="audit_entries", null=True, on_delete=fields.SET_NULL
    )
    actor_id: int | None
    action = fields.CharField(max_length=64, db_index=True)
    object_type = fields.CharField(max_length=32)
    object_id = fields.IntField(null=True)
    data: fields.Field[dict[str, Any]] = fields.JSONField(default=dict)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "audit_log"
        indexes = (("object_type", "object_id"),)
