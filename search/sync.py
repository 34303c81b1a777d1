"""Keeping the indexes in step with the content.

The database backend is written in the same transaction as the change (it lives in the same
database). An external index gets an outbox row in that transaction too, and a worker applies
the outbox in bulk later, with retries: a write never fails, and no update is lost, while
Elasticsearch is down.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import defaultdict
from collections.abc import Awaitable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from tortoise.expressions import F, Q

from models.search import SearchOutboxEntry
from search import registry
from search.backend import ContentType, SearchDocument
from search.documents import documents_for, key_of
from search.errors import DocumentsRejected

log = logging.getLogger("emploi_store.search")
# How long a worker holds the rows it claimed; past it, another worker may take them over.
LEASE = dt.timedelta(minutes=2)
MAX_BACKOFF = dt.timedelta(hours=1)
# Applied rows are kept this long (a reindex replays the recent ones), then forgotten.
KEEP_APPLIED = dt.timedelta(days=7)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class VersionedIndex(Protocol):
    """What the outbox needs of an external backend: writes carrying a version per key."""

    async def index(
        self, documents: Sequence[SearchDocument], versions: Mapping[str, int] | None = None
    ) -> None: ...

    async def delete(self, keys: Sequence[str], versions: Mapping[str, int] | None = None) -> None: ...


async def content_changed(keys: Iterable[str]) -> None:
    """Call inside the transaction that changed these objects (published, edited, taken down)."""
    keys = sorted(set(keys))
    if not keys:
        return
    documents, gone = await documents_for(keys)
    backend = registry.database_backend()
    if documents:
        await backend.index(documents)
    if gone:
        await backend.delete(gone)
    if registry.external_backend() is not None:
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
    """Applies due outbox rows to the external index in bulk, idempotently.

    Rows are claimed by a conditional update (a lease), so two workers never apply the same row
    at once; a failure puts the rows back with exponential backoff, and documents the index refuses
    are retried alone. Each key is written with the id of its newest claimed row as its external
    version, so a late or replayed write never replaces a newer one in the index.
    """
    external = registry.external_backend()
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
        # `attempts` is the claim token: it changes with every claim, so only one worker wins.
        taken = await SearchOutboxEntry.filter(
            Q(id=entry.id, attempts=entry.attempts, processed_at__isnull=True)
        ).update(attempts=entry.attempts + 1, next_attempt_at=now + LEASE)
        if taken:
            entry.attempts += 1
            claimed.append(entry)
    if not claimed:
        return DrainReport(0, 0, await _pending())
    versions: dict[str, int] = {}
    for entry in claimed:
        versions[entry.key] = max(entry.id, versions.get(entry.key, 0))
    target = cast(VersionedIndex, external)
    rejected: dict[str, str] = {}
    try:
        # The current state of each object is what is applied: replaying an old row is harmless.
        documents, gone = await documents_for(versions)
        if documents:
            rejected |= await _refused(target.index(documents, versions))
        if gone:
            rejected |= await _refused(target.delete(gone, versions))
    except Exception as exc:  # the index is unreachable or refused: retry later
        log.warning("search outbox: %s rows not applied: %s", len(claimed), exc)
        await _retry_later(claimed, now, str(exc))
        return DrainReport(0, len(claimed), await _pending())
    failed = [entry for entry in claimed if entry.key in rejected]
    if failed:
        log.warning(
            "search outbox: %s rows refused by the index: %s", len(failed), next(iter(rejected.values()))
        )
        await _retry_later(failed, now, next(iter(rejected.values())))
    applied = [entry for entry in claimed if entry.key not in rejected]
    # The time of the write, not of the claim: a reindex replays what was applied after it began.
    settled = await _settle(applied, processed_at=_now(), last_error=None)
    return DrainReport(settled, len(failed), await _pending())


async def _refused(write: Awaitable[None]) -> dict[str, str]:
    """The keys a write refused while applying the others (they alone are retried)."""
    try:
        await write
    except DocumentsRejected as exc:
        return dict.fromkeys(exc.keys, str(exc))
    return {}


async def _settle(entries: Sequence[SearchOutboxEntry], **changes: Any) -> int:
    """Updates the rows this worker still holds (a reindex may have taken them back meanwhile)."""
    by_claim: dict[int, list[int]] = defaultdict(list)
    for entry in entries:
        by_claim[entry.attempts].append(entry.id)
    settled = 0
    for attempts, ids in by_claim.items():
        settled += await SearchOutboxEntry.filter(
            id__in=ids, attempts=attempts, processed_at__isnull=True
        ).update(**changes)
    return settled


async def _retry_later(entries: Sequence[SearchOutboxEntry], now: dt.datetime, error: str) -> None:
    by_claim: dict[int, list[SearchOutboxEntry]] = defaultdict(list)
    for entry in entries:
        by_claim[entry.attempts].append(entry)
    for attempts, group in by_claim.items():
        delay = min(dt.timedelta(seconds=2**attempts), MAX_BACKOFF)
        await _settle(group, next_attempt_at=now + delay, last_error=error[:1000])


async def drain_all(batch: int = 500, max_batches: int = 20) -> DrainReport:
    """Drains until nothing is due, a batch fails or `max_batches` ran; then forgets old applied rows."""
    applied = failed = 0
    report = DrainReport(0, 0, 0)
    if registry.external_backend() is None:
        return report
    for _ in range(max_batches):
        report = await drain_outbox(batch)
        applied += report.applied
        failed += report.failed
        if report.failed or report.applied < batch:
            break
    await prune_outbox()
    return DrainReport(applied, failed, report.pending)


async def prune_outbox(keep: dt.timedelta = KEEP_APPLIED) -> int:
    return await SearchOutboxEntry.filter(processed_at__lt=_now() - keep).delete()


async def replay_applied_since(since: dt.datetime) -> int:
    """Puts back every row applied since `since` and every row not applied yet, claims included.

    Called after a reindex swaps the alias: what a drain wrote to the old index meanwhile must
    reach the new one. Bumping `attempts` voids claims in flight, so their workers cannot mark
    the rows applied; versions make the second application harmless where the first one landed.
    """
    return await SearchOutboxEntry.filter(Q(processed_at__gte=since) | Q(processed_at__isnull=True)).update(
        processed_at=None, next_attempt_at=_now(), attempts=F("attempts") + 1
    )


async def _pending() -> int:
    return await SearchOutboxEntry.filter(processed_at__isnull=True).count()


async def rebuild_database_index() -> int:
    """Re-indexes everything into the database backend (after a migration, or to repair it)."""
    from search.documents import all_documents

    backend = registry.database_backend()
    await backend.setup()
    await backend.clear()
    documents = await all_documents()
    await backend.index(documents)
    return len(documents)
