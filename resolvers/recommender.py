"""Resolvers of the questionnaire, its versions and of `recommend`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from models.accounts import User
from models.recommender import QuestionnaireVersion
from recommender import questionnaires, serving
from recommender.needs import NEED_LABELS, Need
from recommender.questionnaires import CurrentQuestionnaire, current_questionnaire


async def questionnaire() -> CurrentQuestionnaire:
    return await current_questionnaire()


async def questionnaire_versions(first: int) -> list[QuestionnaireVersion]:
    return await questionnaires.questionnaire_versions(first)


async def questionnaire_version(version: int) -> QuestionnaireVersion:
    return await questionnaires.questionnaire_version(version)


async def publish_questionnaire(
    actor: User, content: Mapping[str, Any], based_on: int
) -> QuestionnaireVersion:
    checked = questionnaires.validate_questionnaire(content)
    return await questionnaires.publish_questionnaire(checked, actor, based_on)


def needs() -> list[tuple[Need, str]]:
    return [(need, NEED_LABELS[need]) for need in Need]


async def recommend(answers: Sequence[tuple[str, Sequence[str]]], visitor: str | None) -> serving.Recommended:
    return await serving.recommend(answers, visitor)
