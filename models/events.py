"""What people do with the catalogue: every tracked redirect to a service."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.catalogue import Service
from models.enums import Platform, RedirectSource


class RedirectEvent(Model):
    id = fields.BigIntField(primary_key=True)
    service: fields.ForeignKeyRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="redirects", on_delete=fields.CASCADE
    )
    service_id: int
    platform = fields.CharEnumField(Platform, max_length=32)
    source = fields.CharEnumField(RedirectSource, max_length=32)
    # A recommendation id when source is "recommendation"; kept as text, not a foreign key,
    # so a redirect is never refused because of what a client put in ?from=.
    source_ref = fields.CharField(max_length=64, null=True, db_index=True)
    visitor = fields.CharField(max_length=80, null=True)
    created_at = fields.DatetimeField(auto_now_add=True, db_index=True)

    class Meta:
        table = "redirect_event"
