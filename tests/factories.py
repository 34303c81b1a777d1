"""Builders for catalogue rows, written through the ORM into the real test database."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Sequence

from cms.catalogue import sort_key
from cms.seed import CATEGORIES
from models.catalogue import Category, Partner, Service, ServiceCategory, ServiceLink
from models.enums import PartnerKind, Platform, ServiceKind, ServiceStatus

_numbers = itertools.count(1)


async def make_categories() -> dict[str, Category]:
    result = {}
    for position, (slug, name, description) in enumerate(CATEGORIES):
        result[slug], _ = await Category.get_or_create(
            slug=slug, defaults={"name": name, "description": description, "position": position}
        )
    return result


async def make_partner(slug: str | None = None, kind: PartnerKind = PartnerKind.STARTUP) -> Partner:
    n = next(_numbers)
    slug = slug or f"partenaire-{n}"
    partner, _ = await Partner.get_or_create(slug=slug, defaults={"name": f"Partenaire {slug}", "kind": kind})
    return partner


async def make_public_employment_service() -> Partner:
    return await make_partner("pole-emploi", PartnerKind.PUBLIC_EMPLOYMENT_SERVICE)


async def make_service(
    slug: str | None = None,
    *,
    name: str | None = None,
    categories: Sequence[str] = ("trouver-un-emploi",),
    kind: ServiceKind = ServiceKind.WEBSITE,
    provider: Partner | None = None,
    links: dict[Platform, str] | None = None,
    status: ServiceStatus = ServiceStatus.PUBLISHED,
    free: bool = True,
    published_at: dt.datetime | None = None,
    redirect_count: int = 0,
    tags: Sequence[str] = (),
) -> Service:
    n = next(_numbers)
    slug = slug or f"service-{n}"
    name = name or f"Service d'essai {slug}"
    known = await make_categories()
    provider = provider or await make_partner()
    service = await Service.create(
        slug=slug,
        name=name,
        sort_name=sort_key(name),
        short_description=f"Courte description de {name}.",
        long_description=f"Description détaillée de {name}, pour les tests.",
        kind=kind,
        provider=provider,
        free=free,
        tags=list(tags),
        status=status,
        published_at=published_at
        or (
            dt.datetime(2016, 1, 1, tzinfo=dt.UTC) + dt.timedelta(days=n)
            if status is ServiceStatus.PUBLISHED
            else None
        ),
        redirect_count=redirect_count,
    )
    for position, category in enumerate(categories):
        await ServiceCategory.create(service=service, category=known[category], position=position)
    for platform, url in (links or {Platform.WEB: f"https://{slug}.example.org/"}).items():
        await ServiceLink.create(service=service, platform=platform, url=url)
    return service
