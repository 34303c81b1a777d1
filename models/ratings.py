"""Star ratings left by visitors (anonymous signed tokens) or, later, signed-in users."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.catalogue import Service


class Rating(Model):
    id = fields.IntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="ratings", on_delete=fields.CASCADE
    )
    service_id: int
    voter = fields.CharField(max_length=80)
    stars = fields.SmallIntField()
    comment: fields.Field[str | None] = fields.TextField(null=True)  # type: ignore[assignment]
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)

    class Meta:
        table = "rating"
        unique_together = (("service", "voter"),)
