"""The catalogue's rules for planned execution (schema/planned.py): the service listing and pages.

`services(...)` with its connection and `service(slug)`, the services' own fields, their
categories, links, provider, rating summary and related services (one level), and `categories` /
`category(slug)` with their counts are answered from decoded rows (cms/catalogue.py): one
statement for the page (its categories and links aggregated in it on PostgreSQL), one for
providers, two per `relatedServices(first:)` value, and the count only when `totalCount` is. The rules mirror the
resolvers of schema/catalogue.py field by field, sharing their helpers (`redirect_path`,
`shown_average`); tests/schema/test_planned.py checks both give the same answers.
"""

from __future__ import annotations

from typing import Any

from cms import catalogue
from models.enums import PartnerKind
from schema.catalogue import MAX_RELATED, PageInfo, ServiceFilter, redirect_path, shown_average
from schema.planned import Abandon, FieldRule, NotPlannable, Rules, Wants, column, rule

_RATING_COLUMNS = (
    "rating_count",
    "rating_average",
    "rating_1",
    "rating_2",
    "rating_3",
    "rating_4",
    "rating_5",
)

# Relations a Service's fields may ask its loader for (besides columns). Related services are
# under "@related:<first>": one list per `first` the plan uses.
CATEGORIES, LINKS, PROVIDER, RELATED = catalogue.CATEGORIES, catalogue.LINKS, "@provider", "@related"


SERVICE: dict[str, FieldRule] = {
    "id": rule(lambda row, _: str(row["id"]), "id"),
    "slug": column("slug"),
    "name": column("name"),
    "shortDescription": column("short_description"),
    "longDescription": column("long_description"),
    "kind": column("kind"),
    "free": column("free"),
    "launchedOn": column("launched_on"),
    "publishedAt": column("published_at"),
    "updatedAt": column("updated_at"),
    "tags": rule(lambda row, _: list(row["tags"] or []), "tags"),
    "redirectCount": column("redirect_count"),
    # The summary's fields read the service's row.
    "rating": rule(lambda row, _: row, *_RATING_COLUMNS),
    "categories": rule(lambda row, _: row[CATEGORIES], CATEGORIES),
    "links": rule(lambda row, _: row[LINKS], LINKS, "slug"),
    "provider": rule(lambda row, _: row[PROVIDER], PROVIDER, "provider_id"),
    "relatedServices": FieldRule(
        lambda row, _, arguments: row[f"{RELATED}:{arguments['first']}"],
        frozenset({RELATED}),
        takes_arguments=True,
        nests=False,
    ),
}

RATING_SUMMARY: dict[str, FieldRule] = {
    "count": rule(lambda row, _: row["rating_count"]),
    "average": rule(lambda row, _: shown_average(row["rating_count"], row["rating_average"])),
    "distribution": rule(
        lambda row, _: [{"stars": stars, "count": row[f"rating_{stars}"]} for stars in range(1, 6)]
    ),
}

RATING_BUCKET: dict[str, FieldRule] = {"stars": column("stars"), "count": column("count")}

CATEGORY: dict[str, FieldRule] = {
    "slug": column("slug"),
    "name": column("name"),
    "description": column("description"),
    "position": column("position"),
    "serviceCount": column("service_count"),  # only from the categories' own root fields
}
_CATEGORY_COLUMNS_OF_SERVICES = frozenset({"slug", "name", "description", "position"})

SERVICE_LINK: dict[str, FieldRule] = {
    "platform": column("platform"),
    "url": column("url"),
    "redirectUrl": rule(
        lambda link, run: run.context.url_for_path(redirect_path(link["slug"], link["platform"]))
    ),
}

PROVIDER_RULES: dict[str, FieldRule] = {
    "slug": column("slug"),
    "name": column("name"),
    "kind": column("kind"),
    "website": column("website"),
    "isPublicEmploymentService": rule(lambda row, _: row["kind"] is PartnerKind.PUBLIC_EMPLOYMENT_SERVICE),
}


class _Connection:
    """What the ServiceConnection rules read: the page's rows and cursors, and the count if asked."""

    __slots__ = ("page", "total")

    def __init__(self, page: catalogue.ServiceRows, total: int | None) -> None:
        self.page = page
        self.total = total


SERVICE_CONNECTION: dict[str, FieldRule] = {
    "edges": rule(lambda c, _: [(c.page, i) for i in range(len(c.page.rows))]),
    "nodes": rule(lambda c, _: c.page.rows),
    "pageInfo": rule(lambda c, _: PageInfo.of(c.page)),
    "totalCount": rule(lambda c, _: c.total, "totalCount"),
}

