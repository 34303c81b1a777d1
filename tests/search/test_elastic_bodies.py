"""What the Elasticsearch backend sends and how it reads answers, checked without a node."""

from __future__ import annotations

import datetime as dt
import json
import math
import re

import pytest

from search import elastic
from search.backend import ContentType, SearchFilter, SearchRequest
from search.elastic import (
    ElasticsearchBackend,
    alias_swap_actions,
    bulk_failures,
    concrete_index_name,
    delete_actions,
    document_source,
    index_actions,
    index_settings,
    mappings,
    safe_snippet,
    search_body,
    search_result,
    suggest_body,
    synonym_rules,
)
from search.errors import SearchUnavailable
from tests.search.contract import CORPUS


def analyzer(name: str) -> list[str]:
    return index_settings()["analysis"]["analyzer"][name]["filter"]


def token_filter(name: str) -> dict:
    return index_settings()["analysis"]["filter"][name]


def walk(body: object):
    """Every (key, value) pair anywhere in a request body."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield key, value
            yield from walk(value)
    elif isinstance(body, list):
        for value in body:
            yield from walk(value)


def clauses(body: dict, kind: str) -> list[dict]:
    return [value for key, value in walk(body) if key == kind]


# --- Analysis -------------------------------------------------------------------------------------


def test_the_french_analyzer_is_rebuilt_from_its_parts():
    chain = analyzer(elastic.INDEX_ANALYZER)
    assert index_settings()["analysis"]["analyzer"][elastic.INDEX_ANALYZER]["tokenizer"] == "standard"
    assert [token_filter(f)["type"] if f in index_settings()["analysis"]["filter"] else f for f in chain] == [
        "elision",
        "lowercase",
        "asciifolding",
        "stop",
        "stop",
        "stemmer",
    ]
    elision = token_filter("french_elision")
    assert {"l", "d", "j", "m", "n", "s", "t", "c", "qu", "jusqu", "lorsqu", "puisqu"} <= set(
        elision["articles"]
    )
    assert elision["articles_case"] is True  # L'entreprise as well as l'entreprise
    assert token_filter("french_stop")["stopwords"] == "_french_"
    # The accented stop words of _french_ reach the stop filter folded: "à" arrives as "a".
    assert {"a", "ete", "meme"} <= set(token_filter("french_stop_folded")["stopwords"])
    assert token_filter("french_stemmer") == {"type": "stemmer", "language": "light_french"}


def test_synonyms_are_expanded_at_search_time_only():
    index_chain = analyzer(elastic.INDEX_ANALYZER)
    search_chain = analyzer(elastic.SEARCH_ANALYZER)
    assert "french_synonyms" not in index_chain
    assert [f for f in search_chain if f != "french_synonyms"] == index_chain
    # Parsed by the filters before it (folded, elided), and before the stop words the rules contain.
    position = search_chain.index("french_synonyms")
    assert search_chain[:position] == ["french_elision", "lowercase", "asciifolding"]
    synonyms = token_filter("french_synonyms")
    assert synonyms["type"] == "synonym_graph"
    assert synonyms["updateable"] is True  # only allowed in a search analyzer, and reloadable


def test_the_synonym_groups_come_from_synonyms_txt():
    rules = token_filter("french_synonyms")["synonyms"]
    assert rules == synonym_rules()
    assert "cv, curriculum vitae, curriculum" in rules
    assert "lettre de motivation, lettre de candidature" in rules
    assert not any(rule.startswith("#") or not rule.strip() for rule in rules)
    assert index_settings(["emploi, job"])["analysis"]["filter"]["french_synonyms"]["synonyms"] == [
        "emploi, job"
    ]


def test_text_fields_index_and_search_with_their_analyzers():
    properties = mappings()["properties"]
    for field in ("title", "summary", "body", "tags"):
        assert properties[field]["type"] == "text"
        assert properties[field]["analyzer"] == elastic.INDEX_ANALYZER
        assert properties[field]["search_analyzer"] == elastic.SEARCH_ANALYZER


# --- Mappings -------------------------------------------------------------------------------------


def test_mappings():
    body = mappings()
    properties = body["properties"]
    assert body["dynamic"] == "strict"
    title = properties["title"]["fields"]
    assert title["suggest"]["type"] == "search_as_you_type"
    assert title["suggest"]["analyzer"] == elastic.SUGGEST_ANALYZER
    assert title["keyword"]["type"] == "keyword"
    for field in ("categories", "kind", "platforms", "content_type", "key"):
        assert properties[field] == {"type": "keyword"}
    assert properties["rating"] == {"type": "float"}
    assert properties["popularity"] == {"type": "long"}
    assert properties["published_at"] == {"type": "date"}
    # Completions are matched as typed: folded, but neither stemmed nor stripped of stop words.
    assert analyzer(elastic.SUGGEST_ANALYZER) == ["french_elision", "lowercase", "asciifolding"]


def test_every_indexed_field_is_mapped():
    document = CORPUS[0]
    source = document_source(document)
    assert set(source) == set(mappings()["properties"])
    assert source["content_type"] == "service" and source["categories"] == ["preparer-sa-candidature"]
    dated = document_source(
        CORPUS[0].__class__(**{**CORPUS[0].__dict__, "published_at": dt.datetime(2024, 5, 1, tzinfo=dt.UTC)})
    )
    assert dated["published_at"] == "2024-05-01T00:00:00+00:00"
    for body in (index_settings(), mappings(), source):
        json.dumps(body)  # what the client sends must serialise


# --- Search ---------------------------------------------------------------------------------------

FILTERED = SearchRequest(
    query="  lettre de motivation ",
    filter=SearchFilter(
        categories=("preparer-sa-candidature",),
        kinds=("tool", "cv_builder"),
        platforms=("web",),
        content_types=(ContentType.SERVICE,),
    ),
    first=10,
    offset=20,
)


def test_search_body_matches_fuzzy_text_over_weighted_fields():
    body = search_body(FILTERED)
    best = [m for m in clauses(body, "multi_match") if m["type"] == "best_fields"]
    assert len(best) == 1
    assert best[0]["fields"] == ["title^4", "tags^3", "summary^2", "body"]
    assert best[0]["fuzziness"] == "AUTO"
    assert best[0]["query"] == FILTERED.query
    phrase = [m for m in clauses(body, "multi_match") if m["type"] == "phrase"]
    assert len(phrase) == 1 and phrase[0]["boost"] > 1
    # The text is never parsed as query syntax.
    assert not clauses(body, "query_string") and not clauses(body, "simple_query_string")


def test_search_body_filters_without_scoring():
    body = search_body(FILTERED)
    (bool_query,) = clauses(body, "bool")
    assert bool_query["filter"] == [
        {"terms": {"categories": ["preparer-sa-candidature"]}},
        {"terms": {"kind": ["tool", "cv_builder"]}},
        {"terms": {"platforms": ["web"]}},
        {"terms": {"content_type": ["service"]}},
    ]
    assert clauses(search_body(SearchRequest(query="cv")), "bool")[0]["filter"] == []


def test_rating_and_popularity_nudge_but_relevance_dominates():
    (function_score,) = clauses(search_body(FILTERED), "function_score")
    assert function_score["boost_mode"] in ("multiply", "sum")
    factors = {
        f["field_value_factor"]["field"]: f for f in function_score["functions"] if "field_value_factor" in f
    }
    assert factors["popularity"]["field_value_factor"]["modifier"] == "log1p"
    assert set(factors) == {"rating", "popularity"}

    def factor(rating: float, popularity: int) -> float:
        """The function_score factor, as Elasticsearch computes it (log1p is log10(1 + x))."""
        total = 0.0
        for function in function_score["functions"]:
            weight = function.get("weight", 1)
            if "field_value_factor" not in function:
                total += weight
                continue
            spec = function["field_value_factor"]
            value = {"rating": rating, "popularity": popularity}[spec["field"]] * spec.get("factor", 1)
            if spec.get("modifier") == "log1p":
                value = math.log10(1 + value)
            total += weight * value
        return total

    assert function_score["score_mode"] == "sum" and function_score["boost_mode"] == "multiply"
    assert factor(0, 0) == pytest.approx(1)  # an unrated article keeps its text score
    assert factor(5, 10_000_000) < 1.6  # the best-rated, most-visited service gains less than 60 %
    assert factor(4.5, 900) > factor(3.0, 200)


def test_search_body_highlights_pages_and_counts():
    body = search_body(FILTERED)
    assert body["from"] == 20 and body["size"] == 10
    assert body["track_total_hits"] is True
    highlight = body["highlight"]
    assert highlight["encoder"] == "html"
    assert highlight["pre_tags"] == ["<mark>"] and highlight["post_tags"] == ["</mark>"]
    assert set(highlight["fields"]) == {"summary", "body"}
    assert body["aggs"] == {
        "categories": {"terms": {"field": "categories", "size": elastic.FACET_SIZE}},
        "kinds": {"terms": {"field": "kind", "size": elastic.FACET_SIZE}},
        "platforms": {"terms": {"field": "platforms", "size": elastic.FACET_SIZE}},
        "content_types": {"terms": {"field": "content_type", "size": elastic.FACET_SIZE}},
    }
    json.dumps(body)


def test_a_very_long_query_is_cut():
    body = search_body(SearchRequest(query="x" * 2000))
    assert all(len(m["query"]) == elastic.MAX_QUERY_CHARS for m in clauses(body, "multi_match"))


def test_suggest_body():
    body = suggest_body("lettre de m", 5)
    match = body["query"]["multi_match"]
    assert match["type"] == "bool_prefix"
    assert match["query"] == "lettre de m"
    assert match["fields"] == ["title.suggest", "title.suggest._2gram", "title.suggest._3gram"]
    assert body["size"] == 5


# --- Writes ---------------------------------------------------------------------------------------


def test_bulk_index_actions_carry_external_versions():
    operations = index_actions("emploi-store", CORPUS[:2], {"service:1": 41, "service:2": 7})
    assert operations[0] == {
        "index": {"_index": "emploi-store", "_id": "service:1", "version": 41, "version_type": "external"}
    }
    assert operations[1] == document_source(CORPUS[0])
    assert operations[2]["index"]["version"] == 7
    assert len(operations) == 4


def test_bulk_actions_without_versions_simply_replace():
    action, _ = index_actions("emploi-store", CORPUS[:1])
    assert action == {"index": {"_index": "emploi-store", "_id": "service:1"}}
    assert delete_actions("emploi-store", ["article:1"]) == [
        {"delete": {"_index": "emploi-store", "_id": "article:1"}}
    ]


def test_bulk_delete_actions_carry_external_versions():
    assert delete_actions("emploi-store", ["service:9"], {"service:9": 12}) == [
        {"delete": {"_index": "emploi-store", "_id": "service:9", "version": 12, "version_type": "external"}}
    ]


def test_replays_and_absent_deletes_are_not_failures():
    response = {
        "errors": True,
        "items": [
            {"index": {"_id": "service:1", "status": 201, "result": "created"}},
            # A replay: the index already holds this version or a newer one.
            {
                "index": {
                    "_id": "service:2",
                    "status": 409,
                    "error": {"type": "version_conflict_engine_exception", "reason": "version conflict"},
                }
            },
            {"delete": {"_id": "service:999", "status": 404, "result": "not_found"}},
            {
                "index": {
                    "_id": "service:3",
                    "status": 400,
                    "error": {"type": "document_parsing_exception", "reason": "bad rating"},
                }
            },
            {
                "delete": {
                    "_id": "service:4",
                    "status": 404,
                    "error": {"type": "index_not_found_exception", "reason": "no such index [emploi-store]"},
                }
            },
        ],
    }
    failures = bulk_failures(response)
    assert set(failures) == {"service:3", "service:4"}
    assert "document_parsing_exception" in failures["service:3"]


def test_alias_swap_is_one_atomic_call():
    assert alias_swap_actions("emploi-store", "emploi-store-2", ["emploi-store-1"]) == [
        {"remove": {"index": "emploi-store-1", "alias": "emploi-store"}},
        {"add": {"index": "emploi-store-2", "alias": "emploi-store", "is_write_index": True}},
    ]
    assert alias_swap_actions("emploi-store", "emploi-store-2") == [
        {"add": {"index": "emploi-store-2", "alias": "emploi-store", "is_write_index": True}}
    ]
    # A plain index squatting the alias's name goes in the same call.
    assert alias_swap_actions("emploi-store", "emploi-store-2", concrete_index_named_alias=True) == [
        {"remove_index": {"index": "emploi-store"}},
        {"add": {"index": "emploi-store-2", "alias": "emploi-store", "is_write_index": True}},
    ]


def test_concrete_index_names_sort_by_creation():
    first = concrete_index_name("emploi-store", dt.datetime(2025, 3, 1, 12, 0, 0, 5, tzinfo=dt.UTC))
    second = concrete_index_name("emploi-store", dt.datetime(2025, 3, 1, 12, 0, 1, tzinfo=dt.UTC))
    assert first == "emploi-store-20250301120000000005"
    assert first < second
    assert re.fullmatch(r"[a-z0-9-]+", concrete_index_name("emploi-store"))


# --- Answers --------------------------------------------------------------------------------------

RESPONSE = {
    "hits": {
        "total": {"value": 2, "relation": "eq"},
        "hits": [
            {
                "_id": "service:3",
                "_score": 7.5,
                "_source": {"key": "service:3", "content_type": "service", "object_id": 3, "summary": "…"},
                "highlight": {
                    "summary": ["Créez un <mark>curriculum</mark> &lt;script&gt;alert(1)&lt;&#x2F;script&gt;"]
                },
            },
            {
                "_id": "article:1",
                "_score": 2.25,
                "_source": {
                    "key": "article:1",
                    "content_type": "article",
                    "object_id": 1,
                    "summary": "Tom & Jerry <b>pas de match</b>",
                },
            },
        ],
    },
    "aggregations": {
        "categories": {"buckets": [{"key": "preparer-sa-candidature", "doc_count": 1}]},
        "kinds": {"buckets": [{"key": "cv_builder", "doc_count": 1}, {"key": "article", "doc_count": 1}]},
        "platforms": {"buckets": []},
        "content_types": {
            "buckets": [{"key": "service", "doc_count": 1}, {"key": "article", "doc_count": 1}]
        },
    },
}


def test_hits_facets_and_total_are_read_back():
    result = search_result(RESPONSE)
    assert result.total == 2
    assert [(h.key, h.content_type, h.object_id, h.score) for h in result.hits] == [
        ("service:3", ContentType.SERVICE, 3, 7.5),
        ("article:1", ContentType.ARTICLE, 1, 2.25),
    ]
    assert result.facets.content_types == {"service": 1, "article": 1}
    assert result.facets.kinds == {"cv_builder": 1, "article": 1}
    assert result.facets.platforms == {}


def test_snippets_keep_only_mark_tags():
    first, second = (hit.snippet for hit in search_result(RESPONSE).hits)
    assert first == "Créez un <mark>curriculum</mark> &lt;script&gt;alert(1)&lt;/script&gt;"
    assert second == "Tom &amp; Jerry &lt;b&gt;pas de match&lt;/b&gt;"  # no highlight: the escaped summary
    for snippet in (first, second):
        assert not re.search(r"<(?!/?mark>)", snippet)
    # Even a raw tag slipped into a fragment comes out escaped; text that spells a tag stays text.
    assert safe_snippet("<mark>cv</mark> <img src=x onerror=alert(1)>") == (
        "<mark>cv</mark> &lt;img src=x onerror=alert(1)&gt;"
    )
    assert safe_snippet("&lt;mark&gt; is text") == "&lt;mark&gt; is text"


def test_suggestions_are_titles_once_each():
    response = {
        "hits": {
            "hits": [
                {"_id": "service:2", "_source": {"key": "service:2", "title": "Ma lettre de motivation"}},
                {"_id": "article:4", "_source": {"key": "article:4", "title": "Ma lettre de motivation"}},
                {"_id": "service:6", "_source": {"key": "service:6", "title": "Travailler au Québec"}},
            ]
        }
    }
    found = elastic.suggestions(response, 5)
    assert [(s.text, s.key) for s in found] == [
        ("Ma lettre de motivation", "service:2"),
        ("Travailler au Québec", "service:6"),
    ]
    assert len(elastic.suggestions(response, 1)) == 1


# --- An unreachable node --------------------------------------------------------------------------


async def test_an_unreachable_node_is_reported_as_unavailable_then_skipped():
    backend = ElasticsearchBackend("http://127.0.0.1:1", "emploi-store-test", request_timeout=2)
    try:
        with pytest.raises(SearchUnavailable) as caught:
            await backend.search(SearchRequest(query="cv"))
        assert isinstance(caught.value, ConnectionError)  # what search.service falls back on
        # For a while, the next calls do not wait on the dead node again.
        with pytest.raises(SearchUnavailable, match="failed less than"):
            await backend.suggest("cv")
    finally:
        await backend.close()
