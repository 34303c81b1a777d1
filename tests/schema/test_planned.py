"""Planned execution (schema/planned.py, schema/catalogue_planned.py) answers exactly as normal execution.

Two real servers share one database: the session's server, with planned execution on (the default),
and one started here with it off (and no response cache). Every request is POSTed to both and the
answers must be identical: status, body and even the JSON text (so the key order too). Covered:

- every field of every planned type, for each ordering, on a demo catalogue with unrated services,
  services without links or categories, the public employment service as provider, ties in every
  ordering, and hidden services (drafts, archived, not free) that neither server may show;
- `service(slug)` pages with their related services (several `first`, the default, under a list),
  and missing, unpublished or out-of-range cases left to normal execution;
- paging through each ordering with `after` = endCursor, every filter alone and combined, `first: 0`,
  variables and inline literals, aliases (one field twice with different sub-selections),
  `__typename` at several levels, named and inline fragments, repeated fields that merge, and 40
  random selections drawn with a seeded generator;
- that plans are really used, through `emploi_store_graphql_planned_total` on GET /metrics (a
  process-wide counter: only its changes are compared): `planned` for plannable queries,
  `unplannable` for fields without rules, directives, fragments on another type, mutations…,
  `abandoned` for bad arguments, whose answer carries the normal error (a 200 with BAD_USER_INPUT)
  and writes nothing.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from models.catalogue import Partner, Service, ServiceLink
from models.enums import PartnerKind, Platform, ServiceKind, ServiceStatus
from models.ratings import Rating
from server.app import create_app
from server.settings import Settings
from tests.conftest import GraphQLResponse, empty_database, http_cookiejar, uvicorn_in_loop
from tests.factories import make_categories, make_partner, make_public_employment_service, make_service

# Both servers are asked under the same name, so that link redirect URLs (built from it) match.
HOST = "api.emploi-store.test"
ORDERS = ("RATING", "POPULARITY", "NEWEST", "NAME")
OUTCOMES = ("planned", "unplannable", "abandoned")
PLANNED_SAMPLE = re.compile(r'^emploi_store_graphql_planned_total\{outcome="(\w+)"\} (\S+)$', re.MULTILINE)

SERVICE_SCALARS = (
    "id slug name shortDescription longDescription kind free launchedOn publishedAt updatedAt tags"
    " redirectCount"
)
SERVICE_FIELDS = f"""
  __typename {SERVICE_SCALARS}
  rating {{ __typename count average distribution {{ __typename stars count }} }}
  categories {{ __typename slug name description position }}
  links {{ __typename platform url redirectUrl }}
  provider {{ __typename slug name kind website isPublicEmploymentService }}
