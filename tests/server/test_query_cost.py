"""What operations cost (server/cost.py), worked out before they run, and the maximum cost per operation."""

from __future__ import annotations

import uuid

import pytest
from graphql import get_introspection_query, parse

from cms.accounts import create_user
from cms.api_keys import create_key
from models.enums import Role
from models.ratings import Rating
from schema import build_schema
from server.cost import CostRules, operation_cost
from tests.conftest import PASSWORD, GraphQLClient
from tests.factories import make_service

SERVICES_PAGE = "{ services(first: 20) { edges { node { name categories { name } links { url } } } } }"
CATEGORY_PAGES = (
    "{ categories { name services(first: 5) { totalCount nodes { name relatedServices { name } } } } }"
)
RATE = (
    'mutation { rateService(serviceSlug: "memo", stars: 5) { replaced rating { stars } service { name } } }'
)
BY_VARIABLE = (
    "query($n: Int) { services(first: $n) { nodes { name categories { name } } pageInfo { hasNextPage } } }"
)
# 1 + 100 × (nodes 1 + relatedServices (1 + 10 × (1 + 10 × categories 1))) = 11201
OVER_THE_MAXIMUM = """{ services(first: 100) { nodes { relatedServices(first: 10) {
  relatedServices(first: 10) { name categories { name } } } } } }"""


@pytest.fixture(scope="module")
def graphql_schema():
    return build_schema(max_depth=10, max_tokens=2000, max_aliases=30, debug=True)._schema


def cost(schema, document: str, variables: dict | None = None, **rules) -> int | None:
    return operation_cost(schema, parse(document), variables=variables, rules=CostRules(**rules))


@pytest.fixture
async def keyed(client, db) -> GraphQLClient:
    """A client sending a developer's API key, so its answers carry extensions.cost."""
    developer = await create_user(f"dev-{uuid.uuid4().hex[:8]}@emploi-store.test", PASSWORD, Role.DEVELOPER)
    created = await create_key(developer, "tests")
    return GraphQLClient(client, headers={"X-Api-Key": created.key})


def test_the_documented_examples(graphql_schema):
    assert cost(graphql_schema, SERVICES_PAGE) == 81  # 1 + 20 × (edges + node + categories + links)
    assert cost(graphql_schema, CATEGORY_PAGES) == 12  # 1 + 1 + 5 × (nodes + relatedServices)
    assert cost(graphql_schema, RATE) == 12  # 10 + rating + service


def test_first_comes_from_variables_or_the_default(graphql_schema):
    assert cost(graphql_schema, BY_VARIABLE, {"n": 50}) == 1 + 50 * 2 + 1
    assert cost(graphql_schema, BY_VARIABLE, {}) == 1 + 20 * 2 + 1  # the argument's default
    assert cost(graphql_schema, BY_VARIABLE, {"n": None}) == 1 + 20 * 2 + 1  # null: the default page
    assert cost(graphql_schema, BY_VARIABLE, {"n": "many"}) is None  # refused before running anyway
    assert cost(graphql_schema, "{ services { nodes { relatedServices { name } } } }") == 1 + 20 * (1 + 1)


def test_scalars_are_free_and_connection_extras_come_once(graphql_schema):
    assert cost(graphql_schema, "{ services(first: 100) { totalCount pageInfo { hasNextPage } } }") == 2
    assert cost(graphql_schema, '{ service(slug: "memo") { name slug tags redirectCount } }') == 1


def test_fragments_are_expanded_and_union_members_are_alternatives(graphql_schema):
    spread = "fragment F on Service { categories { name } } { services(first: 3) { nodes { ...F } } }"
    inline = "{ services(first: 3) { nodes { ... on Service { categories { name } } } } }"
    assert cost(graphql_schema, spread) == cost(graphql_schema, inline) == 1 + 3 * (1 + 1)
    search = """{ search(query: "cv") { totalCount nodes { item {
      ... on Service { name categories { name } provider { name } }
      ... on Article { title }
    } } } }"""
    # search 5 + 20 × (nodes 1 + item 1 + the dearer member: Service's categories and provider)
    assert cost(graphql_schema, search) == 5 + 20 * (1 + 1 + 2)


def test_skip_and_include_are_honoured(graphql_schema):
    document = "query($s: Boolean!) { a: categories { name } b: categories @skip(if: $s) { name } }"
    assert cost(graphql_schema, document, {"s": True}) == 1
    assert cost(graphql_schema, document, {"s": False}) == 2


