"""The search outbox: content changes waiting to reach an external index (Elasticsearch)."""

from __future__ import annotations

from tortoise import fields
from tortoise.models import Model


class SearchOutboxEntry(Model):
    """Written in the same transaction as the change, so no update is lost while the index is down."""

    id = fields.BigIntField(primary_key=True)
    # "service:12" or "article:7"; the worker reads the object's current state when it applies it.
    key = fields.CharField(max_length=64, db_index=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    attempts = fields.IntField(default=0)
    next_attempt_at = fields.DatetimeField(db_index=True)
    processed_at = fields.DatetimeField(null=True, db_index=True)
    last_error = fields.TextField(null=True)

    class Meta:
        table = "search_outbox"
