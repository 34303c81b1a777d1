"""Budgets of query cost per client and minute (server/ratelimit.py), on servers with small budgets.

Small-budget servers run beside the session's server: in this process without their lifespan
(Tortoise has one database context per process) and without Redis, or as worker processes of
their own when they share Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from redis.asyncio import Redis

from cms.accounts import create_user
from cms.api_keys import create_key
from models.enums import Role
from models.ratings import Rating
from server.app import create_app
from server.settings import Settings
from tests.conftest import PASSWORD, UvicornProcess, free_port, http_cookiejar, uvicorn_in_loop
from tests.factories import make_service

REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ANONYMOUS_BUDGET = 50
KEY_BUDGET = 100
SPEND = "{ services(first: 10) { nodes { categories { name } } } }"  # 1 + 10 × 2 = 21
CHEAP = "{ categories { name } }"  # 1
RATE = 'mutation { rateService(serviceSlug: "memo", stars: 4) { replaced } }'  # 10


def small(settings: Settings, **changes: Any) -> Settings:
    return settings.model_copy(
        update={
            "rate_limit_anonymous_per_minute": ANONYMOUS_BUDGET,
            "rate_limit_key_per_minute": KEY_BUDGET,
            **changes,
        }
    )


@contextlib.asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """The app on uvicorn in this process, trusting X-Forwarded-For as it would behind a proxy."""
    app = create_app(settings)
    async with (
        uvicorn_in_loop(app, proxy_headers=True, forwarded_allow_ips="*") as url,
        httpx.AsyncClient(base_url=url, timeout=30, cookies=http_cookiejar()) as http,
    ):
        yield http


@pytest.fixture
async def server_with_small_budgets(settings: Settings, db: None) -> AsyncIterator[httpx.AsyncClient]:
    async with serving(small(settings)) as http:
        yield http


async def post(http: httpx.AsyncClient, query: str, **headers: str) -> httpx.Response:
    return await http.post(
        "/graphql", json={"query": query}, headers={"accept": "application/graphql-response+json", **headers}
    )


def remaining(response: httpx.Response) -> int:
    return int(response.headers["x-ratelimit-remaining"])


async def developer_key() -> str:
    developer = await create_user(f"dev-{uuid.uuid4().hex[:8]}@emploi-store.test", PASSWORD, Role.DEVELOPER)
    return (await create_key(developer, "tests")).key


def sample(name: str, labels: dict[str, str] | None = None) -> float:
    return REGISTRY.get_sample_value(name, labels or {}) or 0.0


async def test_over_the_budget_is_a_429_that_charges_nothing(server_with_small_budgets):
    http = server_with_small_budgets
    refused_before = sample("emploi_store_rate_limited_total", {"client": "anonymous"})
    executed_before = sample("emploi_store_graphql_query_cost_count")

    first = await post(http, SPEND)
    assert first.status_code == 200 and first.headers["x-ratelimit-limit"] == str(ANONYMOUS_BUDGET)
    assert remaining(first) == 29
    assert remaining(await post(http, SPEND)) == 8

    refused = await post(http, SPEND)
    assert refused.status_code == 429
    assert refused.headers["content-type"].startswith("application/graphql-response+json")
    retry_after = int(refused.headers["retry-after"])
    assert 0 < retry_after <= 60 and refused.headers["x-ratelimit-reset"] == str(retry_after)
    assert remaining(refused) == 8
    body = refused.json()
    assert set(body) == {"errors"}
    assert body["errors"][0]["extensions"] == {"code": "RATE_LIMITED", "retryAfter": retry_after}
    assert "21" in body["errors"][0]["message"]

    # The refusal took nothing: a request within what is left still runs.
    cheap = await post(http, CHEAP)
    assert cheap.status_code == 200 and remaining(cheap) == 7
    assert sample("emploi_store_rate_limited_total", {"client": "anonymous"}) == refused_before + 1
    assert sample("emploi_store_graphql_query_cost_count") == executed_before + 3

    legacy = await http.post("/graphql", json={"query": SPEND}, headers={"accept": "application/json"})
    assert legacy.status_code == 429 and legacy.headers["content-type"].startswith("application/json")


async def test_a_refused_mutation_writes_nothing(server_with_small_budgets):
    http = server_with_small_budgets
    await make_service("memo")
    await post(http, SPEND)
    assert remaining(await post(http, SPEND)) == 8

    refused = await post(http, RATE)
    assert refused.status_code == 429
    assert await Rating.all().count() == 0


async def test_a_key_has_its_own_budget_reported_in_the_body(server_with_small_budgets):
    http = server_with_small_budgets
    key = await developer_key()
    reports = []
    for _ in range(4):
        response = await post(http, SPEND, **{"X-Api-Key": key})
        assert response.status_code == 200
        reports.append(response.json()["extensions"]["cost"])
    assert [r["remaining"] for r in reports] == [79, 58, 37, 16]
    assert {(r["requested"], r["limit"]) for r in reports} == {(21, KEY_BUDGET)}
    refused = await post(http, SPEND, **{"X-Api-Key": key})
    assert refused.status_code == 429 and remaining(refused) == 16

    # The same address without the key still has the whole anonymous budget.
    assert remaining(await post(http, SPEND)) == ANONYMOUS_BUDGET - 21


async def test_anonymous_clients_are_budgeted_per_address(server_with_small_budgets):
    http = server_with_small_budgets
    one, other = {"X-Forwarded-For": "203.0.113.7"}, {"X-Forwarded-For": "198.51.100.9"}
    await post(http, SPEND, **one)
    await post(http, SPEND, **one)
    assert (await post(http, SPEND, **one)).status_code == 429
    fresh = await post(http, SPEND, **other)
    assert fresh.status_code == 200 and remaining(fresh) == 29


async def test_an_operation_dearer_than_the_whole_budget_is_refused_as_too_costly(server_with_small_budgets):
    page = "{ services(first: 20) { edges { node { name categories { name } links { url } } } } }"  # 81
    refused = await post(server_with_small_budgets, page)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"] == {
        "code": "COST_LIMIT_EXCEEDED",
        "cost": 81,
        "maxCost": ANONYMOUS_BUDGET,
    }
    assert remaining(await post(server_with_small_budgets, CHEAP)) == ANONYMOUS_BUDGET - 1


async def test_without_redis_each_worker_counts_on_its_own(settings, db):
    async with serving(small(settings)) as a, serving(small(settings)) as b:
        await post(a, SPEND)
        assert remaining(await post(a, SPEND)) == 8
        assert remaining(await post(b, SPEND)) == 29


# --- Workers sharing Redis ------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def redis_workers(
    settings: Settings, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[tuple[str, str, str, str]]:
    """Two workers sharing Redis under a prefix of their own, and one whose Redis is down."""
    prefix = f"emploi-test-{uuid.uuid4().hex[:10]}:"
    logs = tmp_path_factory.mktemp("rate-limit-workers")
    base = {
        "DATABASE_URL": settings.effective_database_url,
        "VAR_DIR": str(settings.var_dir),
        "SECRET_KEY": "test-secret",
        "SCHEDULER_INTERVAL_SECONDS": "0",
        "RECOMMENDER_MODEL_DIR": str(settings.var_dir / "served-models"),
        "RECOMMENDER_POLL_SECONDS": "0",
        "REDIS_PREFIX": prefix,
        "RATE_LIMIT_ANONYMOUS_PER_MINUTE": str(ANONYMOUS_BUDGET),
        "RATE_LIMIT_KEY_PER_MINUTE": str(KEY_BUDGET),
    }
    shared = {**base, "REDIS_URL": REDIS_URL}
    down = {**base, "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0"}
    workers = [
        UvicornProcess(shared, logs / "a.log"),
        UvicornProcess(shared, logs / "b.log"),
        UvicornProcess(down, logs / "c.log"),
    ]
    try:
        await asyncio.gather(*(w.ready() for w in workers))
        yield workers[0].url, workers[1].url, workers[2].url, prefix
    finally:
        for worker in workers:
            worker.stop()
        redis = Redis.from_url(REDIS_URL)
        try:
            keys = [key async for key in redis.scan_iter(match=f"{prefix}*")]
            if keys:
                await redis.delete(*keys)
        finally:
            await redis.aclose()


async def test_with_redis_workers_share_one_budget(redis_workers, db):
    url_a, url_b, _, prefix = redis_workers
    # Budgets outlive the tables the db fixture empties (and key ids start again from 1 there):
    # start from fresh windows.
    redis = Redis.from_url(REDIS_URL)
    try:
        stale = [key async for key in redis.scan_iter(match=f"{prefix}ratelimit:*")]
        if stale:
            await redis.delete(*stale)
    finally:
        await redis.aclose()
    key = await developer_key()
    address = {"X-Forwarded-For": "192.0.2.10"}  # uvicorn trusts 127.0.0.1 as a proxy by default
    async with (
        httpx.AsyncClient(base_url=url_a, timeout=30) as a,
        httpx.AsyncClient(base_url=url_b, timeout=30) as b,
    ):
        assert remaining(await post(a, SPEND, **address)) == 29
        assert remaining(await post(b, SPEND, **address)) == 8
        refused = await post(a, SPEND, **address)
        assert refused.status_code == 429 and int(refused.headers["retry-after"]) > 0

        keyed = [await post(worker, SPEND, **{"X-Api-Key": key}) for worker in (a, b, a, b)]
        assert [r.json()["extensions"]["cost"]["remaining"] for r in keyed] == [79, 58, 37, 16]
        assert (await post(b, SPEND, **{"X-Api-Key": key})).status_code == 429

    redis = Redis.from_url(REDIS_URL)
    try:
        counters = {key.decode() async for key in redis.scan_iter(match=f"{prefix}ratelimit:*")}
        assert any(counter.startswith(f"{prefix}ratelimit:key:") for counter in counters)
        for counter in counters:
            assert 0 < await redis.pttl(counter) <= 60_000  # the window's end
    finally:
        await redis.aclose()


async def test_a_worker_whose_redis_is_down_counts_in_process(redis_workers, db):
    *_, url_down, _ = redis_workers
    async with httpx.AsyncClient(base_url=url_down, timeout=30) as down:
        assert remaining(await post(down, SPEND)) == 29
        assert remaining(await post(down, SPEND)) == 8
        assert (await post(down, SPEND)).status_code == 429
