"""/healthz and /readyz as a load balancer sees them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator

import pytest

from search import registry as search_registry
from search.backend import Suggestion
from server import routes


async def test_healthz_only_says_the_process_is_up(client):
    response = await client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


async def test_ready_when_the_database_and_its_search_answer(client, settings):
    response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 200
    assert body["database"] == "ok"
    assert body["search"]["database"] == "ok"
    assert body["recommender"]["scorer"] in ("model", "content")
    assert "failing" not in body
    if settings.elasticsearch_url is None:
        assert (body["status"], "elasticsearch" in body["search"]) == ("ok", False)
    assert response.headers["cache-control"] == "no-store"


class BrokenSearch:
    name = "broken"

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        raise RuntimeError("no such table: search_fts_word")


class HangingSearch:
    name = "hanging"

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        await asyncio.sleep(30)
        return []


async def test_not_ready_when_the_database_search_fails(client, monkeypatch):
    monkeypatch.setattr(search_registry, "database_backend", BrokenSearch)
    response = await client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert (body["status"], body["failing"]) == ("unavailable", ["search"])
    assert body["database"] == "ok"
    assert "no such table" in body["search"]["database"]


async def test_a_hanging_check_fails_within_the_timeout(client, monkeypatch):
    monkeypatch.setattr(search_registry, "database_backend", HangingSearch)
    monkeypatch.setattr(routes, "CHECK_TIMEOUT_SECONDS", 0.3)
    started = time.monotonic()
    response = await client.get("/readyz")
    assert time.monotonic() - started < 3
    assert response.status_code == 503
    assert response.json()["search"]["database"] == "no answer within 0.3s"


@pytest.fixture
def unreachable_elasticsearch(settings) -> Iterator[None]:
    search_registry.configure("http://127.0.0.1:1", "emploi-store-readyz")
    try:
        yield
    finally:
        search_registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)


async def test_an_unreachable_elasticsearch_is_reported_but_not_fatal(client, unreachable_elasticsearch):
    """Searches fall back to the database meanwhile, so every worker stays in service."""
    started = time.monotonic()
    response = await client.get("/readyz")
    assert time.monotonic() - started < 3
    body = response.json()
    assert response.status_code == 200
    assert body["status"] == "degraded"
    assert body["search"]["database"] == "ok"
    assert body["search"]["elasticsearch"] != "ok"
    assert "failing" not in body
    await search_registry.close()
