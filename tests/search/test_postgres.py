"""PostgreSQL full-text search: the contract, and what only this backend promises (its indexes)."""

from __future__ import annotations

import os

import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from search.backend import ContentType, SearchRequest
from search.postgres import PostgresBackend
from tests.search.contract import CORPUS, SearchContract, service

pytestmark = pytest.mark.skipif(
    os.environ.get("TEST_DATABASE", "sqlite") != "postgres",
    reason="PostgreSQL full-text search runs with TEST_DATABASE=postgres",
)


@pytest.fixture
async def backend(server: str) -> PostgresBackend:
    """The backend on the test database (the server fixture opened Tortoise and ran the migrations)."""
    if os.environ.get("TEST_DATABASE", "sqlite") != "postgres":
        pytest.skip("PostgreSQL full-text search runs with TEST_DATABASE=postgres")
    postgres = PostgresBackend()
    await postgres.setup()
    return postgres


class TestPostgres(SearchContract):
    pass


async def rows(sql: str, *values: object) -> list[dict]:
    return await Tortoise.get_connection("default").execute_query_dict(sql, list(values))


async def test_setup_runs_twice_and_keeps_the_index(backend):
    await backend.clear()
    await backend.index(CORPUS)
    await backend.setup()
    await backend.setup()
    assert (await backend.search(SearchRequest(query="lettre motivation"))).hits[0].key == "service:2"
    configs = await rows("SELECT count(*) AS n FROM pg_ts_config WHERE cfgname = 'french_unaccent'")
    assert configs[0]["n"] == 1
    storage = await rows(
        "SELECT attstorage::text FROM pg_attribute WHERE attrelid = 'search_document'::regclass AND attname = 'document'"
    )
    assert storage == [{"attstorage": "m"}]
    options = await rows("SELECT reloptions FROM pg_class WHERE relname = 'search_document_document_idx'")
    assert options == [{"reloptions": ["fastupdate=off"]}]


async def test_the_search_uses_the_gin_index_on_thousands_of_documents(backend):
    await backend.clear()
    filler = [
        service(n, f"Service numéro {n}", f"Des offres d'emploi et des conseils pratiques, fiche {n}.")
        for n in range(100, 3100)
    ]
    rare = service(99, "Apiculture en Ardèche", "Devenir apiculteur : ruches, miel et saisons.")
    await backend.index([*filler, rare])
    await Tortoise.get_connection("default").execute_script("ANALYZE search_document")
    plan = await backend.explain(SearchRequest(query="apiculture"))
    assert "Bitmap Index Scan on search_document_document_idx" in plan, plan
    result = await backend.search(SearchRequest(query="apiculture"))
    assert [hit.key for hit in result.hits] == ["service:99"]
    assert (await backend.search(SearchRequest(query="conseils pratiques", first=5))).total == 3000
    await backend.clear()


async def test_markup_in_content_is_escaped_around_the_marks(backend):
    await backend.clear()
    await backend.index(
        [service(1, "Atelier CV", "Un <script>alert(1)</script> atelier & des <b>conseils</b> pour le CV.")]
    )
    snippet = (await backend.search(SearchRequest(query="atelier"))).hits[0].snippet
    assert "<mark>" in snippet
    assert "<script" not in snippet and "<b>" not in snippet
    assert "&amp;" in snippet


async def test_typed_words_rank_above_their_synonyms(backend):
    await backend.clear()
    await backend.index(
        [
            service(1, "Votre boulot", "Trouver un boulot près de chez vous."),
            service(2, "Votre emploi", "Trouver un emploi près de chez vous."),
        ]
    )
    assert [hit.key for hit in (await backend.search(SearchRequest(query="boulot"))).hits] == [
        "service:1",
        "service:2",
    ]


async def test_one_missing_word_does_not_empty_the_results(backend):
    await backend.clear()
    await backend.index(CORPUS)
    found = [hit.key for hit in (await backend.search(SearchRequest(query="lettre zorglub"))).hits]
    assert found == ["service:2"]


async def test_word_list_follows_deletes_and_replacements(backend):
    await backend.clear()
    await backend.index(CORPUS)
    words = "SELECT documents FROM search_word WHERE word = $1"
    assert (await rows(words, "entretien"))[0]["documents"] == 2
    await backend.delete(["article:1"])
    assert (await rows(words, "entretien"))[0]["documents"] == 1
    await backend.index([service(1, "Réussir son oral", "Un simulateur pour les recruteurs.")])
    assert await rows(words, "entretien") == []
    assert not any("entretien" in s.text.lower() for s in await backend.suggest("entret"))


async def test_suggest_completes_the_last_word_from_the_index(backend):
    await backend.clear()
    await backend.index(CORPUS)
    texts = [s.text for s in await backend.suggest("un simulateur pour s'entr", limit=3)]
    assert "un simulateur pour s'entraîner" in texts, texts
    assert await backend.suggest("%") == []
    assert await backend.suggest("_ \\") == []


async def test_writes_belong_to_the_callers_transaction(backend):
    await backend.clear()
    await backend.index(CORPUS)
    with pytest.raises(RuntimeError):
        async with in_transaction("default"):
            await backend.index([service(8, "Apiculture urbaine", "Des ruches sur les toits.")])
            await backend.delete(["service:2"])
            assert [h.key for h in (await backend.search(SearchRequest(query="ruches"))).hits] == [
                "service:8"
            ]
            raise RuntimeError("roll back")
    assert (await backend.search(SearchRequest(query="ruches"))).total == 0
    assert (await backend.search(SearchRequest(query="lettre motivation"))).hits[0].key == "service:2"
    assert await rows("SELECT word FROM search_word WHERE word = 'ruches'") == []


async def test_odd_content_is_indexed_and_found(backend):
    await backend.clear()
    odd = service(1, "Nul\x00part ailleurs", "Un texte\x00 avec un caractère nul.", rating=float("nan"))
    await backend.index([odd])
    assert [h.key for h in (await backend.search(SearchRequest(query="ailleurs"))).hits] == ["service:1"]


async def test_suggestions_ignore_case_and_accents(backend):
    await backend.clear()
    await backend.index(CORPUS)
    assert [s.key for s in await backend.suggest("QUEBEC")] == ["service:6"]
    completions = [s.text for s in await backend.suggest("création d'entr")]
    assert completions[0] == "Création d'entreprise : le parcours", completions


async def test_articles_keep_their_content_type(backend):
    await backend.clear()
    await backend.index(CORPUS)
    result = await backend.search(SearchRequest(query="vidéo"))
    assert [(hit.content_type, hit.object_id) for hit in result.hits] == [(ContentType.ARTICLE, 1)]
