"""Repeated anonymous public GET queries are answered from a cache, until public content changes."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import json
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from models.cms import Article
from server.app import create_app
from server.caching import CachedResponse, LocalResponseCache
from server.settings import Settings
from tests.cms.test_workflow import CREATE, act, story
from tests.conftest import UvicornProcess, free_port, http_cookiejar, uvicorn_in_loop
from tests.factories import make_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
RATINGS = "query Ratings { services { nodes { slug rating { count average } } } }"
ARTICLES = "query Blog { articles { nodes { slug title } } }"
RATE = 'mutation { rateService(serviceSlug: "memo", stars: 4) { service { rating { count } } } }'


def sha256(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


def persisted(document: str) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha256(document)}}


async def get(
    http: httpx.AsyncClient,
    query: str | None = None,
    *,
    variables: dict[str, Any] | None = None,
    extensions: dict[str, Any] | None = None,
    operation: str | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    params: dict[str, str] = {}
    if query is not None:
        params["query"] = query
    if variables is not None:
        params["variables"] = json.dumps(variables)
    if extensions is not None:
        params["extensions"] = json.dumps(extensions)
    if operation is not None:
        params["operationName"] = operation
    return await http.get("/graphql", params=params, headers=headers or {})


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """One more instance of the app, in this process beside the shared test server.

    Tortoise allows one global database context per process, so this instance runs without its
    lifespan and uses the session's database, search and model registry (and no Redis, no scheduler).
    """
    async with (
        uvicorn_in_loop(create_app(settings), startup_seconds=4) as url,
        httpx.AsyncClient(base_url=url, timeout=30, cookies=http_cookiejar()) as http,
    ):
        yield http


def metric(cache: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("emploi_store_cache_total", {"cache": cache, "outcome": outcome}) or 0.0


# --- In process -----------------------------------------------------------------------------------


async def test_a_repeated_public_get_is_a_hit_without_touching_the_database(client, count_statements):
    await make_service("memo")
    hits = metric("response", "hit")

    first = await get(client, RATINGS)
    count_statements.statements.clear()
    second = await get(client, RATINGS)

    assert first.status_code == second.status_code == 200
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("MISS", "HIT")
    assert first.content == second.content
    assert second.json()["data"]["services"]["nodes"][0]["slug"] == "memo"
    for name in ("content-type", "etag", "cache-control", "vary"):
        assert first.headers[name] == second.headers[name], name
    # A hit is charged too (one unit), and says what is left like any other answer.
    assert second.headers["x-ratelimit-limit"] == first.headers["x-ratelimit-limit"]
    assert int(second.headers["x-ratelimit-remaining"]) == int(first.headers["x-ratelimit-remaining"]) - 1
    assert count_statements.statements == []
    assert metric("response", "hit") == hits + 1


async def test_the_same_document_by_text_or_by_hash_shares_one_entry(client):
    await make_service("memo")
    by_text = await get(client, RATINGS)
    by_hash = await get(client, extensions=persisted(RATINGS))
    assert (by_text.headers["x-cache"], by_hash.headers["x-cache"]) == ("MISS", "HIT")
    assert by_hash.content == by_text.content


async def test_variables_count_by_value_not_by_spelling(client):
    await make_service("memo")
    await make_service("bob")
    query = "query One($slug: String!, $first: Int) { service(slug: $slug) { slug relatedServices(first: $first) { slug } } }"
    a = await get(client, query, variables={"slug": "memo", "first": 2})
    b = await client.get("/graphql", params={"query": query, "variables": '{ "first": 2,   "slug": "memo" }'})
    c = await get(client, query, variables={"slug": "bob", "first": 2})
    assert (a.headers["x-cache"], b.headers["x-cache"], c.headers["x-cache"]) == ("MISS", "HIT", "MISS")
    assert c.json()["data"]["service"]["slug"] == "bob"


async def test_each_media_type_has_its_own_entry(client):
    await make_service("memo")
    modern = {"accept": "application/graphql-response+json"}
    legacy = {"accept": "application/json"}
    responses = [await get(client, RATINGS, headers=h) for h in (modern, legacy, modern, legacy)]
    assert [r.headers["x-cache"] for r in responses] == ["MISS", "MISS", "HIT", "HIT"]
    assert responses[2].headers["content-type"].startswith("application/graphql-response+json")
    assert responses[3].headers["content-type"].startswith("application/json")
    assert responses[2].headers["etag"] != responses[3].headers["etag"]


async def test_answers_holding_absolute_urls_are_cached_per_host(client):
    await make_service("memo")
    query = "{ services { nodes { links { redirectUrl } } } }"
    one = await get(client, query, headers={"host": "un.example"})
    other = await get(client, query, headers={"host": "autre.example"})
    assert other.headers["x-cache"] == "MISS"
    assert "//un.example/go/memo/" in one.text
    assert "//autre.example/go/memo/" in other.text
    assert (await get(client, query, headers={"host": "un.example"})).content == one.content


async def test_a_rating_invalidates_the_cached_catalogue(client):
    await make_service("memo")
    assert (await get(client, RATINGS)).headers["x-cache"] == "MISS"
    assert (await get(client, RATINGS)).headers["x-cache"] == "HIT"

    rated = await client.post("/graphql", json={"query": RATE})
    assert rated.json()["data"]["rateService"]["service"]["rating"] == {"count": 1}

    after = await get(client, RATINGS)
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["data"]["services"]["nodes"][0]["rating"] == {"count": 1, "average": 4.0}
    assert (await get(client, RATINGS)).headers["x-cache"] == "HIT"


async def test_a_mutation_reached_through_an_alias_and_a_fragment_invalidates(client):
    await make_service("memo")
    assert (await get(client, RATINGS)).headers["x-cache"] == "MISS"
    document = (
        'mutation Both { go: trackRedirect(serviceSlug: "memo", platform: WEB) { url } ...Rate }\n'
        'fragment Rate on Mutation { stars: rateService(serviceSlug: "memo", stars: 1) { replaced } }'
    )
    both = await client.post("/graphql", json={"query": document})
    assert both.json()["data"]["stars"] == {"replaced": False}
    after = await get(client, RATINGS)
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["data"]["services"]["nodes"][0]["rating"] == {"count": 1, "average": 1.0}


async def test_a_refused_mutation_or_a_visitor_only_mutation_keeps_the_cache(client):
    await make_service("memo")
    assert (await get(client, RATINGS)).headers["x-cache"] == "MISS"

    refused = await client.post(
        "/graphql", json={"query": 'mutation { rateService(serviceSlug: "memo", stars: 9) { replaced } }'}
    )
    assert refused.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    unknown = await client.post(
        "/graphql", json={"query": 'mutation { rateService(serviceSlug: "nope", stars: 3) { replaced } }'}
    )
    assert unknown.json()["errors"]
    tracked = await client.post(
        "/graphql",
        json={"query": 'mutation { trackRedirect(serviceSlug: "memo", platform: WEB) { url } }'},
    )
    assert tracked.json()["data"]["trackRedirect"]["url"]

    assert (await get(client, RATINGS)).headers["x-cache"] == "HIT"


async def test_publishing_an_article_through_the_workflow_invalidates(client, sign_in):
    editor = await sign_in("editor")
    reviewer = await sign_in("editor", is_reviewer=True)
    empty = await get(client, ARTICLES)
    assert empty.json()["data"]["articles"]["nodes"] == []
    assert (await get(client, ARTICLES)).headers["x-cache"] == "HIT"

    created = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]
    # Drafts are not public, but any editorial change moves the version on.
    assert (await get(client, ARTICLES)).json()["data"]["articles"]["nodes"] == []
    published = await act(reviewer, "publish", created["id"])
    assert published.data["publishArticle"]["live"] is True

    after = await get(client, ARTICLES)
    assert after.headers["x-cache"] == "MISS"
    assert after.json()["data"]["articles"]["nodes"] == [{"slug": created["slug"], "title": story()["title"]}]


async def test_errors_posts_and_personal_answers_are_never_cached(client):
    await make_service("memo")
    cases = [
        lambda: get(client, '{ service(slug: "inconnu") { slug } }'),  # a field error
        lambda: get(client, "{ me { email } }"),  # asks who is signed in
        lambda: get(client, RATINGS, headers={"authorization": "Bearer nope"}),
        lambda: get(client, RATINGS, headers={"cookie": "es_session=whatever"}),
        lambda: client.post("/graphql", json={"query": RATINGS}),
    ]
    for case in cases:
        first, second = await case(), await case()
        assert second.headers.get("x-cache") != "HIT", first.request.url
        assert "public" not in second.headers["cache-control"]


async def test_entries_expire_after_the_ttl(settings, db):
    await make_service("memo")
    async with serving(settings.model_copy(update={"response_cache_ttl_seconds": 0.3})) as http:
        assert (await get(http, RATINGS)).headers["x-cache"] == "MISS"
        assert (await get(http, RATINGS)).headers["x-cache"] == "HIT"
        await asyncio.sleep(0.4)
        assert (await get(http, RATINGS)).headers["x-cache"] == "MISS"


async def test_the_cache_can_be_turned_off(settings, db):
    await make_service("memo")
    async with serving(settings.model_copy(update={"response_cache": False})) as http:
        responses = [await get(http, RATINGS) for _ in range(2)]
    assert [r.headers.get("x-cache") for r in responses] == [None, None]
    assert responses[1].headers["cache-control"] == "public, max-age=30"
    assert responses[0].headers["etag"] == responses[1].headers["etag"]


async def test_the_in_process_cache_is_bounded_by_entries(settings, db):
    await make_service("memo")
    queries = [f"{{ services(first: {n}) {{ totalCount }} }}" for n in (1, 2, 3)]
    async with serving(settings.model_copy(update={"response_cache_max_entries": 2})) as http:
        for query in queries:
            assert (await get(http, query)).headers["x-cache"] == "MISS"
        assert (await get(http, queries[2])).headers["x-cache"] == "HIT"
        assert (await get(http, queries[0])).headers["x-cache"] == "MISS"  # evicted, oldest first


def _entry(version: int, size: int) -> CachedResponse:
    return CachedResponse(version, 200, b"application/json", b'"e"', b"public, max-age=30", b"x" * size)


async def test_the_in_process_cache_is_bounded_by_bytes_and_versions():
    cache = LocalResponseCache(max_entries=1000, max_bytes=100_000, ttl=60)
    for n in range(40):
        assert await cache.store(f"k{n}", _entry(0, 10_000))
    assert cache.bytes <= 100_000 and len(cache) < 40
    assert (await cache.lookup("k0"))[0] is None and (await cache.lookup("k39"))[0] is not None
    assert not await cache.store("huge", _entry(0, 50_000))  # over an eighth of the budget

    await cache.bump()
    assert (await cache.lookup("k39")) == (None, 1)
    assert not await cache.store("late", _entry(0, 10))  # made before the bump: would be stale


# --- Shared through Redis, across processes --------------------------------------------------------


@pytest.fixture(scope="module")
def redis_prefix() -> str:
    return f"emploi-test-{uuid.uuid4().hex[:10]}:"


@pytest.fixture(scope="module")
async def workers(
    settings: Settings, redis_prefix: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str, str]]:
    """Two workers sharing Redis (with their schedulers on), and one whose Redis is down."""
    logs = tmp_path_factory.mktemp("workers")
    base = {
        "DATABASE_URL": settings.effective_database_url,
        "VAR_DIR": str(settings.var_dir),
        "SECRET_KEY": "test-secret",
        "RECOMMENDER_MODEL_DIR": str(settings.var_dir / "served-models"),
        "RECOMMENDER_POLL_SECONDS": "0",
        "REDIS_PREFIX": redis_prefix,
        "RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(10**9),
    }
    shared = {**base, "REDIS_URL": REDIS_URL, "SCHEDULER_INTERVAL_SECONDS": "0.3"}
    down = {**base, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0", "SCHEDULER_INTERVAL_SECONDS": "0"}
    processes = [
        UvicornProcess(shared, logs / "a.log"),
        UvicornProcess(shared, logs / "b.log"),
        UvicornProcess(down, logs / "c.log"),
    ]
    try:
        await asyncio.gather(*(p.ready() for p in processes))
        yield processes[0].url, processes[1].url, processes[2].url
    finally:
        for process in processes:
            process.stop()
        redis = Redis.from_url(REDIS_URL)
        keys = [key async for key in redis.scan_iter(match=f"{redis_prefix}*")]
        if keys:
            await redis.delete(*keys)
        await redis.aclose()


@pytest.fixture
async def pair(
    workers: tuple[str, str, str], redis_prefix: str, db: None
) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    # One public host for every worker, as behind a load balancer (answers hold absolute URLs).
    clients = [
        httpx.AsyncClient(
            base_url=url, timeout=30, cookies=http_cookiejar(), headers={"host": "emploi-store.test"}
        )
        for url in workers
    ]
    # Let the schedulers see the emptied audit log (it moves the version on) before the test
    # starts: wait until the shared content version has stood still for several of their ticks
    # (a fixed pause was too short on a loaded machine).
    redis = Redis.from_url(REDIS_URL)
    try:
        seen, still = None, 0
        for _ in range(100):
            version = await redis.get(f"{redis_prefix}content-version")
            still = still + 1 if version == seen else 0
            seen = version
            if still >= 5:
                break
            await asyncio.sleep(0.3)
    finally:
        await redis.aclose()
    try:
        yield tuple(clients)
    finally:
        for http in clients:
            await http.aclose()


async def test_two_workers_share_persisted_queries_and_cached_answers(pair, redis_prefix):
    a, b, _ = pair
    await make_service("memo")
    document = f"query Shared{uuid.uuid4().hex[:6]} {{ services {{ nodes {{ slug rating {{ count }} }} }} }}"

    assert (await b.get("/graphql", params={"extensions": json.dumps(persisted(document))})).json()["errors"][
        0
    ]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    registered = await a.post("/graphql", json={"query": document, "extensions": persisted(document)})
    assert registered.json()["data"]["services"]["nodes"] == [{"slug": "memo", "rating": {"count": 0}}]

    on_b = await get(b, extensions=persisted(document))
    assert on_b.json()["data"]["services"]["nodes"] == [{"slug": "memo", "rating": {"count": 0}}]
    assert on_b.headers["x-cache"] == "MISS"
    on_a = await get(a, extensions=persisted(document))
    assert on_a.headers["x-cache"] == "HIT" and on_a.content == on_b.content

    rated = await b.post("/graphql", json={"query": RATE})
    assert rated.json()["data"]["rateService"]["service"]["rating"] == {"count": 1}

    fresh = await get(a, extensions=persisted(document))
    assert fresh.headers["x-cache"] == "MISS"
    assert fresh.json()["data"]["services"]["nodes"] == [{"slug": "memo", "rating": {"count": 1}}]
    assert (await get(b, extensions=persisted(document))).headers["x-cache"] == "HIT"

    redis = Redis.from_url(REDIS_URL)
    try:
        assert await redis.exists(f"{redis_prefix}apq:{sha256(document)}")
    finally:
        await redis.aclose()


async def test_the_scheduler_invalidates_when_it_publishes(pair, sign_in):
    a, b, _ = pair
    editor = await sign_in("editor")
    reviewer = await sign_in("editor", is_reviewer=True)
    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
    created = (await editor.gql(CREATE, {"i": story(goLiveAt=later)})).data["createArticle"]
    assert (await act(reviewer, "publish", created["id"])).data["publishArticle"]["status"] == "SCHEDULED"

    assert (await get(a, ARTICLES)).json()["data"]["articles"]["nodes"] == []
    # The scheduler's first tick may still move the version on; wait until the empty list is cached.
    for _ in range(50):
        if (await get(a, ARTICLES)).headers["x-cache"] == "HIT":
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError("the empty blog was never served from the cache")

    # Due now: no mutation, only the schedulers of the two workers can notice.
    await Article.filter(id=int(created["id"])).update(
        go_live_at=dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    )
    for _ in range(100):
        nodes = (await get(b, ARTICLES)).json()["data"]["articles"]["nodes"]
        if nodes:
            break
        await asyncio.sleep(0.1)
    assert nodes == [{"slug": created["slug"], "title": story()["title"]}]


async def test_a_worker_whose_redis_is_down_still_answers(pair):
    _, _, c = pair
    await make_service("memo")
    document = "query Down { services { totalCount } }"

    lost = await c.post("/graphql", json={"extensions": persisted(document)})
    assert lost.status_code == 200
    assert lost.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_FOUND"
    sent = await c.post("/graphql", json={"query": document, "extensions": persisted(document)})
    assert sent.json() == {"data": {"services": {"totalCount": 1}}}
    for _ in range(2):
        response = await get(c, document)
        assert response.status_code == 200 and response.headers["x-cache"] == "MISS"
        assert response.headers["cache-control"] == "public, max-age=30"
    assert (await c.post("/graphql", json={"query": RATE})).json()["data"]["rateService"]
