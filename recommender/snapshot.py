"""The recommendable catalogue, read once and kept in memory between recommendations.

Only published, free services enter it. It is rebuilt lazily when this process writes a service
(Tortoise signals) and at least every `max_age` seconds (other workers' writes). Staleness can
never put an unpublished or paid service in front of anyone: `serving.recommend` re-checks the
chosen services against the database before answering.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tortoise.signals import post_delete, post_save

from cms.catalogue import published_services
from models.catalogue import Service, ServiceCategory, ServiceLink
from recommender.features import ServiceContent


@dataclass(frozen=True)
class Snapshot:
    generation: int
    services: tuple[ServiceContent, ...]
    built_at: float


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

    def invalidate(self) -> None:
        self._generation += 1

    def _fresh(self, snapshot: Snapshot | None) -> bool:
        return (
            snapshot is not None
            and snapshot.generation == self._generation
            and time.monotonic() - snapshot.built_at < self.max_age
        )

    async def get(self) -> Snapshot:
        if self._fresh(self._snapshot):
            assert self._snapshot is not None
            return self._snapshot
        async with self._lock:  # one rebuild at a time; the others wait for it
            if not self._fresh(self._snapshot):
                generation = self._generation
                services = tuple(await load_contents())
                self._snapshot = Snapshot(generation, services, time.monotonic())
            assert self._snapshot is not None
            return self._snapshot


cache = SnapshotCache()


async def _changed(*args: Any, **kwargs: Any) -> None:
    cache.invalidate()


for _model in (Service, ServiceCategory, ServiceLink):
    post_save(_model)(_changed)
    post_delete(_model)(_changed)
