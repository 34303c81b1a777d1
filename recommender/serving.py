"""Answering `recommend`: check the answers, rank the catalogue, record what was shown.

The trained model ranks when one is loaded (recommender.registry), the content scorer otherwise.
Either way only published, free services can come out: the in-memory catalogue holds nothing
else, and the chosen ones are checked against the database before anything is shown.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from tortoise.transactions import in_transaction

from cms.catalogue import published_services
from models.recommender import Recommendation, RecommendationItem
from recommender import content
from recommender.features import FeatureSpec, ServiceArrays, ServiceContent, encode_answers, encode_services
from recommender.questionnaire_schema import Questionnaire
from recommender.questionnaires import check_answers, current_questionnaire
from recommender.registry import registry
from recommender.snapshot import cache

RECOMMENDATION_SIZE = 10
CONTENT_SPEC = FeatureSpec()


@dataclass(frozen=True)
class Recommended:
    recommendation: Recommendation
    items: list[RecommendationItem]


@dataclass(frozen=True)
class Ranked:
    """Every service of the snapshot scored for one visitor, and by what."""

    scores: np.ndarray
    services: ServiceArrays
    spec: FeatureSpec
    model_version: str
    profile: np.ndarray  # the answers' needs, as the editors' mapping gives them


_content_arrays: tuple[tuple[ServiceContent, ...], ServiceArrays] | None = None


def _content_services(services: tuple[ServiceContent, ...]) -> ServiceArrays:
    global _content_arrays
    if _content_arrays is None or _content_arrays[0] is not services:
        _content_arrays = (services, encode_services(CONTENT_SPEC, services))
    return _content_arrays[1]


def rank(
    questionnaire: Questionnaire, chosen: dict[str, list[str]], services: tuple[ServiceContent, ...]
) -> Ranked:
    """Score the catalogue with the model in force, or the content scorer without one."""
    loaded = registry.current
    spec = loaded.artifact.spec if loaded is not None else CONTENT_SPEC
    features = encode_answers(spec, questionnaire, chosen)
    if loaded is not None:
        ranker = loaded.ranker(services)
        scores = ranker.score(features.needs, features.options)
        return Ranked(scores, ranker.services, spec, loaded.version, features.needs)
    arrays = _content_services(services)
    scores = content.content_scores(features.needs, arrays)
    return Ranked(scores, arrays, spec, content.MODEL_VERSION, features.needs)


def best_first(scores: np.ndarray, count: int) -> list[int]:
    """Rows of the `count` best scores, best first (ties by row)."""
    count = min(count, len(scores))
    if count <= 0:
        return []
    top = np.argpartition(-scores, count - 1)[:count] if count < len(scores) else np.arange(len(scores))
    return sorted((int(i) for i in top), key=lambda i: (-float(scores[i]), i))


async def _still_recommendable(ranked: Ranked, limit: int) -> list[int]:
    """The best rows whose services are still published and free in the database."""
    window = limit * 3
    while True:
        rows = best_first(ranked.scores, window)
        ids = [int(ranked.services.service_ids[r]) for r in rows]
        alive = set(await published_services().filter(id__in=ids).values_list("id", flat=True))
        kept = [r for r in rows if int(ranked.services.service_ids[r]) in alive]
        if len(kept) >= limit or window >= len(ranked.scores):
            if len(alive) < len(ids):
                cache.invalidate()  # the snapshot is behind the database
            return kept[:limit]
        window *= 4


async def recommend(answers: Sequence[tuple[str, Sequence[str]]], visitor: str | None) -> Recommended:
    current = await current_questionnaire()
    chosen = check_answers(current.questionnaire, answers)  # refuses before anything is written
    snapshot = await cache.get()
    ranked = rank(current.questionnaire, chosen, snapshot.services)
    rows = await _still_recommendable(ranked, RECOMMENDATION_SIZE)
    explainer = content.Explainer(ranked.spec, current.questionnaire, chosen, ranked.profile)
    version = current.row
    async with in_transaction():
        recommendation = await Recommendation.create(
            id=f"rec_{secrets.token_hex(12)}",
            questionnaire_version=version,
            model_version=ranked.model_version,
            answers=chosen,
            visitor=visitor,
        )
        items = [
            RecommendationItem(
                recommendation_id=recommendation.id,
                service_id=int(ranked.services.service_ids[row]),
                rank=position,
                score=round(float(ranked.scores[row]), 6),
                reason=explainer.reason(ranked.services, row)[:200],
            )
            for position, row in enumerate(rows, start=1)
        ]
        await RecommendationItem.bulk_create(items)
    recommendation.questionnaire_version = version
    return Recommended(recommendation=recommendation, items=items)
