"""The search outbox: changes reach Elasticsearch later, once, in order, and nothing is lost meanwhile.

No Elasticsearch node runs here. "Down" is a closed local port, reached through the real client;
"up" is an in-memory stand-in registered in its place that keeps Elasticsearch's rule for external
versions (a write lands only if its version is higher than the stored one).
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Mapping, Sequence

import pytest
from tortoise.transactions import in_transaction

from models.catalogue import Service
from models.enums import ServiceStatus
from models.errors import BadUserInput
from models.search import SearchOutboxEntry
from search import registry, sync
from search.backend import Facets, SearchDocument, SearchRequest, SearchResult, Suggestion
from search.errors import DocumentsRejected
from search.service import run_search, run_suggest
from tests.factories import make_service

UNREACHABLE = "http://127.0.0.1:1"  # nothing listens on port 1: connections are refused at once


class InMemoryIndex:
    """An external index in memory, with Elasticsearch's external-version rule."""

    name = "in-memory"

    def __init__(self, refuse: Sequence[str] = (), pause: asyncio.Event | None = None) -> None:
        self.documents: dict[str, SearchDocument] = {}
        self.versions: dict[str, int] = {}
        self.writes: list[tuple[str, str, int | None]] = []  # (operation, key, version) as received
        self.refuse = set(refuse)
        self.pause = pause
        self.entered = asyncio.Event()  # set when a write has started
        self.down = False

    def _newer(self, key: str, version: int | None) -> bool:
        return version is None or version > self.versions.get(key, -1)

    async def setup(self) -> None:
        pass

    async def index(
        self, documents: Sequence[SearchDocument], versions: Mapping[str, int] | None = None
    ) -> None:
        self.entered.set()
        if self.pause is not None:
            await self.pause.wait()
        await asyncio.sleep(0)  # let a concurrent drain run in between
        for document in documents:
            version = versions[document.key] if versions is not None else None
            self.writes.append(("index", document.key, version))
            if document.key not in self.refuse and self._newer(document.key, version):
                self.documents[document.key] = document
                self.versions[document.key] = version or 0
        refused = self.refuse & {d.key for d in documents}
        if refused:
            raise DocumentsRejected(refused, "mapper_parsing_exception")

    async def delete(self, keys: Sequence[str], versions: Mapping[str, int] | None = None) -> None:
        await asyncio.sleep(0)
        for key in keys:
            version = versions[key] if versions is not None else None
            self.writes.append(("delete", key, version))
            if self._newer(key, version):
                self.documents.pop(key, None)
                self.versions[key] = version or 0

    async def search(self, request: SearchRequest) -> SearchResult:
        if self.down:
            raise ConnectionError("Connection refused")
        return SearchResult(hits=[], total=42, facets=Facets())

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        if self.down:
            raise ConnectionError("Connection refused")
        return [Suggestion(text="from the external index")]

    async def facets(self, request: SearchRequest) -> Facets:
        return Facets()

    async def clear(self) -> None:
        self.documents.clear()


@pytest.fixture
async def outbox(db: None, settings) -> AsyncIterator[None]:
    """An empty outbox and database index; the process's search configuration is restored after."""
    await SearchOutboxEntry.all().delete()
    database = registry.database_backend()
    await database.setup()
    await database.clear()
    yield
    await registry.close()
    registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)
    await SearchOutboxEntry.all().delete()


@pytest.fixture
def unreachable(outbox: None) -> None:
    registry.configure(UNREACHABLE, "emploi-store-test")


@pytest.fixture
def external(outbox: None, monkeypatch: pytest.MonkeyPatch) -> InMemoryIndex:
    index = InMemoryIndex()
    registry.configure("http://elasticsearch.invalid:9200", "emploi-store-test")
    monkeypatch.setattr(registry, "external_backend", lambda: index)
    return index


async def published(name: str) -> Service:
    service = await make_service(name=name)
    async with in_transaction():
        await sync.services_changed([service.id])
    return service


async def rows() -> list[SearchOutboxEntry]:
    return await SearchOutboxEntry.all().order_by("id")


def key(service: Service) -> str:
    return f"service:{service.id}"


# --- While Elasticsearch is down ------------------------------------------------------------------


async def test_a_change_writes_the_outbox_and_the_database_still_answers(unreachable):
    service = await published("Simulateur d'entretien d'embauche")
    (row,) = await rows()
    assert (row.key, row.attempts, row.processed_at) == (key(service), 0, None)

    result = await run_search(SearchRequest(query="entretien"))  # Elasticsearch refuses: the database answers
    assert [hit.key for hit in result.hits] == [key(service)]
    assert any("Simulateur" in s.text for s in await run_suggest("simul"))