"""
EVERYTHING = f"""
query Everything($orderBy: ServiceOrder!, $first: Int, $after: String, $filter: ServiceFilter) {{
  services(orderBy: $orderBy, first: $first, after: $after, filter: $filter) {{
    __typename
    totalCount
    pageInfo {{ __typename hasNextPage hasPreviousPage startCursor endCursor }}
    edges {{ __typename cursor node {{ {SERVICE_FIELDS} }} }}
    nodes {{ {SERVICE_FIELDS} }}
  }}
}}
"""
RATE = "mutation($s: String!, $n: Int!) { rateService(serviceSlug: $s, stars: $n) { replaced } }"
PAGE = """
query Page($orderBy: ServiceOrder!, $first: Int, $after: String, $filter: ServiceFilter) {
  services(orderBy: $orderBy, first: $first, after: $after, filter: $filter) {
    totalCount
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
    edges { cursor node { slug name redirectCount publishedAt rating { count average } } }
  }
}
"""


# --- Two servers, one database ----------------------------------------------------------------------


@dataclass
class Reply(GraphQLResponse):
    text: str = ""  # the body as sent, to compare the order of keys too


@dataclass(frozen=True)
class Servers:
    on: httpx.AsyncClient  # planned execution on: the session's server
    off: httpx.AsyncClient  # planned execution off

    async def both(self, query: str, variables: dict[str, Any] | None = None) -> tuple[Reply, Reply]:
        """The same POST to both servers."""
        replies = []
        for http in (self.on, self.off):
            response = await http.post("/graphql", json={"query": query, "variables": variables or {}})
            replies.append(Reply(response.status_code, response.json(), response.headers, response.text))
        return replies[0], replies[1]

    async def same(self, query: str, variables: dict[str, Any] | None = None) -> Reply:
        """Asks both servers; their answers must be identical. Returns the planned one."""
        on, off = await self.both(query, variables)
        assert_same(on, off)
        return on

    async def outcomes(self) -> dict[str, float]:
        text = (await self.on.get("/metrics")).text
        found = {outcome: float(value) for outcome, value in PLANNED_SAMPLE.findall(text)}
        return {outcome: found.get(outcome, 0.0) for outcome in OUTCOMES}

    async def outcomes_since(self, before: dict[str, float]) -> dict[str, float]:
        now = await self.outcomes()
        return {outcome: now[outcome] - before[outcome] for outcome in OUTCOMES}


def assert_same(on: Reply, off: Reply) -> None:
    assert on.status == off.status, (on.body, off.body)
    assert on.body == off.body
    assert on.text == off.text, "same values, but not in the same order"


def counted(planned: int = 0, unplannable: int = 0, abandoned: int = 0) -> dict[str, float]:
    return {"planned": planned, "unplannable": unplannable, "abandoned": abandoned}


async def _written() -> tuple[int, ...]:
    """How many rows the tables a request could write hold."""
    return (
        await Service.all().count(),
        await Rating.all().count(),
        await ServiceLink.all().count(),
        await Partner.all().count(),
    )


@pytest.fixture(scope="module")
async def off_server(server: str, settings: Settings) -> AsyncIterator[str]:
    """The app with planned execution off, beside the session's server (whose lifespan opened the
    database this one uses too)."""
    off = settings.model_copy(update={"planned_execution": False, "response_cache": False})
    async with uvicorn_in_loop(create_app(off)) as url:
        yield url


@pytest.fixture(scope="module")
async def servers(server: str, off_server: str) -> AsyncIterator[Servers]:
    headers = {"host": HOST, "accept": "application/graphql-response+json"}
    async with (
        httpx.AsyncClient(base_url=server, headers=headers, timeout=30, cookies=http_cookiejar()) as on,
        httpx.AsyncClient(base_url=off_server, headers=headers, timeout=30, cookies=http_cookiejar()) as off,
    ):
        yield Servers(on, off)


# --- The demo catalogue, built once for the module ---------------------------------------------------


@dataclass(frozen=True)
class Catalogue:
    visible: frozenset[str]
    hidden: frozenset[str]


SPREAD_AT = dt.datetime(2021, 6, 1, 9, 30, 15, 123456, tzinfo=dt.UTC)
RATINGS = {
    "la-bonne-boite": [5, 5, 4, 4, 3],
    "mon-cv": [4, 4],
    "mon-cv-bis": [4],
    "entretien-3d": [4, 4],  # ties with mon-cv on average and count
    "emploi-store-appli": [5, 4, 4],  # 4.3333
    "quiz-orientation": [1, 2],
    "jeu-serieux": [3],
    "salon-virtuel": [5],
    "offres-2": [2, 5],
}


@pytest.fixture(scope="module")
async def catalogue(servers: Servers) -> Catalogue:
    await empty_database()  # what the `db` fixture does, once for the module
    await make_categories()
    public = await make_public_employment_service()
    startup = await make_partner("jobtech", PartnerKind.STARTUP)
    association = await make_partner("asso-insertion", PartnerKind.ASSOCIATION)  # no website
    school = await make_partner("ecole-en-ligne", PartnerKind.TRAINING_BODY)
    await Partner.filter(id=public.id).update(website="https://www.francetravail.example/")
    await Partner.filter(id__in=[startup.id, school.id]).update(website="https://partner.example/")

    W, A, G, M = Platform.WEB, Platform.APP_STORE, Platform.GOOGLE_PLAY, Platform.MICROSOFT_STORE
    await make_service(
        "la-bonne-boite",
        name="La Bonne Boîte",
        kind=ServiceKind.COMPANY_SEARCH,
        categories=["trouver-un-emploi", "preparer-sa-candidature"],
        provider=public,
        links={
            W: "https://labonneboite.example/",
            G: "https://play.example/lbb",
            A: "https://apps.example/lbb",
        },
        redirect_count=120,
        tags=["entreprises", "candidature-spontanee"],
    )
    for slug, name in (("mon-cv", "Mon CV"), ("mon-cv-bis", "mon cv")):  # the same sort key
        await make_service(
            slug,
            name=name,
            kind=ServiceKind.CV_BUILDER,
            categories=["preparer-sa-candidature"],
            provider=startup,
            redirect_count=40,
        )
    await make_service(
        "entretien-3d",
        name="Entretien 3D",
        kind=ServiceKind.INTERVIEW_SIMULATOR,
        categories=["preparer-sa-candidature"],
        provider=school,
        links={M: "https://store.example/3d", W: "https://3d.example/"},
        redirect_count=40,
    )
    await make_service(
        "emploi-store-appli",
        name="Emploi Store, l'appli",
        kind=ServiceKind.MOBILE_APP,
        categories=["trouver-un-emploi"],
        provider=public,
        links={
            A: "https://apps.example/es",
            G: "https://play.example/es",
            Platform.BLACKBERRY_WORLD: "https://bb.example/",
        },
        redirect_count=7,
    )
    await make_service(
        "mooc-metiers",
        name="Les métiers en MOOC",
        kind=ServiceKind.MOOC,
        # In its own order, which is not the categories' order.
        categories=["travailler-a-l-etranger", "choisir-un-metier", "trouver-une-formation"],
        provider=school,
        tags=["mooc", "métiers", "été ✨"],
    )
    await make_service(
        "quiz-orientation",
        name="Quiz d'orientation",
        kind=ServiceKind.QUIZ,
        categories=["choisir-un-metier"],
        provider=association,
    )
    await make_service(
        "jeu-serieux",
        name="Ça m'intéresse — « le jeu »",
        kind=ServiceKind.ELEARNING_GAME,
        categories=["choisir-un-metier"],
        provider=association,
        redirect_count=7,
    )
    await make_service(
        "salon-virtuel",
        name="Salon virtuel",
        kind=ServiceKind.JOB_FAIR,
        categories=["trouver-un-emploi", "travailler-a-l-etranger"],
        provider=public,
    )
    await make_service(
        "creer-sa-boite",
        name="Créer sa boîte",
        kind=ServiceKind.TOOL,
        categories=["creer-une-entreprise"],
        provider=association,
        links={W: "https://cree.example/"},
    )
    await make_service("sans-categorie", name="Sans catégorie", categories=(), provider=startup)
    await make_service("sans-lien", name="Sans lien", kind=ServiceKind.TOOL, provider=public)
    await ServiceLink.filter(service__slug="sans-lien").delete()
    for n in range(12):
        await make_service(
            f"offres-{n}",
            name=f"Offres d'emploi n°{n % 5}",  # names (and sort keys) repeat: ties broken by id
            kind=ServiceKind.JOB_BOARD if n % 2 else ServiceKind.WEBSITE,
            categories=[["trouver-un-emploi"], ["trouver-une-formation", "trouver-un-emploi"], []][n % 3],
            provider=[startup, school, association, public][n % 4],
            links={W: f"https://offres{n}.example/"}
            if n % 3
            else {W: f"https://o{n}.example/", G: "https://p.example"},
            redirect_count=n % 3,
            tags=["offres"] if n % 2 else [],
        )
    # Ties in NEWEST (microseconds included) and a few launch dates.
    await Service.filter(slug__in=["offres-3", "offres-4", "mon-cv"]).update(published_at=SPREAD_AT)
    await Service.filter(slug__in=["la-bonne-boite", "mooc-metiers"]).update(launched_on=dt.date(2014, 3, 1))

    # Hidden services, which would come first in every ordering if they leaked.
    hidden = {
        "brouillon": ServiceStatus.DRAFT,
        "archive": ServiceStatus.ARCHIVED,
        "payant": ServiceStatus.PUBLISHED,
    }
    for slug, status in hidden.items():
        await make_service(
            slug,
            name=f"AAA {slug}",
            status=status,
            free=slug != "payant",
            provider=public,
            categories=["trouver-un-emploi", "choisir-un-metier"],
            redirect_count=10**6,
            links={W: "https://x.example/", A: "https://y.example/"},
        )
    await Service.filter(slug__in=list(hidden)).update(
        rating_count=9, rating_average=5.0, rating_5=9, published_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC)
    )

    # Ratings through the API, each from a new visitor.
    for slug, stars in RATINGS.items():
        for value in stars:
            response = await servers.on.post(
                "/graphql", json={"query": RATE, "variables": {"s": slug, "n": value}}
            )
            assert response.json()["data"]["rateService"]["replaced"] is False, response.text

    visible = set(await Service.exclude(slug__in=list(hidden)).values_list("slug", flat=True))
    return Catalogue(visible=frozenset(visible), hidden=frozenset(hidden))


# --- Every field, every ordering, every page, every filter ------------------------------------------


@pytest.mark.parametrize("order", ORDERS)
async def test_every_planned_field_is_answered_as_normal_execution(servers, catalogue, order):
    before = await servers.outcomes()

    reply = await servers.same(EVERYTHING, {"orderBy": order, "first": 100})

    assert await servers.outcomes_since(before) == counted(planned=1)
    assert reply.status == 200 and not reply.errors
    connection = reply.data["services"]
    nodes = {node["slug"]: node for node in connection["nodes"]}
    # Only what the public may see, all of it; and the catalogue has the cases it is meant to have.
    assert set(nodes) == catalogue.visible
    assert connection["totalCount"] == len(catalogue.visible)
    assert nodes["sans-lien"]["links"] == []
    assert nodes["sans-categorie"]["categories"] == []
    assert nodes["sans-categorie"]["rating"]["average"] is None
    assert nodes["emploi-store-appli"]["rating"]["average"] == 4.33
    assert nodes["la-bonne-boite"]["provider"]["isPublicEmploymentService"] is True
    assert nodes["la-bonne-boite"]["launchedOn"] == "2014-03-01"
    assert nodes["quiz-orientation"]["provider"]["website"] is None
    assert [c["slug"] for c in nodes["mooc-metiers"]["categories"]] == [
        "travailler-a-l-etranger",
        "choisir-un-metier",
        "trouver-une-formation",
    ]
    assert [e["node"] for e in connection["edges"]] == connection["nodes"]


@pytest.mark.parametrize("order", ORDERS)
async def test_paging_through_each_ordering_gives_the_same_pages(servers, catalogue, order):
    before = await servers.outcomes()
    seen: list[str] = []
    after = None
    pages = 0
    while True:
        reply = await servers.same(PAGE, {"orderBy": order, "first": 4, "after": after})
        assert reply.status == 200 and not reply.errors
        connection = reply.data["services"]
        seen += [edge["node"]["slug"] for edge in connection["edges"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]

    assert sorted(seen) == sorted(catalogue.visible)
    assert await servers.outcomes_since(before) == counted(planned=pages)


async def test_paging_a_filtered_list_with_everything_selected(servers, catalogue):
    after = None
    variables: dict[str, Any] = {"orderBy": "NAME", "first": 3, "filter": {"platforms": ["WEB"]}}
    for _ in range(20):
        reply = await servers.same(EVERYTHING, {**variables, "after": after})
        page_info = reply.data["services"]["pageInfo"]
        if not page_info["hasNextPage"]:
            break
        after = page_info["endCursor"]
    else:
        pytest.fail("the pages never end")


FILTERS: dict[str, dict[str, Any] | None] = {
    "none": None,
    "empty": {},
    "one-category": {"categories": ["preparer-sa-candidature"]},
    "categories": {"categories": ["choisir-un-metier", "travailler-a-l-etranger"]},
    "no-category-listed": {"categories": []},
    "kinds": {"kinds": ["CV_BUILDER", "MOOC", "JOB_BOARD"]},
    "platforms": {"platforms": ["APP_STORE"]},
    "platforms-2": {"platforms": ["MICROSOFT_STORE", "BLACKBERRY_WORLD"]},
    "public": {"providedByPublicService": True},
    "not-public": {"providedByPublicService": False},
    "public-null": {"providedByPublicService": None},
    "min-rating": {"minRating": 3.5},
    "min-rating-0": {"minRating": 0},
    "min-rating-5": {"minRating": 5},
    "combined": {
        "categories": ["trouver-un-emploi", "preparer-sa-candidature"],
        "kinds": ["COMPANY_SEARCH", "MOBILE_APP", "CV_BUILDER", "JOB_BOARD"],
        "platforms": ["WEB", "APP_STORE"],
        "providedByPublicService": True,
        "minRating": 2,
    },
    "combined-2": {"categories": ["trouver-un-emploi"], "kinds": ["WEBSITE", "JOB_BOARD"], "minRating": 1},
    "matches-nothing": {"kinds": ["JOB_FAIR"], "providedByPublicService": False},
}


@pytest.mark.parametrize("name", FILTERS)
async def test_each_filter_alone_and_combined(servers, catalogue, name):
    before = await servers.outcomes()
    for order in ORDERS:
        reply = await servers.same(EVERYTHING, {"orderBy": order, "first": 50, "filter": FILTERS[name]})
        assert reply.status == 200 and not reply.errors
        assert not {node["slug"] for node in reply.data["services"]["nodes"]} & catalogue.hidden
    assert await servers.outcomes_since(before) == counted(planned=len(ORDERS))


async def test_first_zero_and_default_arguments(servers, catalogue):
    before = await servers.outcomes()
    empty = await servers.same(EVERYTHING, {"orderBy": "NAME", "first": 0})
    assert empty.data["services"]["edges"] == [] and empty.data["services"]["nodes"] == []
    assert empty.data["services"]["totalCount"] == len(catalogue.visible)
    cursor = (await servers.same(PAGE, {"orderBy": "NAME", "first": 2})).data["services"]["edges"][1][
        "cursor"
    ]
    empty_after = await servers.same(EVERYTHING, {"orderBy": "NAME", "first": 0, "after": cursor})
    assert empty_after.data["services"]["pageInfo"]["hasPreviousPage"] is True
    defaults = await servers.same(
        "{ services { totalCount edges { cursor node { slug } } pageInfo { hasNextPage } } }"
    )
    assert len(defaults.data["services"]["edges"]) == 20
    null_first = await servers.same("{ services(first: null) { nodes { slug } } }")
    assert len(null_first.data["services"]["nodes"]) == 20
    assert await servers.outcomes_since(before) == counted(planned=5)


# --- The shapes of a document -----------------------------------------------------------------------

SHAPES = {
    "aliases": """{
      list: services(orderBy: NAME, first: 6) {
        count: totalCount
        info: pageInfo { more: hasNextPage end: endCursor hasNextPage }
        edges { position: cursor short: node { slug } long: node { slug name rating { stars: average } } }
        nodes { title: name name key: slug provider { ok: isPublicEmploymentService } }
      }
      popular: services(orderBy: POPULARITY, first: 4, filter: {providedByPublicService: true}) {
        nodes { slug redirectCount first: links { url } all: links { platform url redirectUrl } }
      }
    }""",
    "typename-everywhere": """{
      services(orderBy: RATING, first: 5) {
        __typename
        kind: __typename
        pageInfo { __typename }
        edges { __typename node { __typename rating { __typename distribution { __typename } } } }
        nodes { t: __typename categories { __typename } links { __typename } provider { __typename } }
      }
    }""",
    "repeated-fields-merge": """{
      services(orderBy: NEWEST, first: 7) {
        edges { node { slug } }
        edges { cursor node { name slug provider { slug } } }
        nodes { slug name slug provider { slug } provider { name kind } rating { count } rating { average } }
        totalCount
        pageInfo { endCursor }
        totalCount
        pageInfo { startCursor endCursor }
      }
    }""",
    "named-fragments": """
      query Fragments {
        services(orderBy: RATING, first: 10) {
          ...Connection
          edges { ...Edge node { ...Card rating { ...Rating } } }
        }
      }
      fragment Connection on ServiceConnection { totalCount pageInfo { ...Info } nodes { ...Card ...Card } }
      fragment Info on PageInfo { hasNextPage endCursor }
      fragment Edge on ServiceEdge { cursor }
      fragment Card on Service { slug name provider { ...Provider } categories { ...Category } }
      fragment Provider on Provider { name kind isPublicEmploymentService }
      fragment Category on Category { slug position }
      fragment Rating on RatingSummary { count average distribution { ...Bucket } }
      fragment Bucket on RatingBucket { stars count }
    """,
    "inline-fragments": """{
      services(orderBy: POPULARITY, first: 8) {
        ... on ServiceConnection { totalCount }
        ... { pageInfo { ... on PageInfo { hasNextPage } } }
        nodes {
          slug
          ... on Service { name links { ... on ServiceLink { platform } url } }
          ... { rating { ... on RatingSummary { average } count } }
          ... on Service { ... on Service { provider { slug } } }
        }
      }
    }""",
    "several-operations": """
      query Other { services(first: 1) { totalCount } }
      query Chosen { services(orderBy: NAME, first: 3) { nodes { slug } } }
    """,
}


@pytest.mark.parametrize("shape", SHAPES)
async def test_aliases_typenames_fragments_and_merged_fields(servers, catalogue, shape):
    before = await servers.outcomes()
    document = SHAPES[shape]
    if shape == "several-operations":
        replies = []
        for http in (servers.on, servers.off):
            body = {"query": document, "operationName": "Chosen"}
            response = await http.post("/graphql", json=body)
            replies.append(Reply(response.status_code, response.json(), response.headers, response.text))
        assert_same(*replies)
        reply = replies[0]
    else:
        reply = await servers.same(document)
    assert reply.status == 200 and not reply.errors, reply.errors
    assert await servers.outcomes_since(before) == counted(planned=1)


async def test_variables_and_inline_literals_give_the_same_answer(servers, catalogue):
    before = await servers.outcomes()
    selection = "totalCount edges { cursor node { slug kind rating { average } } } pageInfo { hasNextPage }"
    filter_ = (
        "{kinds: [MOOC, CV_BUILDER, JOB_BOARD], minRating: 0.5, providedByPublicService: false,"
        ' categories: ["preparer-sa-candidature", "trouver-une-formation"]}'
    )
    literal = await servers.same(
        f"{{ services(filter: {filter_}, orderBy: NAME, first: 5) {{ {selection} }} }}"
    )
    with_variables = await servers.same(
        "query($f: ServiceFilter, $o: ServiceOrder!, $n: Int) {"
        f" services(filter: $f, orderBy: $o, first: $n) {{ {selection} }} }}",
        {
            "f": {
                "kinds": ["MOOC", "CV_BUILDER", "JOB_BOARD"],
                "minRating": 0.5,
                "providedByPublicService": False,
                "categories": ["preparer-sa-candidature", "trouver-une-formation"],
            },
            "o": "NAME",
            "n": 5,
        },
    )
    with_defaults = await servers.same(
        f"query($o: ServiceOrder! = NAME, $n: Int = 5, $f: ServiceFilter = {filter_}) {{"
        f" services(filter: $f, orderBy: $o, first: $n) {{ {selection} }} }}"
    )
    assert literal.data == with_variables.data == with_defaults.data
    assert literal.data["services"]["totalCount"] > 0
    assert await servers.outcomes_since(before) == counted(planned=3)


async def test_the_categories_root_fields_are_answered_alike(servers, catalogue):
    """Not only `services`: the categories' root fields, planned or not, answer as normal execution."""
    fields = "__typename slug name description position serviceCount"
    before = await servers.outcomes()
    everything = await servers.same(f"{{ categories {{ {fields} }} }}")
    assert everything.status == 200 and not everything.errors
    assert any(category["serviceCount"] for category in everything.data["categories"])
    one = await servers.same(f'{{ category(slug: "trouver-un-emploi") {{ {fields} }} }}')
    assert one.data["category"]["serviceCount"] > 0
    both = await servers.same("{ categories { slug } services(first: 2) { nodes { slug } } }")
    assert len(both.data["services"]["nodes"]) == 2
    assert await servers.outcomes_since(before) == counted(planned=3)
    nested = await servers.same(
        "query($slug: String!) { category(slug: $slug) { slug services(first: 3, orderBy: NAME) { totalCount"
        " nodes { slug categories { slug position } } } } }",
        {"slug": "preparer-sa-candidature"},
    )
    assert nested.data["category"]["services"]["nodes"]
    before = await servers.outcomes()
    unknown = await servers.same('{ category(slug: "nulle-part") { slug name } }')
    assert unknown.status == 200 and [e["extensions"]["code"] for e in unknown.errors] == ["NOT_FOUND"]
    assert await servers.outcomes_since(before) == counted(abandoned=1)


