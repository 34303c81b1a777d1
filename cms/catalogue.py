"""Catalogue rules: what the public sees, how it is filtered, ordered and paged."""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from tortoise.expressions import Q, Subquery
from tortoise.functions import Count
from tortoise.queryset import QuerySet

from cms.paging import (
    DEFAULT_PAGE_SIZE,
    Page,
    decode_cursor,
    encode_cursor,
    malformed_cursor,
    page_size,
)
from models.catalogue import Category, Partner, Service, ServiceCategory, ServiceLink
from models.enums import PartnerKind, Platform, ServiceKind, ServiceStatus
from models.errors import BadUserInput, NotFound

MAX_FILTER_VALUES = 20


class ServiceOrder(StrEnum):
    RATING = "rating"
    POPULARITY = "popularity"
    NEWEST = "newest"
    NAME = "name"


# Each ordering ends on a unique column so that a cursor names exactly one position.
_ORDER_KEYS: dict[ServiceOrder, tuple[tuple[str, bool], ...]] = {
    # (column, descending)
    ServiceOrder.RATING: (("rating_average", True), ("rating_count", True), ("id", False)),
    ServiceOrder.POPULARITY: (("redirect_count", True), ("id", False)),
    ServiceOrder.NEWEST: (("published_at", True), ("id", True)),
    ServiceOrder.NAME: (("sort_name", False), ("id", False)),
}


