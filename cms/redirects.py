"""Sending people on to a service: only ever to a URL stored for it, and every time recorded."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from cms.catalogue import published_services
from models.catalogue import Service, ServiceLink
from models.enums import Platform, RedirectSource
from models.errors import NotFound
from models.events import RedirectEvent

# `?from=` names a source, or carries a recommendation id.
_NAMED_SOURCES = {s.value: s for s in RedirectSource if s is not RedirectSource.RECOMMENDATION}
_RECOMMENDATION_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


@dataclass(frozen=True)
class Origin:
    source: RedirectSource
    ref: str | None = None


def parse_origin(value: str | None) -> Origin:
    """Reads `from`: a source name, or a recommendation id; anything else counts as a direct visit.

    A bad tracking value never stops someone reaching the service, and is not stored.
    """
    if not value:
        return Origin(RedirectSource.DIRECT)
    named = _NAMED_SOURCES.get(value)
    if named is not None:
        return Origin(named)
    if _RECOMMENDATION_ID.match(value):
        return Origin(RedirectSource.RECOMMENDATION, value)
    return Origin(RedirectSource.DIRECT)


@dataclass(frozen=True)
class Redirect:
    service: Service
    url: str
    event: RedirectEvent


async def follow_link(service_slug: str, platform: Platform, origin: Origin, visitor: str | None) -> Redirect:
    service = await published_services().get_or_none(slug=service_slug)
    if service is None:
        raise NotFound(f"no published service with slug {service_slug!r}", slug=service_slug)
    link = await ServiceLink.get_or_none(service_id=service.id, platform=platform)
    if link is None:
        raise NotFound(
            f"{service.name} has no link for {platform.value}", slug=service_slug, platform=platform.value
        )
    async with in_transaction():
        event = await RedirectEvent.create(
            service_id=service.id,
            platform=platform,
            source=origin.source,
            source_ref=origin.ref,
            visitor=visitor,
        )
        await Service.filter(id=service.id).update(redirect_count=F("redirect_count") + 1)
    service.redirect_count += 1
    return Redirect(service=service, url=link.url, event=event)