async def test_the_outbox_row_belongs_to_the_changing_transaction(unreachable):
    service = await make_service(name="Simulateur d'entretien")
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await sync.services_changed([service.id])
            raise RuntimeError("the change failed")
    assert await rows() == []


async def test_no_outbox_without_an_external_index(outbox):
    registry.configure(None)
    service = await published("Simulateur d'entretien")
    assert await rows() == []
    assert [h.key for h in (await run_search(SearchRequest(query="simulateur"))).hits] == [key(service)]
    assert await sync.drain_outbox() == sync.DrainReport(0, 0, 0)


async def test_a_failed_drain_backs_off_and_keeps_every_row(unreachable):
    first, second = await published("Simulateur d'entretien"), await published("Lettre de motivation")
    now = dt.datetime.now(dt.UTC)

    assert await sync.drain_outbox(now=now) == sync.DrainReport(applied=0, failed=2, pending=2)
    for row in await rows():
        assert row.processed_at is None and row.attempts == 1
        assert row.next_attempt_at == pytest.approx(
            now + dt.timedelta(seconds=2), abs=dt.timedelta(seconds=1)
        )
        assert row.last_error
    # Not due yet: nothing is tried.
    assert await sync.drain_outbox(now=now) == sync.DrainReport(0, 0, 2)

    later = now + dt.timedelta(minutes=1)
    assert await sync.drain_outbox(now=later) == sync.DrainReport(0, 2, 2)
    for row in await rows():
        assert row.attempts == 2
        assert row.next_attempt_at == pytest.approx(
            later + dt.timedelta(seconds=4), abs=dt.timedelta(seconds=1)
        )
    assert [row.key for row in await rows()] == [key(first), key(second)]


async def test_the_backoff_stops_growing_at_an_hour(unreachable):
    await published("Simulateur d'entretien")
    await SearchOutboxEntry.all().update(attempts=30)
    now = dt.datetime.now(dt.UTC)
    await sync.drain_outbox(now=now)
    (row,) = await rows()
    assert row.next_attempt_at == pytest.approx(now + dt.timedelta(hours=1), abs=dt.timedelta(seconds=1))


# --- When the external index answers --------------------------------------------------------------


async def test_the_outbox_drains_into_the_external_index(external):
    kept = await published("Simulateur d'entretien")
    withdrawn = await published("Lettre de motivation")
    await Service.filter(id=withdrawn.id).update(status=ServiceStatus.ARCHIVED)
    async with in_transaction():
        await sync.services_changed([withdrawn.id])
    ids = [row.id for row in await rows()]

    assert await sync.drain_outbox() == sync.DrainReport(applied=3, failed=0, pending=0)
    assert set(external.documents) == {key(kept)}
    assert external.documents[key(kept)].title == "Simulateur d'entretien"
    # Each key is written once, at the version of its newest row.
    assert sorted(external.writes) == sorted(
        [("index", key(kept), ids[0]), ("delete", key(withdrawn), ids[2])]
    )
    assert all(row.processed_at is not None and row.last_error is None for row in await rows())
    assert await sync.drain_outbox() == sync.DrainReport(0, 0, 0)


async def test_replays_are_harmless(external):
    service = await published("Simulateur d'entretien")
    await sync.drain_outbox()
    (row,) = await rows()

    # A worker that wrote but crashed before marking its rows: once its lease is over, they are
    # applied a second time.
    await SearchOutboxEntry.all().update(processed_at=None)
    after_the_lease = dt.datetime.now(dt.UTC) + sync.LEASE + dt.timedelta(seconds=1)
    assert await sync.drain_outbox(now=dt.datetime.now(dt.UTC)) == sync.DrainReport(0, 0, 1)  # still leased
    assert (await sync.drain_outbox(now=after_the_lease)).applied == 1
    assert external.writes == [("index", key(service), row.id)] * 2  # same version: Elasticsearch ignores it
    assert external.versions == {key(service): row.id}

    # A newer change wins; an older row replayed afterwards cannot bring the old state back.
    await Service.filter(id=service.id).update(name="Simulateur d'entretien vidéo")
    async with in_transaction():
        await sync.services_changed([service.id])
    await sync.drain_outbox()
    await SearchOutboxEntry.filter(id=row.id).update(processed_at=None)
    assert (await sync.drain_outbox(now=after_the_lease + sync.LEASE * 2)).applied == 1
    assert external.documents[key(service)].title == "Simulateur d'entretien vidéo"
    assert external.versions[key(service)] > row.id
    assert await SearchOutboxEntry.filter(processed_at__isnull=True).count() == 0


