"""The Elasticsearch backend against a real node: the shared contract, versions and the reindex.

Runs only where ELASTICSEARCH_URL points at a node (none can be installed on the build machines).
Each run works in its own alias, removed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from search.backend import SearchRequest
from search.elastic import ElasticsearchBackend
from tests.search.contract import CORPUS, SearchContract, keys, service

ELASTICSEARCH_URL = os.environ.get("ELASTICSEARCH_URL")

pytestmark = pytest.mark.skipif(
    not ELASTICSEARCH_URL, reason="ELASTICSEARCH_URL is not set: no Elasticsearch node to test against"
)


async def _remove(backend: ElasticsearchBackend) -> None:
    client = backend.client.options(ignore_status=404)
    targets = await client.indices.get_alias(name=backend.alias)
    names = list(targets.body) if targets.meta.status == 200 else []
    for name in names:
        await client.indices.delete(index=name)


@pytest.fixture(scope="module")
async def backend() -> AsyncIterator[ElasticsearchBackend]:
    assert ELASTICSEARCH_URL
    elasticsearch = ElasticsearchBackend(ELASTICSEARCH_URL, f"emploi-store-test-{uuid.uuid4().hex[:10]}")
    await elasticsearch.setup()
    await elasticsearch.setup()  # safe to run again
    yield elasticsearch
    await _remove(elasticsearch)
    await elasticsearch.close()


class TestElastic(SearchContract):
    pass


async def test_setup_puts_a_concrete_index_behind_the_alias(backend):
    targets = await backend.client.indices.get_alias(name=backend.alias)
    (name,) = targets.body
    assert name.startswith(f"{backend.alias}-") and name != backend.alias


async def test_an_older_version_never_replaces_a_newer_one(backend):
    await backend.clear()
    newer = service(2, "Ma lettre de motivation", "Tout nouveau texte sur les salons virtuels.")
    await backend.index([newer], {"service:2": 20})
    await backend.index([CORPUS[1]], {"service:2": 12})  # a late write of an older state
    await backend.index([newer], {"service:2": 20})  # a replay of the same row
    found = await backend.search(SearchRequest(query="salons virtuels"))
    assert keys(found) == ["service:2"]
    await backend.delete(["service:2"], {"service:2": 21})
    await backend.index([newer], {"service:2": 20})  # the deletion is newer
    assert keys(await backend.search(SearchRequest(query="salons virtuels"))) == []


async def test_reindex_swaps_the_alias_without_a_gap(db, backend):
    from tests.factories import make_service

    await make_service(name="Simulateur d'entretien vidéo")
    before = sorted((await backend.client.indices.get_alias(name=backend.alias)).body)
    assert await backend.reindex(progress=False) == 1
    after = sorted((await backend.client.indices.get_alias(name=backend.alias)).body)
    assert len(after) == 1 and after != before
    assert not await backend.client.indices.exists(index=before[0])  # the old index is gone
    found = await backend.search(SearchRequest(query="simulateur entretien"))
    assert found.total == 1 and found.hits[0].key.startswith("service:")
