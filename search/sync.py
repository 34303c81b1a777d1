"""Keeping the indexes in step with the content.

The database backend is written in the same transaction as the change (it lives in the same
database). An external index gets an outbox row in that transaction too, and a worker applies
the outbox in bulk later, with retries: a write never fails, and no update is lost, while
Elasticsearch is down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass

from tortoise.expressions import Q

from models.search import SearchOutboxEntry
from search.backend import ContentType
from search.documents import documents_for, key_of
from search.registry import database_backend, external_backend

log = logging.getLogger("emploi_store.search")
LEASE = dt.timedelta(minutes=2)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def content_changed(keys: Iterable[str]) -> None:
    """Call inside the transaction that changed these objects (published, edited, taken down)."""
    keys = sorted(set(keys))
    if not keys:
        return
    documents, gone = await documents_for(keys)
    backend = database_backend()
    if documents:
        await backend.index(documents)
    if gone:
        await backend.delete(gone)
    if external_backend() is not None:
        now = _now()
        await SearchOutboxEntry.bulk_create([SearchOutboxEntry(key=key, next_attempt_at=now) for key in keys])


async def services_changed(ids: Iterable[int]) -> None:
    await content_changed(key_of(ContentType.SERVICE, i) for i in ids)


async def articles_changed(ids: Iterable[int]) -> None:
    await content_changed(key_of(ContentType.ARTICLE, i) for i in ids)


@dataclass(frozen=True)
class DrainReport:
    applied: int
    failed: int
    pending: int


async def drain_outbox(batch: int = 500, now: dt.datetime | None = None) -> DrainReport:
    """Applies due outbox rows to the external index in one bulk call, idempotently.

    Rows are claimed by a conditional update (a lease), so two workers never apply the same row
    at once; a failure puts the rows back with exponential backoff.
    """
    external = external_backend()
    if external is None:
        return DrainReport(0, 0, 0)
    now = now or _now()
    due = (
        await SearchOutboxEntry.filter(processed_at__isnull=True, next_attempt_at__lte=now)
        .order_by("id")
        .limit(batch)
    )
    claimed = []
    for entry in due:
        taken = await SearchOutboxEntry.filter(
            Q(id=entry.id, attempts=entry.attempts, processed_at__isnull=True)
        ).update(attempts=entry.attempts + 1, next_attempt_at=now + LEASE)
        if taken:
            entry.attempts += 1
            claimed.append(entry)
    if not claimed:
        return DrainReport(0, 0, await _pending())
    try:
        # The current state of each object is what is applied: replaying an old row is harmless.
        documents, gone = await documents_for(entry.key for entry in claimed)
        if documents:
            await external.index(documents)
        if gone:
            await external.delete(gone)
    except Exception as exc:  # the index is unreachable or refused: retry later
        log.warning("search outbox: %s rows not applied: %s", len(claimed), exc)
        for entry in claimed:
            delay = dt.timedelta(seconds=min(2 ** entry.attempts, 3600))
            await SearchOutboxEntry.filter(id=entry.id).update(
                next_attempt_at=now + delay, last_error=str(exc)[:1000]
            )
        return DrainReport(0, len(claimed), await _pending())
    await SearchOutboxEntry.filter(id__in=[entry.id for entry in claimed]).update(processed_at=now, last_error=None)
    return DrainReport(len(claimed), 0, await _pending())


async def _pending() -> int:
    return await SearchOutboxEntry.filter(processed_at__isnull=True).count()


async def rebuild_database_index() -> int:
    """Re-indexes everything into the database backend (after a migration, or to repair it)."""
    from search.documents import all_documents

    backend = database_backend()
    await backend.setup()
    await backend.clear()
    documents = await all_documents()
    await backend.index(documents)
    return len(documents)
