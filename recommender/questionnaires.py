"""The questionnaire in force, its versions, and checking a visitor's answers against it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from models.errors import BadUserInput
from models.recommender import QuestionnaireVersion
from recommender.questionnaire_schema import Questionnaire, load_default_questionnaire

MAX_ANSWERS = 40


@dataclass(frozen=True)
class CurrentQuestionnaire:
    version: int
    questionnaire: Questionnaire


async def ensure_default_questionnaire() -> QuestionnaireVersion:
    """Version 1 is the shipped default; created once, never overwritten."""
    latest = await QuestionnaireVersion.all().order_by("-version").first()
    if latest is not None:
        return latest
    default = load_default_questionnaire()
    return await QuestionnaireVersion.create(version=1, content=default.model_dump(mode="json"))


async def current_questionnaire() -> CurrentQuestionnaire:
    row = await ensure_default_questionnaire()
    return CurrentQuestionnaire(version=row.version, questionnaire=Questionnaire.model_validate(row.content))


def check_answers(
    questionnaire: Questionnaire, answers: Sequence[tuple[str, Sequence[str]]]
) -> dict[str, list[str]]:
    """Each answer names a question and its chosen options; anything unknown or missing is refused."""
    if len(answers) > MAX_ANSWERS:
        raise BadUserInput(f"at most {MAX_ANSWERS} answers", field="answers")
    chosen: dict[str, list[str]] = {}
    for question_key, option_keys in answers:
        try:
            question = questionnaire.question(question_key)
        except KeyError:
            raise BadUserInput(
                f"unknown question {question_key!r}", field="answers", question=question_key
            ) from None
        if question_key in chosen:
            raise BadUserInput(f"question {question_key!r} is answered twice", field="answers")
        options = list(dict.fromkeys(option_keys))
        for option_key in options:
            try:
                question.option(option_key)
            except KeyError:
                raise BadUserInput(
                    f"question {question_key!r} has no option {option_key!r}",
                    field="answers",
                    question=question_key,
                ) from None
        limit = 1 if question.kind == "single" else question.max_choices or 1
        if len(options) > limit:
            raise BadUserInput(
                f"question {question_key!r} takes at most {limit} option(s)",
                field="answers",
                question=question_key,
            )
        if options:
            chosen[question_key] = options
    missing = [q.key for q in questionnaire.questions if q.required and q.key not in chosen]
    if missing:
        raise BadUserInput(
            f"required question(s) not answered: {', '.join(missing)}", field="answers", missing=missing
        )
    return chosen


def need_profile(questionnaire: Questionnaire, chosen: Mapping[str, Sequence[str]]) -> dict[str, float]:
    """The visitor's needs, summed over the options they chose."""
    profile: dict[str, float] = {}
    for question_key, option_keys in chosen.items():
        question = questionnaire.question(question_key)
        for option_key in option_keys:
            for need, weight in question.option(option_key).needs.items():
                profile[need.value] = profile.get(need.value, 0.0) + weight
    return profile
