"""Questionnaire versions, and every recommendation shown with what it contained."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.catalogue import Service


class QuestionnaireVersion(Model):
    """A full snapshot of the questionnaire. An edit makes a new version, never changes an old one."""

    id = fields.IntField(primary_key=True)
    version = fields.IntField(unique=True)
    content: fields.Field[dict[str, Any]] = fields.JSONField()
    created_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="questionnaire_versions", null=True, on_delete=fields.SET_NULL
    )
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "questionnaire_version"


class Recommendation(Model):
    """What one anonymous visitor answered and the services they were shown, in order."""

    id = fields.CharField(max_length=40, primary_key=True)  # "rec_…", passed back in /go/…?from=
    questionnaire_version: fields.ForeignKeyRelation[QuestionnaireVersion] = fields.ForeignKeyField(
        "store.QuestionnaireVersion", related_name="recommendations", on_delete=fields.RESTRICT
    )
    questionnaire_version_id: int
    model_version = fields.CharField(max_length=64)
    answers: fields.Field[dict[str, Any]] = fields.JSONField()
    visitor = fields.CharField(max_length=80, null=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "recommendation"


class RecommendationItem(Model):
    id = fields.IntField(primary_key=True)
    recommendation: fields.ForeignKeyRelation[Recommendation] = fields.ForeignKeyField(
        "store.Recommendation", related_name="items", on_delete=fields.CASCADE
    )
    recommendation_id: str
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="recommended", on_delete=fields.CASCADE
    )
    service_id: int
    rank = fields.SmallIntField()
    score = fields.FloatField()
    reason = fields.CharField(max_length=200)

    class Meta:
        table = "recommendation_item"
        unique_together = (("recommendation", "rank"), ("recommendation", "service"))
