"""Answering `recommend`: check the answers, score the published services, record what was shown."""

from __future__ import annotations

import secrets
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from cms.catalogue import published_services
from models.catalogue import ServiceCategory, ServiceLink
from models.recommender import QuestionnaireVersion, Recommendation, RecommendationItem
from recommender import content
from recommender.questionnaires import check_answers, current_questionnaire, need_profile

RECOMMENDATION_SIZE = 10


@dataclass(frozen=True)
class Recommended:
    recommendation: Recommendation
    items: list[RecommendationItem]


async def _service_profiles() -> list[content.ServiceProfile]:
    """Published, free services only: nothing else can ever be recommended."""
    services = await published_services().only("id", "slug", "kind", "tags", "redirect_count")
    ids = [s.id for s in services]
    categories: dict[int, list[str]] = defaultdict(list)
    for row in (
        await ServiceCategory.filter(service_id__in=ids).select_related("category").order_by("position")
    ):
        categories[row.service_id].append(row.category.slug)
    platforms: dict[int, list[str]] = defaultdict(list)
    for service_id, platform in await ServiceLink.filter(service_id__in=ids).values_list(
        "service_id", "platform"
    ):
        platforms[service_id].append(str(getattr(platform, "value", platform)))
    return [
        content.profile_of(
            s.id,
            s.slug,
            categories[s.id],
            s.kind.value,
            list(s.tags or []),
            platforms[s.id],
            s.redirect_count,
        )
        for s in services
    ]


async def recommend(answers: Sequence[tuple[str, Sequence[str]]], visitor: str | None) -> Recommended:
    current = await current_questionnaire()
    chosen = check_answers(current.questionnaire, answers)  # refuses before anything is written
    profile = need_profile(current.questionnaire, chosen)
    best = content.score_services(
        current.questionnaire, chosen, profile, await _service_profiles(), RECOMMENDATION_SIZE
    )
    version = await QuestionnaireVersion.get(version=current.version)
    async with in_transaction():
        recommendation = await Recommendation.create(
            id=f"rec_{secrets.token_hex(12)}",
            questionnaire_version=version,
            model_version=content.MODEL_VERSION,
            answers=chosen,
            visitor=visitor,
        )
        items = [
            RecommendationItem(
                recommendation_id=recommendation.id,
                service_id=scored.service_id,
                rank=rank,
                score=round(scored.score, 6),
                reason=scored.reason[:200],
            )
            for rank, scored in enumerate(best, start=1)
        ]
        await RecommendationItem.bulk_create(items)
    recommendation.questionnaire_version = version
    return Recommended(recommendation=recommendation, items=items)
