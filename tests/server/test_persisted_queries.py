"""Automatic persisted queries, as Apollo Client speaks them (version 1, sha256)."""

from __future__ import annotations

import json
import uuid

from tests.factories import make_service
from tests.server.test_response_cache import get, metric, persisted, serving, sha256

NOT_FOUND = {
    "errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]
}
CATALOGUE = "query Catalogue { services { totalCount nodes { slug } } }"
RATE = "mutation Rate($s: String!) { rateService(serviceSlug: $s, stars: 5) { replaced } }"


async def test_the_apollo_flow(client):
    await make_service("memo")
    misses, stores = metric("apq", "miss"), metric("apq", "store")

    unknown = await client.post("/graphql", json={"extensions": persisted(CATALOGUE)})
    assert unknown.status_code == 200
    assert unknown.json() == NOT_FOUND
    assert unknown.headers["cache-control"] == "no-store"

    sent = await client.post("/graphql", json={"query": CATALOGUE, "extensions": persisted(CATALOGUE)})
    assert sent.status_code == 200
    assert sent.json() == {"data": {"services": {"totalCount": 1, "nodes": [{"slug": "memo"}]}}}

    by_hash = await get(client, extensions=persisted(CATALOGUE))  # httpx sends Accept: */*
    assert by_hash.status_code == 200
    assert by_hash.json() == sent.json()
    assert by_hash.headers["cache-control"] == "public, max-age=30"
    posted = await client.post("/graphql", json={"extensions": persisted(CATALOGUE)})
    assert posted.json() == sent.json()
    assert (metric("apq", "miss"), metric("apq", "store")) == (misses + 1, stores + 1)


async def test_get_by_hash_with_variables_and_operation_name(client):
    await make_service("memo")
    await make_service("bob")
    document = (
        "query All { services { totalCount } }\n"
        "query One($slug: String!) { service(slug: $slug) { slug name } }"
    )
    registered = await get(client, document, extensions=persisted(document), operation="All")
    assert registered.json() == {"data": {"services": {"totalCount": 2}}}

    one = await get(client, extensions=persisted(document), operation="One", variables={"slug": "bob"})
    assert one.json()["data"]["service"]["slug"] == "bob"
    modern = await get(
        client,
        extensions=persisted(document),
        operation="One",
        variables={"slug": "memo"},
        headers={"accept": "application/graphql-response+json"},
    )
    assert modern.headers["content-type"].startswith("application/graphql-response+json")
    assert modern.json()["data"]["service"]["slug"] == "memo"


async def test_a_hash_that_does_not_match_is_refused_and_not_stored(client):
    other = "{ categories { slug } }"
    wrong = {"persistedQuery": {"version": 1, "sha256Hash": sha256(other)}}
    for response in (
        await client.post("/graphql", json={"query": CATALOGUE, "extensions": wrong}),
        await get(client, CATALOGUE, extensions=wrong),
    ):
        assert response.status_code == 400
        assert response.json() == {
            "errors": [
                {"message": "provided sha does not match query", "extensions": {"code": "BAD_REQUEST"}}
            ]
        }
    for document in (CATALOGUE, other):
        response = await client.post("/graphql", json={"extensions": persisted(document)})
        assert response.json() == NOT_FOUND


async def test_upper_case_hashes_name_the_same_document(client):
    loud = {"persistedQuery": {"version": 1, "sha256Hash": sha256(CATALOGUE).upper()}}
    await client.post("/graphql", json={"query": CATALOGUE, "extensions": loud})
    assert (await client.post("/graphql", json={"extensions": persisted(CATALOGUE)})).json()["data"]


async def test_only_version_1_is_spoken(client):
    for version in (2, 0, "1", True, None):
        extensions = {"persistedQuery": {"version": version, "sha256Hash": sha256(CATALOGUE)}}
        response = await client.post("/graphql", json={"query": CATALOGUE, "extensions": extensions})
        assert response.status_code == 400, version
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert (await client.post("/graphql", json={"extensions": persisted(CATALOGUE)})).json() == NOT_FOUND


async def test_documents_that_do_not_parse_or_are_too_long_are_not_stored(client):
    garbage = "{ services { "
    too_long = "{ categories { " + " ".join("slug" for _ in range(2100)) + " } }"
    for document in (garbage, too_long):
        response = await client.post("/graphql", json={"query": document, "extensions": persisted(document)})
        assert 400 <= response.status_code < 500
        assert "data" not in response.json()
        again = await client.post("/graphql", json={"extensions": persisted(document)})
        assert again.json() == NOT_FOUND


