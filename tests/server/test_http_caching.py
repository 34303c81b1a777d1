"""Cache-Control, ETag and 304: public answers may be kept by browsers and CDNs, nothing else is."""

from __future__ import annotations

import re

from itsdangerous import Signer

from server.visitors import COOKIE_NAME
from tests.cms.test_workflow import CREATE, story
from tests.factories import make_service
from tests.server.test_response_cache import get, persisted, serving

CATALOGUE = "query Catalogue { services { totalCount nodes { slug name rating { count average } } } }"
PUBLIC = "public, max-age=30"


async def test_a_public_get_query_is_cacheable_with_a_strong_etag(client):
    await make_service("memo")
    for response in (await get(client, CATALOGUE), await get(client, extensions=persisted(CATALOGUE))):
        assert response.status_code == 200
        assert response.headers["cache-control"] == PUBLIC
        assert re.fullmatch(r'"[0-9a-f]{32}"', response.headers["etag"])  # strong: no W/
        assert response.headers["vary"] == "Accept, Accept-Encoding"
        assert "set-cookie" not in response.headers


async def test_if_none_match_gets_a_304_without_a_body(client):
    await make_service("memo")
    etag = (await get(client, CATALOGUE)).headers["etag"]
    for if_none_match in (etag, f"W/{etag}", f'"autre", {etag}', "*"):
        response = await get(client, CATALOGUE, headers={"if-none-match": if_none_match})
        assert response.status_code == 304, if_none_match
        assert response.content == b""
        assert response.headers["etag"] == etag
        assert response.headers["cache-control"] == PUBLIC
    stale = await get(client, CATALOGUE, headers={"if-none-match": '"autre"'})
    assert stale.status_code == 200 and stale.json()["data"]["services"]["totalCount"] == 1


async def test_a_304_also_comes_when_the_answer_is_computed_again(settings, db):
    await make_service("memo")
    async with serving(settings.model_copy(update={"response_cache": False})) as http:
        etag = (await get(http, CATALOGUE)).headers["etag"]
        response = await get(http, CATALOGUE, headers={"if-none-match": etag})
    assert response.status_code == 304
    assert response.content == b""
    assert "x-cache" not in response.headers


async def test_the_etag_changes_with_the_content_and_the_media_type(client):
    await make_service("memo")
    legacy = await get(client, CATALOGUE, headers={"accept": "application/json"})
    modern = await get(client, CATALOGUE, headers={"accept": "application/graphql-response+json"})
    assert legacy.headers["etag"] != modern.headers["etag"]

    await client.post(
        "/graphql", json={"query": 'mutation { rateService(serviceSlug: "memo", stars: 2) { replaced } }'}
    )
    changed = await get(
        client, CATALOGUE, headers={"accept": "application/json", "if-none-match": legacy.headers["etag"]}
    )
    assert changed.status_code == 200
    assert changed.headers["etag"] != legacy.headers["etag"]


async def test_max_age_comes_from_the_settings(settings, db):
    await make_service("memo")
    async with serving(settings.model_copy(update={"http_cache_max_age": 300})) as http:
        response = await get(http, CATALOGUE)
    assert response.headers["cache-control"] == "public, max-age=300"


async def test_answers_for_someone_are_private(client, sign_in):
    await make_service("memo")
    editor = await sign_in("editor")
    cases = {
        "signed in, even for public data": await get(editor.http, CATALOGUE),
        "a session cookie": await get(client, CATALOGUE, headers={"cookie": "es_session=abc"}),
        "an Authorization header": await get(client, CATALOGUE, headers={"authorization": "Bearer abc"}),
        "asks who is signed in": await get(client, "{ me { email } }"),
        "a mutation": await client.post(
            "/graphql", json={"query": 'mutation { rateService(serviceSlug: "memo", stars: 4) { replaced } }'}
        ),
        "a query over POST": await client.post("/graphql", json={"query": CATALOGUE}),
    }
    for case, response in cases.items():
        assert response.status_code == 200, case
        assert response.headers["cache-control"] == "private, no-store", case
        assert "etag" not in response.headers, case
        assert response.headers.get("x-cache") != "HIT", case
    assert cases["a mutation"].headers["x-visitor-token"]  # it issued a visitor token


async def test_a_visitor_cookie_alone_does_not_make_an_answer_private(client):
    await make_service("memo")
    token = Signer("test-secret", salt="emploi-store.visitor").sign(b"v:0123").decode("ascii")
    response = await get(client, CATALOGUE, headers={"cookie": f"{COOKIE_NAME}={token}"})
    assert response.headers["cache-control"] == PUBLIC
    assert "set-cookie" not in response.headers


async def test_a_draft_seen_through_a_preview_token_is_private(client, sign_in):
    editor = await sign_in("editor")
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    link = await editor.gql(f'mutation {{ createPreviewLink(id: "{article_id}") {{ token }} }}')
    query = f'{{ articlePreview(token: "{link.data["createPreviewLink"]["token"]}") {{ title }} }}'
    for _ in range(2):
        response = await get(client, query)
        assert response.json()["data"]["articlePreview"]["title"] == story()["title"]
        assert response.headers["cache-control"] == "private, no-store"
        assert response.headers["x-cache"] == "MISS"


async def test_errors_are_no_store(client):
    await make_service("memo")
    responses = {
        "a field error": await get(client, '{ service(slug: "inconnu") { slug } }'),
        "a document that does not parse": await get(client, "{ services { "),
        "a mutation over GET": await get(
            client, 'mutation { rateService(serviceSlug: "memo", stars: 4) { replaced } }'
        ),
        "an unknown persisted query": await get(client, extensions=persisted("{ categories { slug } }")),
        "a bad extensions parameter": await client.get("/graphql", params={"extensions": "{"}),
    }
    for case, response in responses.items():
        assert response.headers["cache-control"] == "no-store", case
        assert "etag" not in response.headers, case
