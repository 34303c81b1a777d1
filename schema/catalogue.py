"""The catalogue's GraphQL types, inputs and root fields."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any
from urllib.parse import quote

import strawberry

from cms import catalogue
from cms.catalogue import ServiceOrder
from cms.paging import Page
from models import catalogue as m
from models import ratings as rm
from models.enums import PartnerKind, Platform, ServiceKind
from models.errors import BadUserInput, Unauthenticated
from resolvers import catalogue as resolve
from schema.context import Info

ServiceKindType = strawberry.enum(ServiceKind, name="ServiceKind", description="What kind of service it is.")
PlatformType = strawberry.enum(Platform, name="Platform", description="Where a service's link leads.")
PartnerKindType = strawberry.enum(PartnerKind, name="PartnerKind")
ServiceOrderType = strawberry.enum(ServiceOrder, name="ServiceOrder", description="How services are ordered.")

MAX_RELATED = 20


def redirect_path(slug: str, platform: Platform) -> str:
    """The tracked address of a service's link: /go/ records the visit, then redirects."""
    return f"/go/{quote(slug)}/{platform.value}"


def shown_average(count: int, average: float) -> float | None:
    """A service's average rating as the API shows it: null until rated, two decimals."""
    return round(average, 2) if count else None


@strawberry.type(description="Who provides a service.")
class Provider:
    slug: str
    name: str
    kind: PartnerKindType  # type: ignore[valid-type]
    website: str | None

    @strawberry.field(description="True for services run by the public employment service itself.")
    def is_public_employment_service(self: m.Partner) -> bool:  # type: ignore[misc]
        return self.is_public_employment_service


@strawberry.type(description="One of the six ways into the catalogue.")
class Category:
    slug: str
    name: str
    description: str
    position: int

    @strawberry.field(description="How many published services this category holds.")
    async def service_count(self: m.Category, info: Info) -> int:  # type: ignore[misc]
        return await info.context.loaders.published_count_by_category.load(self.id)

    @strawberry.field(description="The published services of this category.")
    async def services(  # type: ignore[misc]
        self: m.Category,
        order_by: ServiceOrderType = ServiceOrder.RATING,  # type: ignore[valid-type]
        first: int | None = 20,
        after: str | None = None,
    ) -> ServiceConnection:
        page = await resolve.services(
            ServiceFilter(categories=[self.slug]).domain(), order=order_by, first=first, after=after
        )
        return ServiceConnection.from_page(page)


@strawberry.type(description="A link to the service on one platform.")
class ServiceLink:
    platform: PlatformType  # type: ignore[valid-type]
    url: str = strawberry.field(description="The service's own address, as stored.")
    redirect_url: str = strawberry.field(
        description="The tracked address to send people to: it records the visit, then redirects to `url`."
    )


@strawberry.type
class RatingBucket:
    stars: int
    count: int


@strawberry.type(description="Users' 1–5 star ratings of a service.")
class RatingSummary:
    count: int
    average: float | None = strawberry.field(description="Null until someone has rated the service.")
    distribution: list[RatingBucket] = strawberry.field(
        description="How many ratings of 1, 2, 3, 4 and 5 stars."
    )


@strawberry.type(description="A free online service for job search, training or career development.")
class Service:
    slug: str
    name: str
    short_description: str

    @classmethod
    def is_type_of(cls, obj: object, info: object) -> bool:
        # Lets unions (search results) recognise the Tortoise model behind the type.
        return isinstance(obj, cls | m.Service)

    long_description: str
    kind: ServiceKindType  # type: ignore[valid-type]
    free: bool
    launched_on: dt.date | None
    published_at: dt.datetime | None
    updated_at: dt.datetime

    @strawberry.field
    def id(self: m.Service) -> strawberry.ID:  # type: ignore[misc]
        return strawberry.ID(str(self.id))

    @strawberry.field
    def tags(self: m.Service) -> list[str]:  # type: ignore[misc]
        return list(self.tags or [])

    @strawberry.field(description="How many times people were sent on to the service.")
    def redirect_count(self: m.Service) -> int:  # type: ignore[misc]
        return self.redirect_count

    @strawberry.field
    async def categories(self: m.Service, info: Info) -> list[Category]:  # type: ignore[misc]
        return await info.context.loaders.categories_by_service.load(self.id)  # type: ignore[return-value]

    @strawberry.field
    async def provider(self: m.Service, info: Info) -> Provider:  # type: ignore[misc]
        return await info.context.loaders.partner.load(self.provider_id)  # type: ignore[return-value]

    @strawberry.field
    async def links(self: m.Service, info: Info) -> list[ServiceLink]:  # type: ignore[misc]
        rows = await info.context.loaders.links_by_service.load(self.id)
        return [
            ServiceLink(
                platform=row.platform,
                url=row.url,
                redirect_url=info.context.url_for_path(redirect_path(self.slug, row.platform)),
            )
            for row in rows
        ]

    @strawberry.field
    def rating(self: m.Service) -> RatingSummary:  # type: ignore[misc]
        return RatingSummary(
            count=self.rating_count,
            average=shown_average(self.rating_count, self.rating_average),
            distribution=[
                RatingBucket(stars=stars, count=count)
                for stars, count in enumerate(self.rating_distribution, start=1)
            ],
        )

    @strawberry.field(description="Published services that share its categories, most visited first.")
    async def related_services(self: m.Service, info: Info, first: int = 5) -> list[Service]:  # type: ignore[misc]
        if not 0 <= first <= MAX_RELATED:
            raise BadUserInput(f"first must lie between 0 and {MAX_RELATED}", field="first")
        return await info.context.loaders.related_services.load((self.id, first))  # type: ignore[return-value]


