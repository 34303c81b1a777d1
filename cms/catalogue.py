"""Catalogue rules: what the public sees, how it is filtered, ordered and paged."""

from __future__ import annotations

import datetime as dt
import functools
import unicodedata
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import orjson
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
from models.rows import Params, dialect, fetch, row_decoder

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


def _encode_cursor(order: ServiceOrder, row: dict[str, Any]) -> str:
    values: list[Any] = []
    for column, _ in _ORDER_KEYS[order]:
        value = row[column]
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


# The listing is hand-written SQL (models/rows.py): the same filters, order and keyset serve the
# GraphQL resolvers and planned execution (schema/planned.py), without the ORM's query building.


def service_columns() -> tuple[str, ...]:
    """Every column of the service table (known once Tortoise has set the models up)."""
    return tuple(Service._meta.fields_db_projection.values())


def _where(service_filter: ServiceFilter, params: Params) -> str:
    """The WHERE clause of the published services that pass the filter (checked beforehand).

    Published and free: the rule of published_services(), in SQL."""
    clauses = [f"s.status = {params(ServiceStatus.PUBLISHED.value)}", f"s.free = {params(True)}"]
    if service_filter.categories:
        clauses.append(
            "s.id IN (SELECT sc.service_id FROM service_category sc JOIN category c ON c.id = sc.category_id"
            f" WHERE c.slug IN {params.many(service_filter.categories)})"
        )
    if service_filter.kinds:
        clauses.append(f"s.kind IN {params.many(ServiceKind(kind).value for kind in service_filter.kinds)}")
    if service_filter.platforms:
        platforms = params.many(Platform(platform).value for platform in service_filter.platforms)
        clauses.append(f"s.id IN (SELECT l.service_id FROM service_link l WHERE l.platform IN {platforms})")
    if service_filter.provided_by_public_service is not None:
        negation = "" if service_filter.provided_by_public_service else "NOT "
        public = params(PartnerKind.PUBLIC_EMPLOYMENT_SERVICE.value)
        clauses.append(f"s.provider_id {negation}IN (SELECT p.id FROM partner p WHERE p.kind = {public})")
    if service_filter.min_rating is not None and service_filter.min_rating > 0:
        clauses.append(f"s.rating_count > 0 AND s.rating_average >= {params(service_filter.min_rating)}")
    return " AND ".join(clauses)


def _after(order: ServiceOrder, values: list[Any], params: Params) -> str:
    """Rows strictly after the cursor position in the given ordering (keyset pagination)."""
    keys = _ORDER_KEYS[order]
    fields = Service._meta.fields_map
    stored = [
        fields[column].to_db_value(value, Service) for (column, _), value in zip(keys, values, strict=True)
    ]
    branches = []
    for i, (column, descending) in enumerate(keys):
        equal_before = [f"s.{keys[j][0]} = {params(stored[j])}" for j in range(i)]
        beyond = f"s.{column} {'<' if descending else '>'} {params(stored[i])}"
        branches.append("(" + " AND ".join([*equal_before, beyond]) + ")")
    return "(" + " OR ".join(branches) + ")"


@dataclass
class ServiceRows:
    """One page of published services as decoded rows (models/rows.py), with their cursors."""

    rows: list[dict[str, Any]]
    order: ServiceOrder
    has_next_page: bool
    has_previous_page: bool
    service_filter: ServiceFilter

    @functools.cached_property
    def cursors(self) -> list[str]:
        return [_encode_cursor(self.order, row) for row in self.rows]

    async def total_count(self) -> int:
        params = Params()
        where = _where(self.service_filter, params)
        found = await fetch(f"SELECT COUNT(*) AS n FROM service s WHERE {where}", params)
        return int(found[0]["n"])


# Relations list_service_rows can add to each row, under these keys (lists of decoded rows).
CATEGORIES = "@categories"  # id, slug, name, description, position; in the service's order
LINKS = "@links"  # platform, url; in the order they were added
_CATEGORY_COLUMNS = ("id", "slug", "name", "description", "position")
_LINK_COLUMNS = ("platform", "url")


