"""/graphql speaks GraphQL over HTTP as the specification asks, with limits on what it runs."""

from __future__ import annotations

import json

from tortoise import Tortoise

from tests.factories import make_service

GRAPHQL_RESPONSE = "application/graphql-response+json"


async def test_queries_over_get(client):
    await make_service("memo")
    response = await client.get("/graphql", params={"query": "{ services { totalCount } }"})
    assert response.status_code == 200
    assert response.json() == {"data": {"services": {"totalCount": 1}}}


async def test_queries_over_post_with_variables_and_operation_name(client):
    await make_service("memo")
    body = {
        "query": "query A { categories { slug } } query B($s: String!) { service(slug: $s) { slug } }",
        "operationName": "B",
        "variables": {"s": "memo"},
    }
    response = await client.post("/graphql", json=body)
    assert response.json() == {"data": {"service": {"slug": "memo"}}}


async def test_mutations_over_get_are_405(client):
    await make_service("memo")
    query = 'mutation { trackRedirect(serviceSlug: "memo", platform: WEB) { url } }'
    response = await client.get("/graphql", params={"query": query})
    assert response.status_code == 405
    assert response.headers["allow"] == "POST"
    assert response.json()["errors"][0]["message"]


async def test_other_methods_are_405(client):
    response = await client.put("/graphql", json={"query": "{ categories { slug } }"})
    assert response.status_code == 405


async def test_media_type_follows_accept(client):
    query = {"query": "{ categories { slug } }"}
    modern = await client.post("/graphql", json=query, headers={"accept": GRAPHQL_RESPONSE})
    legacy = await client.post("/graphql", json=query, headers={"accept": "application/json"})
    anything = await client.post("/graphql", json=query)
    assert modern.headers["content-type"].startswith(GRAPHQL_RESPONSE)
    assert legacy.headers["content-type"].startswith("application/json")
    assert anything.headers["content-type"].startswith("application/json")


async def test_documents_that_do_not_parse_or_validate_are_400_without_data(client):
    for document in ("{ services { ", "{ nope }", "{ service(slug: 3) { slug } }", "query { categories }"):
        for accept in (GRAPHQL_RESPONSE, "application/json"):
            response = await client.post("/graphql", json={"query": document}, headers={"accept": accept})
            assert response.status_code == 400, (document, accept)
            body = response.json()
            assert "data" not in body
            assert body["errors"][0]["message"]


async def test_bodies_that_are_not_graphql_requests_are_400(client):
    for content, content_type in (
        ("{not json", "application/json"),
        (json.dumps({"variables": {}}), "application/json"),
        ("bonjour", "text/plain"),
    ):
        response = await client.post("/graphql", content=content, headers={"content-type": content_type})
        assert 400 <= response.status_code < 500, content
        assert response.json()["errors"]


async def test_field_errors_keep_status_200_with_data(client):
    response = await client.post(
        "/graphql",
        json={"query": '{ service(slug: "inconnu") { slug } }'},
        headers={"accept": GRAPHQL_RESPONSE},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {"service": None}
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert body["errors"][0]["path"] == ["service"]


async def test_depth_limit(client):
    deep = "{ services { nodes { " + "relatedServices { " * 14 + "slug" + " }" * 16 + " }"
    response = await client.post("/graphql", json={"query": deep})
    assert response.status_code == 400
    assert "depth" in response.json()["errors"][0]["message"]


async def test_alias_limit(client):
    aliases = " ".join(f"a{i}: categories {{ slug }}" for i in range(31))
    response = await client.post("/graphql", json={"query": f"{{ {aliases} }}"})
    assert response.status_code == 400
    assert "alias" in response.json()["errors"][0]["message"].lower()


async def test_token_limit(client):
    fields = " ".join("slug" for _ in range(2100))
    response = await client.post("/graphql", json={"query": f"{{ categories {{ {fields} }} }}"})
    assert 400 <= response.status_code < 500
    assert "token" in response.json()["errors"][0]["message"].lower()


async def test_graphiql_in_a_browser(client):
    response = await client.get("/graphql", headers={"accept": "text/html"})
    assert response.status_code == 200
    assert "graphiql" in response.text.lower()


async def test_health(client):
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    assert (await client.get("/readyz")).json()["database"] == "ok"


async def test_internal_errors_are_masked(gql):
    """A failure that is not the user's doing shows no internals (here: the database loses a table)."""
    await make_service("memo")
    connection = Tortoise.get_connection("default")
    await connection.execute_script("ALTER TABLE partner RENAME TO partner_away")
    try:
        response = await gql('{ service(slug: "memo") { slug provider { name } } }')
    finally:
        await connection.execute_script("ALTER TABLE partner_away RENAME TO partner")

    assert response.status == 200
    assert response.codes == ["INTERNAL_SERVER_ERROR"]
    assert response.errors[0]["message"] == "Internal server error."
    assert "partner" not in str(response.body["errors"])