async def test_mutations_by_hash_over_post_only(client):
    await make_service("memo")
    variables = {"s": "memo"}
    first = await client.post(
        "/graphql", json={"query": RATE, "variables": variables, "extensions": persisted(RATE)}
    )
    assert first.json() == {"data": {"rateService": {"replaced": False}}}
    assert first.headers["cache-control"] == "private, no-store"
    token = first.headers["x-visitor-token"]

    again = await client.post(
        "/graphql",
        json={"variables": variables, "extensions": persisted(RATE)},
        headers={"x-visitor-token": token},
    )
    assert again.json() == {"data": {"rateService": {"replaced": True}}}

    over_get = await get(client, variables=variables, extensions=persisted(RATE))
    assert over_get.status_code == 405
    assert over_get.headers["allow"] == "POST"


async def test_malformed_requests_are_400_and_nothing_is_kept(client):
    digest = sha256(CATALOGUE)
    get_params = [
        {"extensions": "{not json"},
        {"extensions": "[1, 2]"},
        {"extensions": '"persistedQuery"'},
        {"extensions": json.dumps({"persistedQuery": [1, digest]})},
        {"extensions": json.dumps({"persistedQuery": "x"})},
        {"extensions": json.dumps({"persistedQuery": None})},
        {"extensions": json.dumps({"persistedQuery": {"version": 1}})},
        {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": digest[:-1]}})},
        {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": "z" * 64}})},
        {"extensions": json.dumps({"persistedQuery": {"version": 1, "sha256Hash": 12}})},
        {"extensions": json.dumps(persisted(CATALOGUE)), "variables": "{oops"},
        {"extensions": json.dumps(persisted(CATALOGUE)), "variables": "[]"},
        {"extensions": ""},
        {"query": CATALOGUE, "extensions": json.dumps(persisted(CATALOGUE)), "variables": ""},
    ]
    for params in get_params:
        response = await client.get("/graphql", params=params, headers={"accept": "application/json"})
        assert response.status_code == 400, params
        assert response.json()["errors"][0]["extensions"]["code"] == "BAD_REQUEST", params
        assert response.headers["cache-control"] == "no-store"
    post_bodies = [
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest, "extra": 1}}, "query": 12},
        {"extensions": {"persistedQuery": {}}},
        {"extensions": [{"persistedQuery": {"version": 1}}]},
        {"extensions": {"persistedQuery": {"version": 1.5, "sha256Hash": digest}}},
        {"extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest + "00"}}, "query": CATALOGUE},
    ]
    for body in post_bodies:
        response = await client.post("/graphql", json=body)
        assert response.status_code == 400, body
    assert (await client.post("/graphql", json={"extensions": persisted(CATALOGUE)})).json() == NOT_FOUND


async def test_fuzzed_requests_never_get_a_500(client):
    await make_service("memo")
    seed = uuid.uuid4().hex
    samples = [
        "",
        "null",
        "0",
        "{}",
        '{"persistedQuery": {"version": 1, "sha256Hash": "' + "é" * 64 + '"}}',
        '{"persistedQuery": {"version": 1e400, "sha256Hash": "' + "a" * 64 + '"}}',
        '{"persistedQuery": {"version": 1, "sha256Hash": "' + "a" * 64 + '"}, "x": NaN}',
        '{"persistedQuery": {"version": 99999999999999999999999, "sha256Hash": "aa"}}',
        "\x00\xff",
        "%",
        seed,
    ]
    for extensions in samples:
        for extra in ({}, {"query": CATALOGUE}, {"variables": extensions}, {"operationName": extensions}):
            response = await client.get("/graphql", params={"extensions": extensions, **extra})
            assert response.status_code < 500, (extensions, extra)
            post = await client.post(
                "/graphql",
                content=('{"extensions": ' + extensions + "}").encode("utf-8", "surrogatepass"),
                headers={"content-type": "application/json"},
            )
            assert post.status_code < 500, extensions


async def test_the_in_process_store_is_bounded(settings, db):
    await make_service("memo")
    documents = [f"query Q{n} {{ services {{ totalCount }} }}" for n in range(4)]
    async with serving(settings.model_copy(update={"persisted_queries_max_entries": 3})) as http:
        for document in documents:
            sent = await http.post("/graphql", json={"query": document, "extensions": persisted(document)})
            assert sent.json() == {"data": {"services": {"totalCount": 1}}}
        assert (await http.post("/graphql", json={"extensions": persisted(documents[0])})).json() == NOT_FOUND
        for document in documents[1:]:
            found = await http.post("/graphql", json={"extensions": persisted(document)})
            assert found.json() == {"data": {"services": {"totalCount": 1}}}