# An edge is (the page, its position): cursors are only encoded when asked for.
SERVICE_EDGE: dict[str, FieldRule] = {
    "cursor": rule(lambda edge, _: edge[0].cursors[edge[1]]),
    "node": rule(lambda edge, _: edge[0].rows[edge[1]]),
}

# The resolvers' own PageInfo, built from the page's rows.
PAGE_INFO: dict[str, FieldRule] = {
    "hasNextPage": rule(lambda info, _: info.has_next_page),
    "hasPreviousPage": rule(lambda info, _: info.has_previous_page),
    "startCursor": rule(lambda info, _: info.start_cursor),
    "endCursor": rule(lambda info, _: info.end_cursor),
}


def _columns(wants: Wants) -> list[str]:
    return sorted(need for need in wants.of("Service") if not need.startswith("@"))


def _relations(wants: Wants) -> list[str]:
    return [relation for relation in (CATEGORIES, LINKS) if relation in wants.of("Service")]


async def _complete(rows: list[dict[str, Any]], wants: Wants, *, related: bool = True) -> None:
    """Adds what the plan asks of these services' rows beyond the page's statement: the links'
    service slug, providers, and related services (one level: the rule does not nest)."""
    if not wants.of("Category") <= _CATEGORY_COLUMNS_OF_SERVICES:
        raise NotPlannable("a service's categories do not carry their counts")
    wanted = wants.of("Service")
    if not rows:
        return
    if LINKS in wanted:
        for row in rows:
            for link in row[LINKS]:
                link["slug"] = row["slug"]
    if PROVIDER in wanted:
        partners = await catalogue.partner_rows([row["provider_id"] for row in rows])
        for row in rows:
            row[PROVIDER] = partners.get(row["provider_id"])
    if related and RELATED in wanted:
        for arguments in wants.arguments("Service", "relatedServices"):
            first = arguments["first"]
            if not 0 <= first <= MAX_RELATED:
                raise Abandon("relatedServices: first out of range")
            ids = await catalogue.related_service_ids([row["id"] for row in rows], first)
            found = await catalogue.service_rows(
                sorted({i for candidates in ids.values() for i in candidates}),
                _columns(wants),
                _relations(wants),
            )
            await _complete(list(found.values()), wants, related=False)
            for row in rows:
                row[f"{RELATED}:{first}"] = [found[i] for i in ids[row["id"]] if i in found]


async def load_services(arguments: dict[str, Any], wants: Wants) -> _Connection:
    """Query.services: the page with what its plan asks for, in 1 + one statement per relation."""
    page = await catalogue.list_service_rows(
        (arguments.get("filter") or ServiceFilter()).domain(),
        order=arguments.get("order_by", catalogue.ServiceOrder.RATING),
        first=arguments.get("first", catalogue.DEFAULT_PAGE_SIZE),
        after=arguments.get("after"),
        columns=_columns(wants),
        relations=_relations(wants),
    )
    await _complete(page.rows, wants)
    total = await page.total_count() if "totalCount" in wants.of("ServiceConnection") else None
    return _Connection(page, total)


async def load_service(arguments: dict[str, Any], wants: Wants) -> dict[str, Any]:
    """Query.service(slug): an unknown or unpublished slug is left to normal execution (NOT_FOUND)."""
    row = await catalogue.service_row(arguments["slug"], _columns(wants), _relations(wants))
    if row is None:
        raise Abandon("no such published service")
    await _complete([row], wants)
    return row


async def load_categories(arguments: dict[str, Any], wants: Wants) -> list[dict[str, Any]]:
    """Query.categories: the six, in order, counted in the same statement when asked."""
    return await catalogue.category_rows(with_counts="service_count" in wants.of("Category"))


async def load_category(arguments: dict[str, Any], wants: Wants) -> dict[str, Any]:
    """Query.category(slug): an unknown slug is left to normal execution (NOT_FOUND)."""
    found = await catalogue.category_rows(
        arguments["slug"], with_counts="service_count" in wants.of("Category")
    )
    if not found:
        raise Abandon("no such category")
    return found[0]


RULES = Rules(
    types={
        "Service": SERVICE,
        "RatingSummary": RATING_SUMMARY,
        "RatingBucket": RATING_BUCKET,
        "Category": CATEGORY,
        "ServiceLink": SERVICE_LINK,
        "Provider": PROVIDER_RULES,
        "ServiceConnection": SERVICE_CONNECTION,
        "ServiceEdge": SERVICE_EDGE,
        "PageInfo": PAGE_INFO,
    },
    roots={
        "services": load_services,
        "service": load_service,
        "categories": load_categories,
        "category": load_category,
    },
)
