"""What developers building on the API hold: their API keys."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model

from models.accounts import User


class ApiKey(Model):
    """A developer's key for the X-Api-Key header. Only a SHA-256 hash of the key is stored."""

    id = fields.IntField(primary_key=True)
    user: fields.ForeignKeyRelation[User] = fields.ForeignKeyField(
        "store.User", related_name="api_keys", on_delete=fields.CASCADE
    )
    user_id: int
    name = fields.CharField(max_length=80)
    # The first characters after "es_", so a developer can tell their keys apart in a list.
    prefix = fields.CharField(max_length=8)
    key_hash = fields.CharField(max_length=64, unique=True, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    last_used_at = fields.DatetimeField(null=True)
    revoked_at = fields.DatetimeField(null=True)

    class Meta:
        table = "api_key"