async def test_a_service_page_with_its_related_services_is_planned(servers, catalogue):
    """service(slug) and relatedServices (at any `first`, the default too), alone or under a page."""
    detail = f"""query($slug: String!, $first: Int!) {{ service(slug: $slug) {{ {SERVICE_FIELDS}
      relatedServices(first: $first) {{ {SERVICE_FIELDS} }}
      fewer: relatedServices(first: 1) {{ slug }}
      byDefault: relatedServices {{ slug name }}
      none: relatedServices(first: 0) {{ slug }} }} }}"""
    before = await servers.outcomes()
    for slug in sorted(catalogue.visible):
        reply = await servers.same(detail, {"slug": slug, "first": 20})
        assert reply.status == 200 and not reply.errors, reply.errors
        assert reply.data["service"]["none"] == []
    with_related = [
        slug
        for slug in sorted(catalogue.visible)
        if (await servers.same(detail, {"slug": slug, "first": 3})).data["service"]["relatedServices"]
    ]
    assert with_related, "the demo catalogue has services with related services"
    page = await servers.same(
        "{ services(first: 100, orderBy: NAME) { nodes { slug relatedServices(first: 2) { slug rating { average } }"
        " more: relatedServices(first: 4) { slug categories { slug } } } } }"
    )
    assert any(node["more"] for node in page.data["services"]["nodes"])
    asked = 2 * len(catalogue.visible) + 1
    assert await servers.outcomes_since(before) == counted(planned=asked)


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ('{ service(slug: "nulle-part") { slug } }', "NOT_FOUND"),
        ('{ service(slug: "brouillon") { slug name } }', "NOT_FOUND"),
        ('{ service(slug: "payant") { slug } }', "NOT_FOUND"),
        ('{ service(slug: "archive") { relatedServices { slug } } }', "NOT_FOUND"),
        (
            "{ services(first: 2, orderBy: NAME) { nodes { relatedServices(first: 21) { slug } } } }",
            "BAD_USER_INPUT",
        ),
        (
            "{ services(first: 2, orderBy: NAME) { nodes { relatedServices(first: -1) { slug } } } }",
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_missing_services_and_bad_related_counts_are_left_to_normal_execution(
    servers, catalogue, query, code
):
    written = await _written()
    before = await servers.outcomes()

    reply = await servers.same(query)

    assert reply.status == 200
    assert [e["extensions"]["code"] for e in reply.errors] == [code]
    assert await servers.outcomes_since(before) == counted(abandoned=1)
    assert await _written() == written


# --- Random selections over the planned fields --------------------------------------------------------

SCALARS: dict[str, tuple[str, ...]] = {
    "ServiceConnection": ("totalCount",),
    "PageInfo": ("hasNextPage", "hasPreviousPage", "startCursor", "endCursor"),
    "ServiceEdge": ("cursor",),
    "Service": tuple(SERVICE_SCALARS.split()),
    "RatingSummary": ("count", "average"),
    "RatingBucket": ("stars", "count"),
    "Category": ("slug", "name", "description", "position"),
    "ServiceLink": ("platform", "url", "redirectUrl"),
    "Provider": ("slug", "name", "kind", "website", "isPublicEmploymentService"),
}
OBJECTS: dict[str, dict[str, str]] = {
    "ServiceConnection": {"pageInfo": "PageInfo", "edges": "ServiceEdge", "nodes": "Service"},
    "ServiceEdge": {"node": "Service"},
    "Service": {
        "rating": "RatingSummary",
        "categories": "Category",
        "links": "ServiceLink",
        "provider": "Provider",
    },
    "RatingSummary": {"distribution": "RatingBucket"},
}
ENUM_ARGUMENTS = {"kinds", "platforms"}


class RandomDocument:
    """A random valid query over the planned fields: subsets, aliases, repeats, `__typename` and
    fragments (inline, with or without type condition, and named), with literal or variable arguments."""

    def __init__(self, rng: random.Random, cursors: dict[str, list[str]]) -> None:
        self.rng = rng
        self.cursors = cursors
        self.aliases = 0
        self.fragments: list[str] = []

    def selection(self, typename: str) -> str:
        rng = self.rng
        objects = OBJECTS.get(typename, {})
        names = [*SCALARS[typename], *objects]
        parts = []
        for name in rng.sample(names, rng.randint(1, len(names))):
            for _ in range(2 if rng.random() < 0.15 else 1):  # sometimes twice: the two merge
                text = name
                if name in objects:
                    text += " { " + self.selection(objects[name]) + " }"
                if self.aliases < 12 and rng.random() < 0.12:
                    self.aliases += 1
                    text = f"a{self.aliases}: {text}"
                parts.append(text)
        if rng.random() < 0.25:
            parts.insert(rng.randrange(len(parts) + 1), "__typename")
        if len(parts) > 1 and rng.random() < 0.3:
            cut = rng.randrange(1, len(parts))
            wrapped, parts = " ".join(parts[cut:]), parts[:cut]
            kind = rng.choice(("inline", "untyped", "named"))
            if kind == "inline":
                parts.append(f"... on {typename} {{ {wrapped} }}")
            elif kind == "untyped":
                parts.append(f"... {{ {wrapped} }}")
            else:
                name = f"F{len(self.fragments)}"
                self.fragments.append(f"fragment {name} on {typename} {{ {wrapped} }}")
                parts.append(f"...{name}")
        return " ".join(parts)

    def build(self) -> tuple[str, dict[str, Any]]:
        rng = self.rng
        order = rng.choice(ORDERS)
        arguments: dict[str, tuple[str, Any]] = {"orderBy": ("ServiceOrder!", order)}
        first = rng.choice((0, 1, 2, 5, 10, 20, None, "omitted"))
        if first != "omitted":
            arguments["first"] = ("Int", first)
        if rng.random() < 0.3:
            arguments["after"] = ("String", rng.choice(self.cursors[order]))
        filter_ = FILTERS[rng.choice(list(FILTERS))]
        if filter_ is not None or rng.random() < 0.5:
            arguments["filter"] = ("ServiceFilter", filter_)
        selection = self.selection("ServiceConnection")
        variables: dict[str, Any] = {}
        written, declared = [], []
        for name, (gql_type, value) in arguments.items():
            if rng.random() < 0.5:
                declared.append(f"${name}: {gql_type}")
                variables[name] = value
                written.append(f"{name}: ${name}")
            else:
                written.append(f"{name}: {literal(value, enum=name == 'orderBy')}")
        header = f"query Random({', '.join(declared)})" if declared else "query Random"
        document = f"{header} {{ services({', '.join(written)}) {{ {selection} }} }}"
        return "\n".join([document, *self.fragments]), variables


def literal(value: Any, *, enum: bool = False) -> str:
    """A GraphQL literal for a JSON-like value (enum values unquoted)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return json.dumps(value)
    if isinstance(value, str):
        return value if enum else json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(literal(v, enum=enum) for v in value) + "]"
    fields = (f"{key}: {literal(v, enum=key in ENUM_ARGUMENTS)}" for key, v in value.items())
    return "{" + ", ".join(fields) + "}"


async def test_forty_random_selections(servers, catalogue):
    cursors = {}
    for order in ORDERS:
        reply = await servers.same(PAGE, {"orderBy": order, "first": 100})
        cursors[order] = [edge["cursor"] for edge in reply.data["services"]["edges"]]
    rng = random.Random(20240607)
    before = await servers.outcomes()
    for n in range(40):
        document, variables = RandomDocument(rng, cursors).build()
        on, off = await servers.both(document, variables)
        assert on.status == 200 and not on.errors, (n, document, variables, on.body)
        assert_same(on, off)
    assert await servers.outcomes_since(before) == counted(planned=40)


# --- What plans leave to normal execution ---------------------------------------------------------------

UNPLANNABLE: dict[str, tuple[str, dict[str, Any]]] = {
    "field-without-rule": (
        "{ categories { slug services(first: 2, orderBy: NAME) { nodes { slug } } } }",
        {},
    ),
    "related-services-of-related-services": (
        "{ services(orderBy: POPULARITY, first: 3) {"
        " edges { node { slug relatedServices(first: 2) { name relatedServices { slug } } } } } }",
        {},
    ),
    "category-service-count": (
        "{ services(orderBy: NAME, first: 5) { nodes { slug categories { slug serviceCount } } } }",
        {},
    ),
    "include-true": (
        "query($x: Boolean!) { services(orderBy: NAME, first: 5) { nodes { slug name @include(if: $x) } } }",
        {"x": True},
    ),
    "include-false": (
        "query($x: Boolean!) { services(orderBy: NAME, first: 5) { nodes { slug name @include(if: $x) } } }",
        {"x": False},
    ),
    "skip-literal": ("{ services(first: 3) { totalCount @skip(if: true) nodes { slug } } }", {}),
    "directive-on-spread": (
        "{ services(first: 3) { nodes { ...Card @include(if: true) } } } fragment Card on Service { slug }",
        {},
    ),
    "fragment-on-a-union": (
        "{ services(orderBy: RATING, first: 5) { nodes { slug ... on SearchItem { __typename"
        " ... on Service { name } ... on Article { title } } } } }",
        {},
    ),
    "named-fragment-on-a-union": (
        "{ services(first: 4) { nodes { ...Item } } }"
        " fragment Item on SearchItem { ... on Service { slug } }",
        {},
    ),
    "another-root-field": ("{ services(orderBy: NAME, first: 2) { nodes { slug } } me { email } }", {}),
    "root-typename": ("{ __typename services(orderBy: NAME, first: 2) { nodes { slug } } }", {}),
    "same-root-field-twice": (
        "{ services(first: 2) { nodes { slug } } services(first: 2) { totalCount } }",
        {},
    ),
    "mutation": ('mutation { rateService(serviceSlug: "nulle-part", stars: 4) { replaced } }', {}),
}


@pytest.mark.parametrize("case", UNPLANNABLE)
async def test_unplannable_operations_run_normally(servers, catalogue, case):
    query, variables = UNPLANNABLE[case]
    before = await servers.outcomes()

    reply = await servers.same(query, variables)

    assert await servers.outcomes_since(before) == counted(unplannable=1)
    assert reply.status == 200
    if case == "mutation":
        assert [e["extensions"]["code"] for e in reply.errors] == ["NOT_FOUND"]
    else:
        assert not reply.errors, reply.errors
        assert reply.data


SMALL = """
query Small($first: Int, $after: String, $filter: ServiceFilter, $orderBy: ServiceOrder! = RATING) {
  services(first: $first, after: $after, filter: $filter, orderBy: $orderBy) { totalCount nodes { slug } }
}
"""
ANOTHER_ORDERINGS_CURSOR = "a real cursor of the NAME ordering, fetched by the test"
ABANDONED: dict[str, dict[str, Any]] = {
    "first-500": {"first": 500},
    "first-101": {"first": 101},
    "first-negative": {"first": -1},
    "garbage-cursor": {"after": "garbage"},
    "not-base64-cursor": {"after": "!!!"},
    "cursor-too-long": {"after": "A" * 600},
    "cursor-of-another-ordering": {"after": ANOTHER_ORDERINGS_CURSOR},
    "unknown-category": {"filter": {"categories": ["nope"]}},
    "unknown-categories-and-known": {"filter": {"categories": ["trouver-un-emploi", "zzz", "aaa"]}},
    "too-many-kinds": {"filter": {"kinds": ["MOOC"] * 21}},
    "min-rating-above-5": {"filter": {"minRating": 7}},
    "min-rating-negative": {"filter": {"minRating": -0.5}, "orderBy": "NAME"},
}


@pytest.mark.parametrize("case", ABANDONED)
async def test_abandoned_plans_leave_the_normal_error(servers, catalogue, case):
    variables = dict(ABANDONED[case])
    if variables.get("after") == ANOTHER_ORDERINGS_CURSOR:
        first = await servers.same(
            SMALL.replace("nodes { slug }", "edges { cursor }"), {"orderBy": "NAME", "first": 1}
        )
        variables["after"] = first.data["services"]["edges"][0]["cursor"]
    written = await _written()
    before = await servers.outcomes()

    reply = await servers.same(SMALL, variables)

    assert await servers.outcomes_since(before) == counted(abandoned=1)
    assert reply.status == 200
    assert reply.data is None
    assert [e["extensions"]["code"] for e in reply.errors] == ["BAD_USER_INPUT"]
    assert reply.errors[0]["path"] == ["services"]
    assert await _written() == written


async def test_variables_that_do_not_coerce_are_left_to_normal_execution(servers, catalogue):
    written = await _written()
    before = await servers.outcomes()

    reply = await servers.same(SMALL, {"first": "many"})

    # A request error (GraphQL over HTTP): a 400 without `data`, as the off server answers.
    assert reply.status == 400 and "data" not in reply.body
    assert "$first" in reply.errors[0]["message"]
    assert await servers.outcomes_since(before) == counted(abandoned=1)
    assert await _written() == written


async def test_the_server_with_planned_execution_off_never_plans(servers, catalogue):
    before = await servers.outcomes()
    for query, variables in [
        (EVERYTHING, {"orderBy": "NAME", "first": 3}),
        (SMALL, {"first": 500}),
        UNPLANNABLE["field-without-rule"],
    ]:
        response = await servers.off.post("/graphql", json={"query": query, "variables": variables})
        assert response.status_code == 200
    assert await servers.outcomes_since(before) == counted()
