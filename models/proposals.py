"""Partners' proposals of new services, or of changes to their own, awaiting moderation."""

from __future__ import annotations

from typing import Any

from tortoise import fields
from tortoise.models import Model

from models.accounts import User
from models.catalogue import Partner, Service
from models.enums import ProposalStatus


class ServiceProposal(Model):
    id = fields.IntField(primary_key=True)
    partner: fields.ForeignKeyRelation[Partner] = fields.ForeignKeyField(
        "store.Partner", related_name="proposals", on_delete=fields.CASCADE
    )
    partner_id: int
    submitted_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="proposals", null=True, on_delete=fields.SET_NULL
    )
    submitted_by_id: int | None
    # Null for a new service; the service to change otherwise.
    service: fields.ForeignKeyNullableRelation[Service] = fields.ForeignKeyField(
        "store.Service", related_name="proposals", null=True, on_delete=fields.CASCADE
    )
    service_id: int | None
    payload: fields.Field[dict[str, Any]] = fields.JSONField()
    status = fields.CharEnumField(
        ProposalStatus, max_length=16, default=ProposalStatus.PENDING, db_index=True
    )
    reason = fields.TextField(null=True)
    reviewed_by: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="reviewed_proposals", null=True, on_delete=fields.SET_NULL
    )
    reviewed_by_id: int | None
    reviewed_at = fields.DatetimeField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "service_proposal"
