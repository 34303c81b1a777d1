"""The content scorer: answers' needs against what each service's content serves.

It recommends from day one, before anyone has clicked, and stays the fallback whenever no trained
model is loaded.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from recommender.needs import Need, service_needs
from recommender.questionnaire_schema import Questionnaire

MODEL_VERSION = "content-v1"
POPULARITY_WEIGHT = 0.05


@dataclass(frozen=True)
class ServiceProfile:
    service_id: int
    slug: str
    needs: dict[Need, float]
    popularity: int


@dataclass(frozen=True)
class Scored:
    service_id: int
    score: float
    reason: str


def profile_of(
    service_id: int,
    slug: str,
    categories: Sequence[str],
    kind: str,
    tags: Sequence[str],
    platforms: Sequence[str],
    popularity: int,
) -> ServiceProfile:
    return ServiceProfile(service_id, slug, service_needs(categories, kind, tags, platforms), popularity)


def _reasons(
    questionnaire: Questionnaire, chosen: Mapping[str, Sequence[str]]
) -> dict[Need, tuple[float, str]]:
    """For each need the answers signal, the strongest option's sentence ("Vous préparez…")."""
    best: dict[Need, tuple[float, str]] = {}
    for question_key, option_keys in chosen.items():
        question = questionnaire.question(question_key)
        for option_key in option_keys:
            option = question.option(option_key)
            for need, weight in option.needs.items():
                if option.reason and weight > best.get(need, (0.0, ""))[0]:
                    best[need] = (weight, option.reason)
    return best


def score_services(
    questionnaire: Questionnaire,
    chosen: Mapping[str, Sequence[str]],
    profile: Mapping[str, float],
    services: Sequence[ServiceProfile],
    limit: int = 10,
) -> list[Scored]:
    """The `limit` best services, each with the answer that makes it fit."""
    reasons = _reasons(questionnaire, chosen)
    most_visited = max((s.popularity for s in services), default=0) or 1
    scored = []
    for service in services:
        contributions = {
            need: profile.get(need.value, 0.0) * weight for need, weight in service.needs.items()
        }
        fit = sum(contributions.values())
        prior = POPULARITY_WEIGHT * math.log1p(service.popularity) / math.log1p(most_visited)
        top_need = max(
            (n for n in contributions if n in reasons), key=lambda n: contributions[n], default=None
        )
        reason = (
            reasons[top_need][1]
            if top_need is not None and contributions[top_need] > 0
            else ("Un service très utilisé par les personnes en recherche d'emploi")
        )
        scored.append(Scored(service.service_id, fit + prior, reason))
    scored.sort(key=lambda s: (-s.score, s.service_id))
    return scored[:limit]