@strawberry.type
class PageInfo:
    has_next_page: bool
    has_previous_page: bool
    start_cursor: str | None
    end_cursor: str | None

    @classmethod
    def of(cls, page: Page[Any] | catalogue.ServiceRows) -> PageInfo:
        return cls(
            has_next_page=page.has_next_page,
            has_previous_page=page.has_previous_page,
            start_cursor=page.cursors[0] if page.cursors else None,
            end_cursor=page.cursors[-1] if page.cursors else None,
        )


@strawberry.type
class ServiceEdge:
    cursor: str
    node: Service


@strawberry.type(description="A page of services (Relay connection).")
class ServiceConnection:
    edges: list[ServiceEdge]
    page_info: PageInfo
    page: strawberry.Private[Page[m.Service]]

    @strawberry.field(description="The services of this page, without cursors.")
    def nodes(self) -> list[Service]:
        return [edge.node for edge in self.edges]

    @strawberry.field(description="How many services match, over all pages.")
    async def total_count(self) -> int:
        return await self.page.total_count()

    @classmethod
    def from_page(cls, page: Page[m.Service]) -> ServiceConnection:
        edges = [
            ServiceEdge(cursor=cursor, node=service)  # type: ignore[arg-type]
            for cursor, service in zip(page.cursors, page.items, strict=True)
        ]
        return cls(
            edges=edges,
            page_info=PageInfo.of(page),
            page=page,
        )


@strawberry.input
class ServiceFilter:
    categories: list[str] | None = strawberry.field(default=None, description="Category slugs (any of them).")
    kinds: list[ServiceKindType] | None = None  # type: ignore[valid-type]
    platforms: list[PlatformType] | None = strawberry.field(  # type: ignore[valid-type]
        default=None, description="Services with a link on any of these platforms."
    )
    provided_by_public_service: bool | None = None
    min_rating: float | None = strawberry.field(default=None, description="Lowest average rating, 0 to 5.")

    def domain(self) -> catalogue.ServiceFilter:
        return resolve.service_filter(
            categories=self.categories,
            kinds=self.kinds,
            platforms=self.platforms,
            provided_by_public_service=self.provided_by_public_service,
            min_rating=self.min_rating,
        )


@strawberry.type(description="A visitor's rating of one service.")
class Rating:
    stars: int
    comment: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@strawberry.type
class RateServicePayload:
    service: Service
    rating: Rating
    replaced: bool = strawberry.field(description="True when this voter's earlier rating was replaced.")


@strawberry.type
class TrackRedirectPayload:
    url: str = strawberry.field(description="The stored address to open.")
    service: Service


@strawberry.type
class CatalogueQuery:
    @strawberry.field(description="The six categories, in their order, with published-service counts.")
    async def categories(self) -> list[Category]:
        return await resolve.categories()  # type: ignore[return-value]

    @strawberry.field
    async def category(self, slug: str) -> Category | None:
        return await resolve.category(slug)  # type: ignore[return-value]

    @strawberry.field(description="Published services, filtered and ordered; `first` is capped at 100.")
    async def services(
        self,
        filter: ServiceFilter | None = None,
        order_by: ServiceOrderType = ServiceOrder.RATING,  # type: ignore[valid-type]
        first: int | None = 20,
        after: str | None = None,
    ) -> ServiceConnection:
        service_filter = (filter or ServiceFilter()).domain()
        page = await resolve.services(service_filter, order=order_by, first=first, after=after)
        return ServiceConnection.from_page(page)

    @strawberry.field
    async def service(self, slug: str) -> Service | None:
        return await resolve.service(slug)  # type: ignore[return-value]


def _voter(info: Info) -> str:
    visitor = info.context.visitor
    if visitor.rejected:
        raise Unauthenticated("the visitor token does not verify: drop it to be issued a new one")
    return visitor.current()


@strawberry.type
class CatalogueMutation:
    @strawberry.mutation(description="Rate a service from 1 to 5 stars; rating again replaces your rating.")
    async def rate_service(
        self, info: Info, service_slug: str, stars: int, comment: str | None = None
    ) -> RateServicePayload:
        outcome = await resolve.rate_service(service_slug, _voter(info), stars, comment)
        rating: rm.Rating = outcome.rating
        return RateServicePayload(
            service=outcome.service,  # type: ignore[arg-type]
            rating=rating,  # type: ignore[arg-type]
            replaced=outcome.replaced,
        )

    @strawberry.mutation(description="Record a visit for apps that open links themselves; returns the URL.")
    async def track_redirect(
        self,
        info: Info,
        service_slug: str,
        platform: PlatformType,  # type: ignore[valid-type]
        from_: Annotated[
            str | None,
            strawberry.argument(name="from", description="catalogue, search, article or a recommendation id"),
        ] = None,
    ) -> TrackRedirectPayload:
        visitor = info.context.visitor
        redirect = await resolve.track_redirect(
            service_slug, platform, from_, None if visitor.rejected else visitor.current()
        )
        return TrackRedirectPayload(url=redirect.url, service=redirect.service)  # type: ignore[arg-type]