def test_introspection_is_cheap(graphql_schema):
    assert cost(graphql_schema, get_introspection_query()) == 1
    assert cost(graphql_schema, "{ __typename }") == 0


def test_mutations_cost_more_and_overrides_apply(graphql_schema):
    assert cost(graphql_schema, 'mutation { trackRedirect(serviceSlug: "x", platform: WEB) { url } }') == 10
    assert cost(graphql_schema, "mutation { recommend(answers: []) { id } }") == 20
    assert cost(graphql_schema, RATE, mutation_cost=3) == 5
    assert cost(graphql_schema, CATEGORY_PAGES, field_costs={"Query.categories": 7}) == 18


async def test_answers_report_the_cost_and_the_budget_left(keyed):
    await make_service("memo")
    first = await keyed(SERVICES_PAGE)
    assert first.status == 200 and len(first.data["services"]["edges"]) == 1
    report = first.body["extensions"]["cost"]
    assert report["requested"] == 81 and report["limit"] == 10**9
    assert 0 < report["resetIn"] <= 60

    second = await keyed(BY_VARIABLE, {"n": 50})
    assert second.body["extensions"]["cost"]["requested"] == 102
    assert second.body["extensions"]["cost"]["remaining"] == report["remaining"] - 102
    assert second.headers["x-ratelimit-remaining"] == str(report["remaining"] - 102)
    assert second.headers["x-ratelimit-limit"] == str(10**9)


async def test_anonymous_answers_carry_the_budget_in_headers_only(gql):
    response = await gql(CATEGORY_PAGES)
    assert response.status == 200 and "extensions" not in response.body
    assert int(response.headers["x-ratelimit-remaining"]) < int(response.headers["x-ratelimit-limit"])
    assert 0 < int(response.headers["x-ratelimit-reset"]) <= 60


async def test_answers_over_get_carry_no_per_client_figures(keyed, client):
    """A GET answer may be cached and shared: the figures are in its headers, not its body."""
    query = f"{{ fresh{uuid.uuid4().hex[:8]}: categories {{ name }} }}"
    response = await client.get("/graphql", params={"query": query}, headers=keyed.headers)
    assert response.status_code == 200 and "extensions" not in response.json()
    assert response.headers["x-ratelimit-limit"] == str(10**9)


async def test_graphiql_introspection_runs(keyed):
    response = await keyed(get_introspection_query())
    assert response.status == 200 and response.data["__schema"]["queryType"]["name"] == "Query"
    assert response.body["extensions"]["cost"]["requested"] == 1


async def test_an_operation_over_the_maximum_is_refused_before_it_runs_and_charges_nothing(keyed):
    await make_service("memo")
    before = (await keyed("{ __typename }")).body["extensions"]["cost"]["remaining"]

    refused = await keyed(OVER_THE_MAXIMUM)
    assert refused.status == 400
    assert "data" not in refused.body
    assert refused.errors[0]["extensions"] == {"code": "COST_LIMIT_EXCEEDED", "cost": 11201, "maxCost": 5000}
    assert "x-ratelimit-remaining" not in refused.headers

    assert (await keyed(RATE)).status == 200  # within the maximum: runs
    assert await Rating.all().count() == 1
    after = (await keyed("{ __typename }")).body["extensions"]["cost"]["remaining"]
    assert after == before - 12


async def test_documents_that_do_not_run_are_not_charged(keyed, client):
    before = (await keyed("{ __typename }")).body["extensions"]["cost"]["remaining"]
    for document, variables in (
        ("{ services { ", None),
        ("{ nope }", None),
        (BY_VARIABLE, {"n": "many"}),
    ):
        response = await keyed(document, variables)
        assert response.status == 400, document
        assert "x-ratelimit-remaining" not in response.headers
    mutation_over_get = await client.get(
        "/graphql", params={"query": RATE}, headers={"X-Api-Key": keyed.headers["X-Api-Key"]}
    )
    assert mutation_over_get.status_code == 405
    assert (await keyed("{ __typename }")).body["extensions"]["cost"]["remaining"] == before


async def test_batched_requests_are_refused_with_400(client):
    """Batching is not enabled: a JSON array of operations is a clear 400, never a 500."""
    batch = [{"query": "{ categories { slug } }"}] * 3
    response = await client.post("/graphql", json=batch)
    assert response.status_code == 400
    assert response.json()["errors"][0]["message"] == "Batching is not enabled"
