"""The behaviour every search backend owes its users, written once and run against each backend.

A backend's test module subclasses `SearchContract` and provides the `backend` fixture.
"""

from __future__ import annotations

import re

import pytest

from search.backend import ContentType, SearchBackend, SearchDocument, SearchFilter, SearchRequest


def service(n: int, title: str, summary: str, body: str = "", **extra) -> SearchDocument:
    return SearchDocument(
        key=f"service:{n}",
        content_type=ContentType.SERVICE,
        object_id=n,
        title=title,
        summary=summary,
        body=body or summary,
        **extra,
    )


CORPUS = [
    service(
        1,
        "Réussir son entretien d'embauche",
        "Un simulateur pour s'entraîner aux questions des recruteurs.",
        tags=("entretien", "simulation"),
        categories=("preparer-sa-candidature",),
        category_names=("Préparer sa candidature",),
        kind="interview_simulator",
        platforms=("web",),
        rating=4.5,
        popularity=900,
    ),
    service(
        2,
        "Ma lettre de motivation",
        "Rédigez une lettre de motivation convaincante pas à pas.",
        tags=("lettre-de-motivation",),
        categories=("preparer-sa-candidature",),
        category_names=("Préparer sa candidature",),
        kind="tool",
        platforms=("web", "app_store"),
        rating=4.0,
        popularity=500,
    ),
    service(
        3,
        "CV express",
        "Créez un curriculum vitae clair en dix minutes, modèles gratuits.",
        tags=("cv",),
        categories=("preparer-sa-candidature",),
        category_names=("Préparer sa candidature",),
        kind="cv_builder",
        platforms=("web", "google_play"),
        rating=3.5,
        popularity=300,
    ),
    service(
        4,
        "Allocations et chômage : vos droits",
        "Comprendre l'indemnisation chômage et les démarches pour vos droits.",
        categories=("trouver-un-emploi",),
        category_names=("Trouver un emploi",),
        kind="website",
        platforms=("web",),
        rating=3.0,
        popularity=200,
    ),
    service(
        5,
        "Création d'entreprise : le parcours",
        "Un MOOC pour préparer la création d'entreprise, du projet au financement.",
        tags=("creation-entreprise", "mooc"),
        categories=("creer-une-entreprise",),
        category_names=("Créer une entreprise",),
        kind="mooc",
        platforms=("web",),
        rating=4.2,
        popularity=400,
    ),
    service(
        6,
        "Travailler au Québec",
        "Offres d'emploi et démarches pour partir travailler au Canada.",
        tags=("international",),
        categories=("travailler-a-l-etranger",),
        category_names=("Travailler à l'étranger",),
        kind="job_board",
        platforms=("web", "google_play"),
        rating=3.8,
        popularity=150,
    ),
    SearchDocument(
        key="article:1",
        content_type=ContentType.ARTICLE,
        object_id=1,
        title="Cinq conseils pour un entretien vidéo réussi",
        summary="Lumière, son, regard caméra : préparez votre entretien à distance.",
        body="## Avant l'entretien\n\nTestez votre connexion et choisissez un fond neutre.",
        tags=("entretien",),
        kind="article",
    ),
]


def keys(result) -> list[str]:
    return [hit.key for hit in result.hits]


