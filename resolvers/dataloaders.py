"""One DataLoader per relation, keyed by id, made fresh for every request."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from cms.blog import related_published_services
from cms.catalogue import published_counts_by_category, published_services, related_services
from models.accounts import User
from models.catalogue import Category, Partner, Service, ServiceCategory, ServiceLink
from models.cms import Media


async def _categories_by_service(service_ids: Sequence[int]) -> list[list[Category]]:
    rows = (
        await ServiceCategory.filter(service_id__in=list(service_ids))
        .select_related("category")
        .order_by("position", "category__position")
    )
    grouped: dict[int, list[Category]] = defaultdict(list)
    for row in rows:
        grouped[row.service_id].append(row.category)
    return [grouped[service_id] for service_id in service_ids]


async def _links_by_service(service_ids: Sequence[int]) -> list[list[ServiceLink]]:
    rows = await ServiceLink.filter(service_id__in=list(service_ids)).order_by("id")
    grouped: dict[int, list[ServiceLink]] = defaultdict(list)
    for row in rows:
        grouped[row.service_id].append(row)
    return [grouped[service_id] for service_id in service_ids]


async def _partners(partner_ids: Sequence[int]) -> list[Partner | None]:
    found = {p.id: p for p in await Partner.filter(id__in=list(partner_ids))}
    return [found.get(partner_id) for partner_id in partner_ids]


async def _published_counts(category_ids: Sequence[int]) -> list[int]:
    counts = await published_counts_by_category()
    return [counts.get(category_id, 0) for category_id in category_ids]


async def _related(keys: Sequence[tuple[int, int]]) -> list[list[Service]]:
    by_limit: dict[int, list[int]] = defaultdict(list)
    for service_id, limit in keys:
        by_limit[limit].append(service_id)
    found: dict[tuple[int, int], list[Service]] = {}
    for limit, service_ids in by_limit.items():
        for service_id, services in (await related_services(service_ids, limit)).items():
            found[(service_id, limit)] = services
    return [found.get(key, []) for key in keys]


async def _published_services(service_ids: Sequence[int]) -> list[Service | None]:
    found = {s.id: s for s in await published_services().filter(id__in=list(service_ids))}
    return [found.get(service_id) for service_id in service_ids]


async def _services_any_status(service_ids: Sequence[int]) -> list[Service | None]:
    """Drafts included: only for fields behind a partner's or an editor's permission."""
    found = {s.id: s for s in await Service.filter(id__in=list(service_ids))}
    return [found.get(service_id) for service_id in service_ids]


async def _users(user_ids: Sequence[int]) -> list[User | None]:
    found = {u.id: u for u in await User.filter(id__in=list(user_ids))}
    return [found.get(user_id) for user_id in user_ids]


async def _media(media_ids: Sequence[int]) -> list[Media | None]:
    found = {m.id: m for m in await Media.filter(id__in=list(media_ids))}
    return [found.get(media_id) for media_id in media_ids]


async def _article_services(article_ids: Sequence[int]) -> list[list[Service]]:
    found = await related_published_services(list(article_ids))
    return [found.get(article_id, []) for article_id in article_ids]


class Loaders:
    """The request's DataLoaders; reads within one request are batched and cached."""

    def __init__(self) -> None:
        self.categories_by_service = DataLoader(_categories_by_service)
        self.links_by_service = DataLoader(_links_by_service)
        self.partner = DataLoader(_partners)
        self.published_count_by_category = DataLoader(_published_counts)
        self.related_services = DataLoader(_related)
        self.user = DataLoader(_users)
        self.media = DataLoader(_media)
        self.article_services = DataLoader(_article_services)
        self.service_any_status = DataLoader(_services_any_status)
        self.services_by_id = DataLoader(_published_services)
