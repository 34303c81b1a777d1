"""Revisions: a full JSON snapshot of an object at every save; listing, comparing, restoring."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from models.accounts import User
from models.cms import Revision
from models.errors import BadUserInput, NotFound


async def save_revision(
    object_type: str,
    object_id: int,
    snapshot: dict[str, Any],
    author: User | None,
    message: str | None = None,
) -> Revision:
    return await Revision.create(
        object_type=object_type, object_id=object_id, snapshot=snapshot, author=author, message=message
    )


async def revisions_of(object_type: str, object_id: int) -> list[Revision]:
    return (
        await Revision.filter(object_type=object_type, object_id=object_id)
        .order_by("-created_at", "-id")
        .select_related("author")
    )


async def get_revision(object_type: str, object_id: int, revision_id: int) -> Revision:
    revision = await Revision.get_or_none(id=revision_id, object_type=object_type, object_id=object_id)
    if revision is None:
        raise NotFound(f"no revision {revision_id} of this {object_type}", revision=revision_id)
    return revision


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: Any
    after: Any


def compare(before: Revision, after: Revision) -> list[FieldChange]:
    """The fields whose values differ between two revisions of the same object, in a stable order."""
    if (before.object_type, before.object_id) != (after.object_type, after.object_id):
        raise BadUserInput("both revisions must belong to the same object")
    fields = sorted(set(before.snapshot) | set(after.snapshot))
    return [
        FieldChange(name, before.snapshot.get(name), after.snapshot.get(name))
        for name in fields
        if before.snapshot.get(name) != after.snapshot.get(name)
    ]