async def test_two_concurrent_drains_apply_each_row_once(external):
    services = [await published(f"Service numéro {n}") for n in range(12)]
    first, second = await asyncio.gather(sync.drain_outbox(batch=50), sync.drain_outbox(batch=50))
    assert first.applied + second.applied == 12
    assert first.failed == second.failed == 0
    assert sorted(k for _, k, _ in external.writes) == sorted(key(s) for s in services)
    assert {row.attempts for row in await rows()} == {1}
    assert await SearchOutboxEntry.filter(processed_at__isnull=True).count() == 0


async def test_rows_the_index_refuses_are_retried_alone(external):
    good, bad = await published("Simulateur d'entretien"), await published("Lettre de motivation")
    external.refuse = {key(bad)}
    now = dt.datetime.now(dt.UTC)
    assert await sync.drain_outbox(now=now) == sync.DrainReport(applied=1, failed=1, pending=1)
    by_key = {row.key: row for row in await rows()}
    assert by_key[key(good)].processed_at is not None
    assert by_key[key(bad)].processed_at is None and "mapper_parsing_exception" in by_key[key(bad)].last_error
    assert by_key[key(bad)].next_attempt_at > now

    external.refuse = set()
    assert await sync.drain_outbox(now=now + dt.timedelta(minutes=1)) == sync.DrainReport(1, 0, 0)
    assert set(external.documents) == {key(good), key(bad)}


async def test_a_reindex_takes_back_rows_applied_meanwhile_and_claims_in_flight(external):
    before = await published("Appliqué avant la reindexation")
    await sync.drain_outbox()
    started = dt.datetime.now(dt.UTC)
    during = await published("Appliqué pendant la reindexation")
    await sync.drain_outbox()  # went to the old index
    in_flight = await published("En cours pendant la bascule")
    external.pause = asyncio.Event()
    external.entered.clear()
    drain = asyncio.create_task(sync.drain_outbox())
    await external.entered.wait()  # the row is claimed and being written

    assert await sync.replay_applied_since(started) == 2  # `during`, and the row being applied
    external.pause.set()
    assert (await drain).applied == 0  # its claim was voided: it may not mark the row applied
    by_key = {row.key: row for row in await rows()}
    assert by_key[key(before)].processed_at is not None
    assert by_key[key(during)].processed_at is None
    assert by_key[key(in_flight)].processed_at is None

    external.pause = None
    assert (await sync.drain_outbox()).applied == 2  # now into the new index
    assert await SearchOutboxEntry.filter(processed_at__isnull=True).count() == 0


async def test_old_applied_rows_are_forgotten(external):
    await published("Simulateur d'entretien")
    await sync.drain_outbox()
    await published("Lettre de motivation")  # pending: kept whatever its age
    await SearchOutboxEntry.all().update(created_at=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    await SearchOutboxEntry.filter(processed_at__isnull=False).update(
        processed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8)
    )
    assert await sync.prune_outbox() == 1
    assert [row.processed_at for row in await rows()] == [None]


async def test_drain_all_runs_batches_until_nothing_is_due(external):
    await asyncio.gather(*(published(f"Service numéro {n}") for n in range(5)))
    report = await sync.drain_all(batch=2)
    assert report == sync.DrainReport(applied=5, failed=0, pending=0)
    assert len(external.documents) == 5


# --- Searching --------------------------------------------------------------------------------------


async def test_search_falls_back_to_the_database_on_a_connection_error(external):
    service = await published("Simulateur d'entretien")
    assert (await run_search(SearchRequest(query="entretien"))).total == 42  # the external index answers
    assert (await run_suggest("simul"))[0].text == "from the external index"

    external.down = True
    result = await run_search(SearchRequest(query="entretien"))
    assert [hit.key for hit in result.hits] == [key(service)]
    assert any("Simulateur" in s.text for s in await run_suggest("simul"))


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (SearchRequest(query=""), "query is empty"),
        (SearchRequest(query="   \t "), "query is empty"),
        (SearchRequest(query="x" * 201), "200 characters"),
        (SearchRequest(query="cv", first=0), "first"),
        (SearchRequest(query="cv", first=101), "first"),
        (SearchRequest(query="cv", offset=-1), "offset"),
    ],
)
async def test_search_input_is_checked(request_, message):
    with pytest.raises(BadUserInput, match=message) as caught:
        await run_search(request_)
    assert caught.value.extensions["code"] == "BAD_USER_INPUT"


async def test_suggest_input_is_checked():
    assert await run_suggest("   ") == []
    with pytest.raises(BadUserInput):
        await run_suggest("x" * 201)
    with pytest.raises(BadUserInput):
        await run_suggest("cv", 0)


async def test_the_query_is_stripped_and_the_limits_are_accepted(outbox):
    registry.configure(None)
    await published("Simulateur d'entretien")
    result = await run_search(SearchRequest(query="  entretien  ", first=100, offset=0))
    assert result.total == 1
    assert (await run_search(SearchRequest(query="x" * 200, first=1))).total == 0