def sort_key(text: str) -> str:
    """Case- and accent-insensitive form of a name, the same on every database."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))[:120]


@dataclass(frozen=True)
class ServiceFilter:
    categories: Sequence[str] = ()
    kinds: Sequence[ServiceKind] = ()
    platforms: Sequence[Platform] = ()
    provided_by_public_service: bool | None = None
    min_rating: float | None = None


def published_services() -> QuerySet[Service]:
    """The only services anyone outside the editorial team may see."""
    return Service.filter(status=ServiceStatus.PUBLISHED, free=True)


async def _check_filter(service_filter: ServiceFilter) -> None:
    for name, values in (
        ("categories", service_filter.categories),
        ("kinds", service_filter.kinds),
        ("platforms", service_filter.platforms),
    ):
        if len(values) > MAX_FILTER_VALUES:
            raise BadUserInput(
                f"filter.{name} takes at most {MAX_FILTER_VALUES} values", field=f"filter.{name}"
            )
    if service_filter.min_rating is not None and not 0 <= service_filter.min_rating <= 5:
        raise BadUserInput("filter.minRating must lie between 0 and 5", field="filter.minRating")
    if service_filter.categories:
        wanted = set(service_filter.categories)
        known = set(await Category.filter(slug__in=list(wanted)).values_list("slug", flat=True))
        unknown = sorted(wanted - known)
        if unknown:
            raise BadUserInput(f"unknown category: {', '.join(unknown)}", field="filter.categories")


def _apply_filter(query: QuerySet[Service], service_filter: ServiceFilter) -> QuerySet[Service]:
    if service_filter.categories:
        in_categories = ServiceCategory.filter(category__slug__in=list(service_filter.categories))
        query = query.filter(id__in=Subquery(in_categories.values("service_id")))
    if service_filter.kinds:
        query = query.filter(kind__in=list(service_filter.kinds))
    if service_filter.platforms:
        on_platforms = ServiceLink.filter(platform__in=list(service_filter.platforms))
        query = query.filter(id__in=Subquery(on_platforms.values("service_id")))
    if service_filter.provided_by_public_service is not None:
        public = Partner.filter(kind=PartnerKind.PUBLIC_EMPLOYMENT_SERVICE).values("id")
        if service_filter.provided_by_public_service:
            query = query.filter(provider_id__in=Subquery(public))
        else:
            query = query.exclude(provider_id__in=Subquery(public))
    if service_filter.min_rating is not None and service_filter.min_rating > 0:
        query = query.filter(rating_count__gt=0, rating_average__gte=service_filter.min_rating)
    return query


def _encode_cursor(order: ServiceOrder, service: Service) -> str:
    values: list[Any] = []
    for column, _ in _ORDER_KEYS[order]:
        value = getattr(service, column)
        values.append(value.isoformat() if isinstance(value, dt.datetime) else value)
    return encode_cursor([order.value, values])


def _decode_cursor(order: ServiceOrder, cursor: str) -> list[Any]:
    payload = decode_cursor(cursor)
    try:
        order_name, values = payload
        keys = _ORDER_KEYS[order]
        if order_name != order.value or not isinstance(values, list) or len(values) != len(keys):
            raise ValueError("cursor from another ordering")
        decoded: list[Any] = []
        for (column, _), value in zip(keys, values, strict=True):
            if column == "published_at":
                decoded.append(dt.datetime.fromisoformat(value))
            elif column in ("id", "redirect_count", "rating_count"):
                if not isinstance(value, int) or isinstance(value, bool):
                    raise ValueError(column)
                decoded.append(value)
            elif column == "rating_average":
                if not isinstance(value, int | float) or isinstance(value, bool):
                    raise ValueError(column)
                decoded.append(float(value))
            else:
                if not isinstance(value, str):
                    raise ValueError(column)
                decoded.append(value)
        return decoded
    except (ValueError, TypeError) as exc:
        raise malformed_cursor() from exc


def _after(order: ServiceOrder, values: list[Any]) -> Q:
    """Rows strictly after the cursor position in the given ordering (keyset pagination)."""
    keys = _ORDER_KEYS[order]
    branches = []
    for i, (column, descending) in enumerate(keys):
        equal_before = {keys[j][0]: values[j] for j in range(i)}
        beyond = {f"{column}__{'lt' if descending else 'gt'}": values[i]}
        branches.append(Q(**equal_before, **beyond))
    return Q(*branches, join_type=Q.OR)


async def list_services(
    service_filter: ServiceFilter | None = None,
    order: ServiceOrder = ServiceOrder.RATING,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Page[Service]:
    """One page of published services, with the query that counts them all."""
    first = page_size(first)
    service_filter = service_filter or ServiceFilter()
    await _check_filter(service_filter)
    filtered = _apply_filter(published_services(), service_filter)
    query = filtered
    if after:
        query = query.filter(_after(order, _decode_cursor(order, after)))
    ordering = [f"-{column}" if descending else column for column, descending in _ORDER_KEYS[order]]
    rows = await query.order_by(*ordering).limit(first + 1) if first else []
    return Page.of_rows(list(rows), first, after, lambda s: _encode_cursor(order, s), filtered)


async def get_published_service(slug: str) -> Service:
    service = await published_services().get_or_none(slug=slug)
    if service is None:
        raise NotFound(f"no published service with slug {slug!r}", slug=slug)
    return service


async def get_category(slug: str) -> Category:
    category = await Category.get_or_none(slug=slug)
    if category is None:
        raise NotFound(f"no category with slug {slug!r}", slug=slug)
    return category


async def published_counts_by_category() -> dict[int, int]:
    rows = (
        await ServiceCategory.filter(service__status=ServiceStatus.PUBLISHED, service__free=True)
        .group_by("category_id")
        .annotate(n=Count("id"))
        .values_list("category_id", "n")
    )
    return {category_id: n for category_id, n in rows}


async def related_services(service_ids: Sequence[int], limit: int) -> dict[int, list[Service]]:
    """For each service, the published services sharing most categories, most visited first."""
    links = await ServiceCategory.filter(service_id__in=list(service_ids)).values_list(
        "service_id", "category_id"
    )
    categories_of: dict[int, set[int]] = {}
    for service_id, category_id in links:
        categories_of.setdefault(service_id, set()).add(category_id)
    wanted = {c for cats in categories_of.values() for c in cats}
    if not wanted:
        return {service_id: [] for service_id in service_ids}
    # Candidates: the most visited published services of each wanted category.
    per_category = max(limit * 4, 20)
    candidates = (
        await published_services()
        .filter(id__in=Subquery(ServiceCategory.filter(category_id__in=list(wanted)).values("service_id")))
        .order_by("-redirect_count", "-rating_average", "id")
        .limit(per_category * len(wanted))
        .prefetch_related("categories")
    )
    result: dict[int, list[Service]] = {}
    for service_id in service_ids:
        mine = categories_of.get(service_id, set())
        scored = []
        for position, candidate in enumerate(candidates):
            if candidate.id == service_id:
                continue
            shared = len(mine & {link.category_id for link in candidate.categories})
            if shared:
                scored.append((-shared, position, candidate))
        scored.sort(key=lambda item: item[:2])
        result[service_id] = [candidate for _, _, candidate in scored[:limit]]
    return result


def check_publishable(service: Service) -> None:
    """A service that is not free is never published."""
    if not service.free:
        raise BadUserInput("a service that is not free cannot be published", slug=service.slug)
