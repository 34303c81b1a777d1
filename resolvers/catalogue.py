"""Resolvers of the catalogue's root fields: read the arguments, call one domain function."""

from __future__ import annotations

from cms import catalogue, ratings, redirects
from cms.paging import Page
from models.catalogue import Category, Service
from models.enums import Platform, ServiceKind


async def categories() -> list[Category]:
    return await Category.all().order_by("position")


async def category(slug: str) -> Category:
    return await catalogue.get_category(slug)


def service_filter(
    *,
    categories: list[str] | None,
    kinds: list[ServiceKind] | None,
    platforms: list[Platform] | None,
    provided_by_public_service: bool | None,
    min_rating: float | None,
) -> catalogue.ServiceFilter:
    return catalogue.ServiceFilter(
        categories=tuple(categories or ()),
        kinds=tuple(kinds or ()),
        platforms=tuple(platforms or ()),
        provided_by_public_service=provided_by_public_service,
        min_rating=min_rating,
    )


async def services(
    service_filter: catalogue.ServiceFilter,
    *,
    order: catalogue.ServiceOrder,
    first: int | None,
    after: str | None,
) -> Page[Service]:
    return await catalogue.list_services(service_filter, order=order, first=first, after=after)


async def service(slug: str) -> Service:
    return await catalogue.get_published_service(slug)


async def rate_service(slug: str, voter: str, stars: int, comment: str | None) -> ratings.RatingOutcome:
    return await ratings.rate_service(slug, voter, stars, comment)


async def track_redirect(
    slug: str, platform: Platform, origin: str | None, visitor: str | None
) -> redirects.Redirect:
    return await redirects.follow_link(slug, platform, redirects.parse_origin(origin), visitor)
