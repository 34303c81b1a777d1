"""Resolvers of the questionnaire and of `recommend`."""

from __future__ import annotations

from collections.abc import Sequence

from recommender import serving
from recommender.questionnaires import CurrentQuestionnaire, current_questionnaire


async def questionnaire() -> CurrentQuestionnaire:
    return await current_questionnaire()


async def recommend(answers: Sequence[tuple[str, Sequence[str]]], visitor: str | None) -> serving.Recommended:
    return await serving.recommend(answers, visitor)
