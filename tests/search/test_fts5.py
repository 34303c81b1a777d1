"""The SQLite FTS5 backend: the shared contract, and what is particular to FTS5."""

from __future__ import annotations

import pytest
from tortoise import Tortoise
from tortoise.transactions import in_transaction

from search.backend import SearchRequest
from search.fts5 import Fts5Backend
from tests.conftest import BACKEND
from tests.search.contract import CORPUS, SearchContract, keys, service

pytestmark = pytest.mark.skipif(
    BACKEND != "sqlite", reason="FTS5 lives in SQLite; PostgreSQL has its own backend"
)


@pytest.fixture
async def backend(server: str) -> Fts5Backend:
    fts5 = Fts5Backend()
    await fts5.setup()
    await fts5.setup()  # safe to run again
    return fts5


class TestFts5(SearchContract):
    pass


async def search(backend: Fts5Backend, query: str, **request) -> list[str]:
    return keys(await backend.search(SearchRequest(query=query, **request)))


async def test_writes_belong_to_the_surrounding_transaction(backend):
    await backend.clear()
    with pytest.raises(RuntimeError):
        async with in_transaction("default"):
            await backend.index(CORPUS)
            raise RuntimeError("the change that triggered the indexing failed")
    assert await search(backend, "entretien") == []
    await backend.index(CORPUS)
    assert await search(backend, "entretien")


async def test_relevance_leads_popularity_follows(backend):
    await backend.clear()
    await backend.index(
        [
            service(1, "Salons de l'emploi", "Rencontrer des recruteurs.", rating=1.0, popularity=0),
            service(2, "Agenda", "Les salons près de chez vous.", rating=5.0, popularity=100_000),
            service(3, "Forums", "Les salons près de chez vous.", rating=5.0, popularity=10),
        ]
    )
    assert await search(backend, "salon") == ["service:1", "service:2", "service:3"]


async def test_every_word_is_required_before_any_word_will_do(backend):
    await backend.clear()
    await backend.index(CORPUS)
    assert await search(backend, "entretien vidéo") == ["article:1"]
    assert set(await search(backend, "vidéo motivation")) == {"article:1", "service:2"}


async def test_snippets_show_the_best_body_passage(backend):
    await backend.clear()
    body = (
        "# Guide\n\n"
        + "Des conseils généraux. " * 20
        + "Préparez vos **entretiens** <b>en ligne</b> sereinement."
    )
    await backend.index([service(1, "Guide", "Un guide complet.", body=body)])
    [hit] = (await backend.search(SearchRequest(query="entretien"))).hits
    assert "<mark>entretiens</mark> en ligne sereinement." in hit.snippet
    assert hit.snippet.startswith("…")
    assert "<b>" not in hit.snippet and "**" not in hit.snippet


async def test_suggest_completes_words_after_what_was_typed(backend):
    await backend.clear()
    await backend.index(CORPUS)
    texts = [s.text for s in await backend.suggest("lettre de mot")]
    assert "Ma lettre de motivation" in texts
    assert "lettre de motivation" in texts
    titles = await backend.suggest("TRAVAILLER AU QUEB")
    assert titles[0].text == "Travailler au Québec" and titles[0].key == "service:6"
    assert await backend.suggest("") == [] and await backend.suggest("*") == []


@pytest.mark.parametrize("query", ["\u0301", "ǃ", "x\u200by", "ⅷ", "①②", "日本語", "NOT", "de la"])
async def test_unusual_characters_are_just_text(backend, query):
    await backend.clear()
    await backend.index(CORPUS)
    result = await backend.search(SearchRequest(query=query))
    assert isinstance(result.hits, list)
    assert isinstance(await backend.suggest(query), list)


async def test_a_database_never_set_up_gets_its_tables_on_first_use(backend):
    connection = Tortoise.get_connection("default")
    for table in ("search_fts_word", "search_fts_title", "search_fts", "search_fts_document"):
        await connection.execute_query(f"DROP TABLE {table}")
    async with in_transaction("default"):  # as when a published service is indexed
        await Fts5Backend().index([CORPUS[0]])
    assert await search(Fts5Backend(), "entretien") == ["service:1"]
    await Fts5Backend().delete(["service:1"])
    assert await search(Fts5Backend(), "entretien") == []


async def test_the_closest_frequent_word_corrects_a_typo(backend):
    await backend.clear()
    await backend.index(CORPUS)
    assert await search(backend, "motivatoin") == ["service:2"]
    assert await search(backend, "qeubec") == ["service:6"]
    assert await search(backend, "zzzzzzzz") == []
