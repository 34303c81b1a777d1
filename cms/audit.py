"""The audit log: every editorial action, who did it and when."""

from __future__ import annotations

from typing import Any

from models.accounts import User
from models.cms import AuditLogEntry


async def record(
    actor: User | None, action: str, object_type: str, object_id: int | None, **data: Any
) -> AuditLogEntry:
    return await AuditLogEntry.create(
        actor=actor, action=action, object_type=object_type, object_id=object_id, data=data
    )