async def _attach_relations(
    rows: list[dict[str, Any]], relations: Collection[str], aggregated: list[dict[str, Any]] | None
) -> None:
    """Puts each relation's decoded rows on the page's rows: from the JSON PostgreSQL aggregated in
    the page's statement (`aggregated`, the raw rows), or with one more statement per relation."""
    if not rows:
        return
    for relation in relations:
        spec = _RELATIONS[relation]
        if aggregated is not None:
            decode = row_decoder(spec.model, spec.columns)
            for row, raw in zip(rows, aggregated, strict=True):
                row[relation] = [decode(item) for item in orjson.loads(raw[relation])]
        else:
            found = await spec.read([row["id"] for row in rows])
            for row in rows:
                row[relation] = found[row["id"]]


async def _select_service_rows(
    where: str,
    params: Params,
    columns: Sequence[str],
    relations: Collection[str],
    *,
    tail: str = "",
    keep: int | None = None,
) -> list[dict[str, Any]]:
    """Services `s` matching `where` (then `tail`: ORDER BY, LIMIT), decoded, with their relations
    on the first `keep` rows (all without `keep`)."""
    decode = row_decoder(Service, columns)
    select = ", ".join(f"s.{column}" for column in columns)
    aggregated = dialect() == "postgres"
    if aggregated:
        select += "".join(f', {_RELATIONS[relation].aggregate()} AS "{relation}"' for relation in relations)
    found = await fetch(f"SELECT {select} FROM service s WHERE {where}{tail}", params)
    rows = [decode(row) for row in found]
    kept = rows if keep is None else rows[:keep]
    await _attach_relations(kept, relations, found[: len(kept)] if aggregated else None)
    return rows


def _with_order_keys(columns: Sequence[str] | None, order: ServiceOrder | None = None) -> list[str]:
    keys = [column for column, _ in _ORDER_KEYS[order]] if order else []
    return list(dict.fromkeys(["id", *(columns or service_columns()), *keys]))


async def service_row(
    slug: str, columns: Sequence[str] | None = None, relations: Collection[str] = ()
) -> dict[str, Any] | None:
    """The published service with this slug as a decoded row (as get_published_service), or None."""
    params = Params()
    where = f"{_where(ServiceFilter(), params)} AND s.slug = {params(slug)}"
    found = await _select_service_rows(where, params, _with_order_keys(columns), relations)
    return found[0] if found else None


async def service_rows(
    ids: Sequence[int], columns: Sequence[str] | None = None, relations: Collection[str] = ()
) -> dict[int, dict[str, Any]]:
    """Published services by id, as decoded rows (the ids of others are left out)."""
    if not ids:
        return {}
    params = Params()
    where = f"{_where(ServiceFilter(), params)} AND s.id IN {params.many(set(ids))}"
    found = await _select_service_rows(where, params, _with_order_keys(columns), relations)
    return {row["id"]: row for row in found}


async def list_service_rows(
    service_filter: ServiceFilter | None = None,
    order: ServiceOrder = ServiceOrder.RATING,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = None,
    columns: Sequence[str] | None = None,
    relations: Collection[str] = (),
) -> ServiceRows:
    """One page of published services, each a dict of `columns` (and the ordering's), decoded, with
    the `relations` asked for (CATEGORIES, LINKS) as lists of decoded rows."""
    first = page_size(first)
    service_filter = service_filter or ServiceFilter()
    await _check_filter(service_filter)
    order_keys = _ORDER_KEYS[order]
    wanted = _with_order_keys(columns, order)
    params = Params()
    where = _where(service_filter, params)
    if after:
        where += " AND " + _after(order, _decode_cursor(order, after), params)
    rows: list[dict[str, Any]] = []
    if first:
        ordering = ", ".join(
            f"s.{column}{' DESC' if descending else ''}" for column, descending in order_keys
        )
        rows = await _select_service_rows(
            where, params, wanted, relations, tail=f" ORDER BY {ordering} LIMIT {first + 1}", keep=first
        )
    items = rows[:first]
    return ServiceRows(
        rows=items,
        order=order,
        has_next_page=len(rows) > first,
        has_previous_page=after is not None,
        service_filter=service_filter,
    )


