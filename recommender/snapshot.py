"""The recommendable catalogue, read once and kept in memory between recommendations.

Only published, free services enter it. When this process writes a service (Tortoise signals)
the next recommendation rebuilds it first. Every `max_age` seconds a cheap stamp (how many
published free services, and the latest change) is read in the background to notice other
workers' writes; only a changed stamp rebuilds, also in the background, while the old snapshot
keeps serving. Staleness can never put an unpublished or paid service in front of anyone:
`serving.recommend` re-checks the chosen services against the database before answering.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tortoise.functions import Count, Max
from tortoise.signals import post_delete, post_save

from cms.catalogue import published_services
from models.catalogue import Service, ServiceCategory, ServiceLink
from recommender.features import ServiceContent

log = logging.getLogger("emploi_store.recommender")


Stamp = tuple[int, str]


@dataclass
class Snapshot:
    generation: int
    services: tuple[ServiceContent, ...]
    stamp: Stamp
    checked_at: float


async def catalogue_stamp() -> Stamp:
    row = await published_services().annotate(n=Count("id"), last=Max("updated_at")).values("n", "last")
    first = row[0] if row else {}
    return int(first.get("n") or 0), str(first.get("last"))


async def load_contents() -> list[ServiceContent]:
    services = (
        await published_services()
        .order_by("id")
        .only("id", "slug", "name", "short_description", "kind", "tags", "redirect_count")
    )
    ids = [s.id for s in services]
    categories: dict[int, list[str]] = defaultdict(list)
    platforms: dict[int, list[str]] = defaultdict(list)
    if ids:
        for service_id, slug in (
            await ServiceCategory.filter(service_id__in=ids)
            .order_by("service_id", "position")
            .values_list("service_id", "category__slug")
        ):
            categories[int(service_id)].append(str(slug))
        for service_id, platform in await ServiceLink.filter(service_id__in=ids).values_list(
            "service_id", "platform"
        ):
            platforms[int(service_id)].append(str(getattr(platform, "value", platform)))
    return [
        ServiceContent(
            service_id=s.id,
            slug=s.slug,
            name=s.name,
            short_description=s.short_description,
            categories=tuple(categories[s.id]),
            kind=s.kind.value,
            platforms=tuple(sorted(platforms[s.id])),
            tags=tuple(s.tags or ()),
            popularity=s.redirect_count,
        )
        for s in services
    ]


class SnapshotCache:
    def __init__(self, max_age: float = 30.0) -> None:
        self.max_age = max_age
        self._generation = 0
        self._snapshot: Snapshot | None = None
        self._lock = asyncio.Lock()
        self._revalidating: asyncio.Task[None] | None = None

    def invalidate(self) -> None:
        self._generation += 1

    async def get(self) -> Snapshot:
        snapshot = self._snapshot
        if snapshot is not None and snapshot.generation == self._generation:
            if time.monotonic() - snapshot.checked_at >= self.max_age and (
                self._revalidating is None or self._revalidating.done()
            ):
                self._revalidating = asyncio.create_task(self._revalidate(snapshot))
            return snapshot
        async with self._lock:  # this process changed the catalogue: rebuild before answering
            if self._snapshot is None or self._snapshot.generation != self._generation:
                self._snapshot = await self._build()
            return self._snapshot

    async def _build(self) -> Snapshot:
        generation = self._generation
        stamp = await catalogue_stamp()
        services = tuple(await load_contents())
        return Snapshot(generation, services, stamp, time.monotonic())

    async def _revalidate(self, snapshot: Snapshot) -> None:
        try:
            if await catalogue_stamp() == snapshot.stamp:
                snapshot.checked_at = time.monotonic()  # same services object: vectors stay cached
                return
            async with self._lock:
                fresh = await self._build()
                if self._snapshot is snapshot:
                    self._snapshot = fresh
        except Exception:  # the old snapshot keeps serving; the next request tries again
            log.exception("recommender catalogue refresh failed")
            snapshot.checked_at = time.monotonic()


cache = SnapshotCache()


async def _changed(*args: Any, **kwargs: Any) -> None:
    cache.invalidate()


for _model in (Service, ServiceCategory, ServiceLink):
    post_save(_model)(_changed)
    post_delete(_model)(_changed)
