"""The judged queries behind bench/search_relevance.py stay usable: enough of them, well formed,
and every judged service still in the shipped catalogue."""

from __future__ import annotations

import json
import pathlib
from typing import Any

import pytest

from cms.seed_schema import load_catalogue

JUDGED = pathlib.Path(__file__).with_name("judged_queries.json")


@pytest.fixture(scope="module")
def queries() -> list[dict[str, Any]]:
    return json.loads(JUDGED.read_text(encoding="utf-8"))["queries"]


def test_there_are_enough_distinct_queries(queries):
    assert len(queries) >= 40
    texts = [q["query"].strip().casefold() for q in queries]
    assert len(set(texts)) == len(texts), "a query is judged twice"
    assert all(texts), "an empty query"


def test_each_query_is_well_formed(queries):
    for q in queries:
        assert set(q) == {"query", "relevant", "note"}, q["query"]
        assert isinstance(q["note"], str) and q["note"].strip(), q["query"]
        assert 3 <= len(q["relevant"]) <= 10, q["query"]
        grades = list(q["relevant"].values())
        assert all(type(g) is int and 1 <= g <= 3 for g in grades), q["query"]
        # Recall and MRR count grades 2 and 3 as relevant: each query needs one.
        assert max(grades) >= 2, q["query"]


def test_every_judged_service_is_in_the_shipped_catalogue(queries):
    slugs = {service.slug for service in load_catalogue().services}
    unknown = {(q["query"], slug) for q in queries for slug in q["relevant"] if slug not in slugs}
    assert not unknown
