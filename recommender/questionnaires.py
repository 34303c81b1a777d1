"""The questionnaire in force, its versions, editors publishing new ones, and checking a visitor's
answers against the one in force."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from cms import audit
from models.accounts import User
from models.errors import BadUserInput, NotFound
from models.recommender import QuestionnaireVersion
from recommender.questionnaire_schema import Questionnaire, load_default_questionnaire

MAX_ANSWERS = 40
MAX_VERSIONS_PAGE = 100
MAX_PROBLEMS = 50  # listed in a refusal; a huge input should not make a huge answer
OBJECT_TYPE = "questionnaire_version"
# Problems are reported with the names editors send (the GraphQL input), not the stored ones.
EDITOR_NAMES = {"version_label": "label", "kind": "multiple", "max_choices": "maxChoices"}
FRIENDLIER_MESSAGES = {
    "string_pattern_mismatch": "a key is lowercase ASCII snake_case starting with a letter (e.g. peu_d_offres)",
    "string_too_short": "cannot be empty",
    "greater_than": "a weight is greater than 0 (leave the need out instead)",
    "less_than_equal": "a weight is at most 1",
}


@dataclass(frozen=True)
class CurrentQuestionnaire:
    version: int
    questionnaire: Questionnaire
    row: QuestionnaireVersion


async def _latest() -> QuestionnaireVersion | None:
    return await QuestionnaireVersion.all().order_by("-version").first()


async def ensure_default_questionnaire() -> QuestionnaireVersion:
    """Version 1 is the shipped default; created once, never overwritten. Returns the latest version."""
    latest = await _latest()
    if latest is not None:
        return latest
    default = load_default_questionnaire()
    try:
        return await QuestionnaireVersion.create(version=1, content=default.model_dump(mode="json"))
    except IntegrityError:
        # Two first requests raced to create it; the other one's row is as good.
        latest = await _latest()
        if latest is None:
            raise
        return latest


# A version never changes once written, so each is validated once per process (keyed by row
# and creation time, which a new row never shares with an old one).
_validated: dict[tuple[int, Any], Questionnaire] = {}


def content_of(row: QuestionnaireVersion) -> Questionnaire:
    key = (row.id, row.created_at)
    questionnaire = _validated.get(key)
    if questionnaire is None:
        questionnaire = Questionnaire.model_validate(row.content)
        if len(_validated) >= 64:
            _validated.clear()
        _validated[key] = questionnaire
    return questionnaire


async def current_questionnaire() -> CurrentQuestionnaire:
    row = await ensure_default_questionnaire()
    return CurrentQuestionnaire(version=row.version, questionnaire=content_of(row), row=row)


async def questionnaire_versions(first: int = MAX_VERSIONS_PAGE) -> list[QuestionnaireVersion]:
    """Every version, newest first (the first one is in force)."""
    if not 0 <= first <= MAX_VERSIONS_PAGE:
        raise BadUserInput(f"first must lie between 0 and {MAX_VERSIONS_PAGE}", field="first")
    await ensure_default_questionnaire()
    return await QuestionnaireVersion.all().order_by("-version").limit(first)


async def questionnaire_version(version: int) -> QuestionnaireVersion:
    await ensure_default_questionnaire()
    row = await QuestionnaireVersion.get_or_none(version=version)
    if row is None:
        raise NotFound(f"no questionnaire version {version}", version=version)
    return row


def refusal(problems: Sequence[Mapping[str, Any]]) -> BadUserInput:
    """One BAD_USER_INPUT listing the problems found, each `{path, message}`; the first one is quoted."""
    first = problems[0]
    where = ".".join(str(part) for part in first["path"]) or "questionnaire"
    more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
    return BadUserInput(
        f"the questionnaire is not valid: {where}: {first['message']}{more}",
        field="questionnaire",
        errors=[{"path": list(p["path"]), "message": p["message"]} for p in problems[:MAX_PROBLEMS]],
    )


def _editor_path(loc: Sequence[int | str], content: Any) -> list[int | str]:
    """Pydantic's location, in the editor's names; a need's weight is found by its place in the list."""
    path: list[int | str] = []
    node = content
    parts = list(loc)
    while parts:
        part = parts.pop(0)
        needs = node.get("needs") if isinstance(node, Mapping) else None
        if part == "needs" and parts and isinstance(needs, Mapping):
            names = [str(name) for name in needs]
            need = str(parts.pop(0))
            path += ["needs", names.index(need), "weight"] if need in names else ["needs", need]
            break
        path.append(EDITOR_NAMES.get(part, part) if isinstance(part, str) else part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return path


def _message(error: Any) -> str:
    friendlier = FRIENDLIER_MESSAGES.get(error["type"])
    if friendlier:
        return friendlier
    return str(error["msg"]).removeprefix("Value error, ")


def validate_questionnaire(content: Mapping[str, Any]) -> Questionnaire:
    """The questionnaire an editor wrote, checked; every problem is reported at once."""
    try:
        return Questionnaire.model_validate(content)
    except ValidationError as exc:
        problems = [
            {"path": _editor_path(error["loc"], content), "message": _message(error)}
            for error in exc.errors()
        ]
        raise refusal(problems) from exc


def _stale(based_on: int, latest: int) -> BadUserInput:
    return BadUserInput(
        f"version {latest} is the latest, not {based_on}: start again from version {latest} "
        "so that no one's changes are lost",
        field="basedOn",
        latestVersion=latest,
    )


async def publish_questionnaire(content: Questionnaire, actor: User, based_on: int) -> QuestionnaireVersion:
    """A new version, in force at once. `based_on` is the version the editor started from: unless it is
    still the latest, someone else published meanwhile and this is refused (nothing is written)."""
    await ensure_default_questionnaire()
    try:
        async with in_transaction():
            latest = await _latest()
            assert latest is not None
            if based_on != latest.version:
                raise _stale(based_on, latest.version)
            row = await QuestionnaireVersion.create(
                version=latest.version + 1, content=content.model_dump(mode="json"), created_by=actor
            )
            await audit.record(
                actor, "questionnaire.published", OBJECT_TYPE, row.id, version=row.version, based_on=based_on
            )
    except IntegrityError:
        # Another editor published from the same version between our read and our write.
        latest = await _latest()
        if latest is None or latest.version == based_on:
            raise
        raise _stale(based_on, latest.version) from None
    return row


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
