"""The zero-downtime reindex, driven against a recording stand-in for the Elasticsearch client.

No node runs here: the stand-in keeps indices and aliases in memory and records every call, so the
order of the steps (build, load, refresh, one atomic alias swap, drop the old index, replay the
outbox) is what is checked. The request bodies themselves are checked in test_elastic_bodies.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from models.search import SearchOutboxEntry
from search import registry, sync
from search.elastic import SNAPSHOT_VERSION, ElasticsearchBackend
from search.errors import SearchUnavailable
from tests.factories import make_service

ALIAS = "emploi-store-test"


@dataclass
class Meta:
    status: int


@dataclass
class Response:
    body: Any
    status: int = 200

    @property
    def meta(self) -> Meta:
        return Meta(self.status)

    def __bool__(self) -> bool:
        return self.status == 200


@dataclass
class FakeIndices:
    client: FakeClient

    async def exists_alias(self, name: str) -> Response:
        return Response(None, 200 if any(name in a for a in self.client.aliases.values()) else 404)

    async def exists(self, index: str) -> Response:
        return Response(None, 200 if index in self.client.stored else 404)

    async def get_alias(self, name: str) -> Response:
        found = {
            index: {"aliases": {name: {}}}
            for index, aliases in self.client.aliases.items()
            if name in aliases
        }
        return Response(found, 200 if found else 404)

    async def create(
        self, index: str, settings: dict, mappings: dict, aliases: dict | None = None
    ) -> Response:
        self.client.calls.append(("create", index, settings.get("refresh_interval")))
        self.client.stored[index] = {}
        self.client.aliases[index] = set(aliases or ())
        return Response({"acknowledged": True})

    async def put_settings(self, index: str, settings: dict) -> Response:
        self.client.calls.append(("put_settings", index, settings))
        return Response({"acknowledged": True})

    async def refresh(self, index: str) -> Response:
        self.client.calls.append(("refresh", index))
        return Response({})

    async def update_aliases(self, actions: list[dict]) -> Response:
        self.client.calls.append(("update_aliases", actions))
        for action in actions:
            ((verb, spec),) = action.items()
            if verb == "add":
                self.client.aliases[spec["index"]].add(spec["alias"])
            elif verb == "remove":
                self.client.aliases[spec["index"]].discard(spec["alias"])
        return Response({"acknowledged": True})

    async def delete(self, index: str) -> Response:
        self.client.calls.append(("delete", index))
        self.client.stored.pop(index, None)
        self.client.aliases.pop(index, None)
        return Response({"acknowledged": True})


@dataclass
class FakeClient:
    stored: dict[str, dict[str, tuple[int | None, dict]]] = field(default_factory=dict)  # index → id → doc
    aliases: dict[str, set[str]] = field(default_factory=dict)  # index → its aliases
    calls: list[tuple] = field(default_factory=list)
    fail_bulk: bool = False

    @property
    def indices(self) -> FakeIndices:
        return FakeIndices(self)

    def options(self, **_: Any) -> FakeClient:
        return self

    def _resolve(self, name: str) -> str:
        if name in self.stored:
            return name
        (index,) = [index for index, aliases in self.aliases.items() if name in aliases]
        return index

    async def bulk(self, operations: list[dict], refresh: Any, require_alias: bool | None) -> Response:
        self.calls.append(("bulk", operations[0][next(iter(operations[0]))]["_index"], require_alias))
        if self.fail_bulk:
            from elastic_transport import ConnectionError as TransportConnectionError

            raise TransportConnectionError("connection refused")
        items = []
        operations = list(operations)
        while operations:
            ((verb, meta),) = operations.pop(0).items()
            stored = self.stored[self._resolve(meta["_index"])]
            if verb == "index":
                stored[meta["_id"]] = (meta.get("version"), operations.pop(0))
            else:
                stored.pop(meta["_id"], None)
            items.append({verb: {"_id": meta["_id"], "status": 200}})
        return Response({"errors": False, "items": items})

    async def close(self) -> None:
        pass


@pytest.fixture
async def elasticsearch(db: None, settings) -> AsyncIterator[tuple[ElasticsearchBackend, FakeClient]]:
    await SearchOutboxEntry.all().delete()
    database = registry.database_backend()
    await database.setup()
    await database.clear()
    client = FakeClient()
    backend = ElasticsearchBackend("http://elasticsearch.invalid:9200", ALIAS, client=client)  # type: ignore[arg-type]
    registry.configure("http://elasticsearch.invalid:9200", ALIAS)
    yield backend, client
    registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)
    await SearchOutboxEntry.all().delete()


async def test_setup_creates_a_concrete_index_behind_the_alias(elasticsearch):
    backend, client = elasticsearch
    await backend.setup()
    await backend.setup()
    (name,) = client.stored
    assert name.startswith(f"{ALIAS}-") and client.aliases[name] == {ALIAS}


async def test_reindex_loads_a_new_index_then_swaps_the_alias_atomically(elasticsearch, monkeypatch):
    backend, client = elasticsearch
    monkeypatch.setattr(registry, "external_backend", lambda: backend)
    await backend.setup()
    (old,) = client.stored
    services = [await make_service(name=f"Service numéro {n}") for n in range(3)]
    await sync.services_changed([services[0].id])
    await sync.drain_outbox()  # applied to the old index
    client.calls.clear()

    assert await backend.reindex(progress=False) == 3

    (new,) = client.stored
    assert new != old and client.aliases[new] == {ALIAS}
    assert {key: version for key, (version, _) in client.stored[new].items()} == {
        f"service:{s.id}": SNAPSHOT_VERSION for s in services
    }
    steps = [call[0] for call in client.calls]
    assert steps == ["create", "bulk", "put_settings", "refresh", "update_aliases", "delete"]
    assert client.calls[0] == ("create", new, "-1")  # no refreshes while loading
    assert client.calls[1] == ("bulk", new, None)  # straight into the new index, not through the alias
    assert client.calls[2] == ("put_settings", new, {"refresh_interval": None})
    assert client.calls[4] == (
        "update_aliases",
        [
            {"remove": {"index": old, "alias": ALIAS}},
            {"add": {"index": new, "alias": ALIAS, "is_write_index": True}},
        ],
    )
    assert client.calls[5] == ("delete", old)
    # The row applied to the old index is applied again, to the new one, at a version above the snapshot.
    (row,) = await SearchOutboxEntry.all()
    assert row.processed_at is None
    client.calls.clear()
    assert (await sync.drain_outbox()).applied == 1
    assert client.stored[new][f"service:{services[0].id}"][0] == row.id > SNAPSHOT_VERSION
    assert client.calls == [("bulk", ALIAS, True)]


async def test_a_failed_reindex_leaves_the_live_index_alone(elasticsearch):
    backend, client = elasticsearch
    await backend.setup()
    (old,) = client.stored
    await make_service(name="Simulateur d'entretien")
    client.fail_bulk = True
    with pytest.raises(SearchUnavailable):
        await backend.reindex(progress=False)
    assert list(client.stored) == [old] and client.aliases[old] == {ALIAS}
