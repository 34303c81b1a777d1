"""`emploi-store search reindex` and `emploi-store search drain-outbox`, run as a user would."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import pytest

from models.search import SearchOutboxEntry
from search import registry
from search.backend import SearchRequest
from tests.conftest import run_cli
from tests.factories import make_service

UNREACHABLE = {"ELASTICSEARCH_URL": "http://127.0.0.1:1"}
NO_ELASTICSEARCH = {"ELASTICSEARCH_URL": ""}


@pytest.fixture
async def empty_search(db: None) -> AsyncIterator[None]:
    await SearchOutboxEntry.all().delete()
    database = registry.database_backend()
    await database.setup()
    await database.clear()
    yield
    await SearchOutboxEntry.all().delete()


async def found(query: str) -> list[str]:
    return [hit.key for hit in (await registry.database_backend().search(SearchRequest(query=query))).hits]


async def test_reindex_rebuilds_the_database_index(empty_search, database_url, var_dir):
    service = await make_service(name="Simulateur d'entretien d'embauche")
    assert await found("simulateur") == []  # written behind the indexes' back

    result = run_cli(
        "search", "reindex", database_url=database_url, var_dir=var_dir, extra_env=NO_ELASTICSEARCH
    )
    assert result.returncode == 0, result.stderr
    assert "Rebuilding the database search index" in result.stdout
    assert "Database search index: 1 documents." in result.stdout
    assert "Elasticsearch" not in result.stdout
    assert await found("simulateur") == [f"service:{service.id}"]


async def test_reindex_reports_an_unreachable_elasticsearch(empty_search, database_url, var_dir):
    service = await make_service(name="Simulateur d'entretien d'embauche")
    result = run_cli(
        "search",
        "reindex",
        "--no-progress",
        database_url=database_url,
        var_dir=var_dir,
        extra_env=UNREACHABLE,
    )
    assert result.returncode == 1
    assert "Elasticsearch reindex failed; searches still use the previous index" in result.stderr
    assert await found("simulateur") == [f"service:{service.id}"]  # the database index was rebuilt first


async def test_drain_outbox(empty_search, database_url, var_dir):
    result = run_cli(
        "search", "drain-outbox", database_url=database_url, var_dir=var_dir, extra_env=NO_ELASTICSEARCH
    )
    assert result.returncode == 0, result.stderr
    assert "ELASTICSEARCH_URL is not set" in result.stdout

    await SearchOutboxEntry.create(key="service:1", next_attempt_at=dt.datetime.now(dt.UTC))
    result = run_cli(
        "search", "drain-outbox", database_url=database_url, var_dir=var_dir, extra_env=UNREACHABLE
    )
    assert result.returncode == 1
    assert "Applied 0 outbox row(s), 1 to retry later, 1 pending." in result.stdout
    (row,) = await SearchOutboxEntry.all()
    assert row.attempts == 1 and row.processed_at is None and row.last_error