class SearchContract:
    @pytest.fixture
    async def loaded(self, backend: SearchBackend) -> SearchBackend:
        await backend.clear()
        await backend.index(CORPUS)
        return backend

    async def search(self, backend: SearchBackend, query: str, **filters) -> list[str]:
        result = await backend.search(SearchRequest(query=query, filter=SearchFilter(**filters)))
        return keys(result)

    async def test_finds_by_title_words(self, loaded):
        assert (await self.search(loaded, "lettre motivation"))[0] == "service:2"

    async def test_typo_tolerance(self, loaded):
        assert "service:1" in (await self.search(loaded, "entretein"))[:3]

    async def test_accents_do_not_matter(self, loaded):
        assert "service:4" in await self.search(loaded, "chomage")
        assert "service:6" in await self.search(loaded, "quebec")

    async def test_plurals_and_stems(self, loaded):
        assert (await self.search(loaded, "lettres de motivation"))[0] == "service:2"

    async def test_synonyms(self, loaded):
        assert "service:3" in await self.search(loaded, "curriculum vitae")
        assert "service:3" in await self.search(loaded, "CV")

    async def test_verb_finds_the_noun(self, loaded):
        assert (await self.search(loaded, "créer son entreprise"))[0] == "service:5"

    async def test_articles_are_searched_too(self, loaded):
        found = await self.search(loaded, "entretien vidéo")
        assert found[0] == "article:1"

    async def test_filters(self, loaded):
        assert await self.search(loaded, "entretien", content_types=(ContentType.ARTICLE,)) == ["article:1"]
        assert await self.search(loaded, "entretien", kinds=("interview_simulator",)) == ["service:1"]
        assert await self.search(loaded, "gratuits", platforms=("google_play",)) == ["service:3"]
        assert await self.search(loaded, "lettre", categories=("creer-une-entreprise",)) == []

    async def test_facets_count_every_match(self, loaded):
        result = await loaded.search(SearchRequest(query="entretien", first=1))
        assert result.total == 2
        assert len(result.hits) == 1
        assert result.facets.content_types == {"service": 1, "article": 1}
        assert result.facets.categories.get("preparer-sa-candidature") == 1
        assert result.facets.kinds.get("interview_simulator") == 1

    async def test_pages(self, loaded):
        first = await loaded.search(SearchRequest(query="entretien", first=1))
        second = await loaded.search(SearchRequest(query="entretien", first=1, offset=1))
        assert {*keys(first), *keys(second)} == {"service:1", "article:1"}

    async def test_snippets_mark_the_match_and_escape_the_rest(self, loaded):
        result = await loaded.search(SearchRequest(query="curriculum"))
        snippet = result.hits[0].snippet
        assert "<mark>" in snippet
        assert not re.search(r"<(?!/?mark>)", snippet)

    async def test_scores_decrease(self, loaded):
        result = await loaded.search(SearchRequest(query="entretien motivation lettre"))
        scores = [hit.score for hit in result.hits]
        assert scores == sorted(scores, reverse=True) and scores[0] > 0

    async def test_suggest_completes_titles(self, loaded):
        suggestions = await loaded.suggest("lett")
        assert any("lettre" in s.text.lower() for s in suggestions)
        assert any("Québec" in s.text for s in await loaded.suggest("québ"))

    async def test_delete_and_reindex(self, loaded):
        await loaded.delete(["service:2", "service:999"])  # an unknown key is ignored
        assert "service:2" not in await self.search(loaded, "lettre motivation")
        await loaded.index([CORPUS[1]])
        assert (await self.search(loaded, "lettre motivation"))[0] == "service:2"

    async def test_reindexing_replaces(self, loaded):
        changed = service(2, "Ma lettre de motivation", "Tout nouveau texte sur les salons virtuels.")
        await loaded.index([changed])
        assert "service:2" in await self.search(loaded, "salons virtuels")
        assert len([k for k in await self.search(loaded, "lettre") if k == "service:2"]) == 1

    @pytest.mark.parametrize(
        "query",
        [
            '"',
            "-",
            "*",
            "(",
            ")",
            ":",
            "OR",
            "AND NOT",
            '"cv" OR -(lettre*',
            "^~@#%&",
            "x" * 2000,
            "NEAR(a b)",
        ],
    )
    async def test_query_syntax_is_just_text(self, loaded, query):
        result = await loaded.search(SearchRequest(query=query))
        assert isinstance(result.hits, list)

    async def test_facets_alone_agree_with_the_search(self, loaded):
        request = SearchRequest(
            query="entretien", filter=SearchFilter(kinds=("interview_simulator", "article"))
        )
        assert await loaded.facets(request) == (await loaded.search(request)).facets

    async def test_clear_empties_the_index(self, loaded):
        await loaded.clear()
        assert await self.search(loaded, "entretien") == []
        assert await loaded.suggest("lett") == []

    async def test_suggest_respects_the_limit(self, loaded):
        assert len(await loaded.suggest("e", limit=2)) <= 2

    @pytest.mark.parametrize("prefix", ['"', "(", "*", ":", "OR", '"cv" OR -(lett*', "NEAR(a b)", "x" * 2000])
    async def test_prefix_syntax_is_just_text(self, loaded, prefix):
        assert isinstance(await loaded.suggest(prefix), list)