async def list_services(
    service_filter: ServiceFilter | None = None,
    order: ServiceOrder = ServiceOrder.RATING,
    first: int | None = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Page[Service]:
    """One page of published services, and a way to count them all."""
    found = await list_service_rows(service_filter, order, first, after)
    return Page(
        items=[Service._init_from_db(**row) for row in found.rows],
        cursors=found.cursors,
        has_next_page=found.has_next_page,
        has_previous_page=found.has_previous_page,
        count=found.total_count,
    )


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


async def related_service_ids(service_ids: Sequence[int], limit: int) -> dict[int, list[int]]:
    """For each service, the published services sharing most categories, most visited first.

    Candidates are the most visited published services of the service's categories; each service's
    answer depends on its own categories only, not on the other services asked for in the same
    batch (services with the same categories share one statement)."""
    params = Params()
    links = await fetch(
        f"SELECT service_id, category_id FROM service_category WHERE service_id IN {params.many(set(service_ids))}",
        params,
    )
    categories_of: dict[int, set[int]] = {}
    for link in links:
        categories_of.setdefault(link["service_id"], set()).add(link["category_id"])
    result: dict[int, list[int]] = {service_id: [] for service_id in service_ids}
    by_categories: dict[frozenset[int], list[int]] = {}
    for service_id, mine in categories_of.items():
        by_categories.setdefault(frozenset(mine), []).append(service_id)
    per_category = max(limit * 4, 20)
    for wanted, sources in by_categories.items():
        params = Params()  # placeholders in the order they appear (SQLite's are positional)
        published = _where(ServiceFilter(), params)
        in_wanted = f"SELECT service_id FROM service_category WHERE category_id IN {params.many(wanted)}"
        candidates = (
            f"SELECT s.id, row_number() OVER (ORDER BY s.redirect_count DESC, s.rating_average DESC, s.id)"
            f" AS position FROM service s WHERE {published} AND s.id IN ({in_wanted})"
            " ORDER BY s.redirect_count DESC, s.rating_average DESC, s.id"
            f" LIMIT {per_category * len(wanted) + 1}"  # one more: the service itself may be among them
        )
        rows = await fetch(
            f"SELECT c.id, c.position, sc.category_id FROM ({candidates}) c"
            " JOIN service_category sc ON sc.service_id = c.id ORDER BY c.position",
            params,
        )
        shared: dict[int, int] = {}
        position: dict[int, int] = {}
        for row in rows:
            position[row["id"]] = row["position"]
            shared[row["id"]] = shared.get(row["id"], 0) + (row["category_id"] in wanted)
        for service_id in sources:
            scored = sorted(
                (-count, position[candidate], candidate)
                for candidate, count in shared.items()
                if count and candidate != service_id
            )
            result[service_id] = [candidate for _, _, candidate in scored[:limit]]
    return result


async def related_services(service_ids: Sequence[int], limit: int) -> dict[int, list[Service]]:
    """related_service_ids, as model instances."""
    ids = await related_service_ids(service_ids, limit)
    wanted = {candidate for found in ids.values() for candidate in found}
    services = {s.id: s for s in await published_services().filter(id__in=list(wanted))} if wanted else {}
    return {
        service_id: [services[c] for c in candidates if c in services]
        for service_id, candidates in ids.items()
    }


def check_publishable(service: Service) -> None:
    """A service that is not free is never published."""
    if not service.free:
        raise BadUserInput("a service that is not free cannot be published", slug=service.slug)


# Relations of a page of services, as decoded rows, for planned execution ---------------------------


async def category_rows_by_service(service_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each service's categories (id, slug, name, description, position), in the service's order."""
    params = Params()
    decode = row_decoder(Category, _CATEGORY_COLUMNS)
    rows = await fetch(
        "SELECT sc.service_id, c.id, c.slug, c.name, c.description, c.position"
        " FROM service_category sc JOIN category c ON c.id = sc.category_id"
        f" WHERE sc.service_id IN {params.many(service_ids)} ORDER BY sc.position, c.position",
        params,
    )
    grouped: dict[int, list[dict[str, Any]]] = {service_id: [] for service_id in service_ids}
    for row in rows:
        grouped[row["service_id"]].append(decode(row))
    return grouped


async def link_rows_by_service(service_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
    """Each service's links (platform, url), in the order they were added."""
    params = Params()
    decode = row_decoder(ServiceLink, _LINK_COLUMNS)
    rows = await fetch(
        f"SELECT l.service_id, l.platform, l.url FROM service_link l WHERE l.service_id IN {params.many(service_ids)}"
        " ORDER BY l.id",
        params,
    )
    grouped: dict[int, list[dict[str, Any]]] = {service_id: [] for service_id in service_ids}
    for row in rows:
        grouped[row["service_id"]].append(decode(row))
    return grouped


async def partner_rows(partner_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
    """Partners by id (id, slug, name, kind, website)."""
    params = Params()
    columns = ("id", "slug", "name", "kind", "website")
    decode = row_decoder(Partner, columns)
    rows = await fetch(
        f"SELECT {', '.join(columns)} FROM partner WHERE id IN {params.many(set(partner_ids))}", params
    )
    return {row["id"]: decode(row) for row in rows}


async def category_rows(slug: str | None = None, *, with_counts: bool = False) -> list[dict[str, Any]]:
    """The categories in their order (or the one with this slug), as decoded rows; with
    `with_counts`, each with `service_count`, its published services (as published_counts_by_category)."""
    params = Params()
    select = ", ".join(f"c.{column}" for column in _CATEGORY_COLUMNS)
    if with_counts:
        select += (
            ", (SELECT COUNT(*) FROM service_category sc JOIN service s ON s.id = sc.service_id"
            f" WHERE sc.category_id = c.id AND {_where(ServiceFilter(), params)}) AS service_count"
        )
    where = f" WHERE c.slug = {params(slug)}" if slug is not None else ""
    decode = row_decoder(Category, _CATEGORY_COLUMNS)
    rows = await fetch(f"SELECT {select} FROM category c{where} ORDER BY c.position", params)
    found = []
    for row in rows:
        decoded = decode(row)
        if with_counts:
            decoded["service_count"] = int(row["service_count"])
        found.append(decoded)
    return found


@dataclass(frozen=True)
class _Relation:
    model: type[Category] | type[ServiceLink]
    columns: tuple[str, ...]
    read: Callable[[Sequence[int]], Awaitable[dict[int, list[dict[str, Any]]]]]  # one statement
    aggregate_sql: str  # PostgreSQL: the JSON array of a service `s`'s rows, `{fields}` to fill
    alias: str

    def aggregate(self) -> str:
        fields = ", ".join(f"'{column}', {self.alias}.{column}" for column in self.columns)
        return self.aggregate_sql.format(fields=fields)


_RELATIONS = {
    CATEGORIES: _Relation(
        Category,
        _CATEGORY_COLUMNS,
        category_rows_by_service,
        "(SELECT COALESCE(json_agg(json_build_object({fields}) ORDER BY sc.position, c.position), '[]')"
        " FROM service_category sc JOIN category c ON c.id = sc.category_id WHERE sc.service_id = s.id)",
        "c",
    ),
    LINKS: _Relation(
        ServiceLink,
        _LINK_COLUMNS,
        link_rows_by_service,
        "(SELECT COALESCE(json_agg(json_build_object({fields}) ORDER BY l.id), '[]')"
        " FROM service_link l WHERE l.service_id = s.id)",
        "l",
    ),
}
