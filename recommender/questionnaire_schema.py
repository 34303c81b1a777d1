"""The questionnaire's shape: questions, their options and the needs each option signals.

Editors can change the questionnaire, so everything it says is checked here before the
recommender reads it: keys are lowercase ASCII snake_case and unique, needs come only from
:class:`recommender.needs.Need`, weights lie in (0, 1], and an option that signals a need
carries a short sentence (``reason``) that explains a recommendation to the jobseeker.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from recommender.needs import Need

MIN_QUESTIONS = 8
MAX_QUESTIONS = 12
MIN_OPTIONS = 3
MAX_OPTIONS = 8
MAX_REASON_LENGTH = 120
KEY_PATTERN = r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$"

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300)]
Weight = Annotated[float, Field(gt=0.0, le=1.0, allow_inf_nan=False)]


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Option(_Frozen):
    """One answer; choosing it signals the given needs with the given weights."""

    key: Key
    label: Text
    needs: dict[Need, Weight] = Field(default_factory=dict)
    reason: Text | None = None

    @field_validator("needs", mode="before")
    @classmethod
    def _known_needs(cls, value: Any) -> Any:
        if isinstance(value, Mapping):
            known = {need.value for need in Need}
            unknown = [str(name) for name in value if str(name) not in known]
            if unknown:
                listed = ", ".join(repr(name) for name in unknown)
                raise ValueError(
                    f"unknown need {listed}; needs must come from recommender.needs.Need: "
                    + ", ".join(sorted(known))
                )
        return value

    @model_validator(mode="after")
    def _reason_explains_needs(self) -> Option:
        if self.needs:
            if not self.reason:
                raise ValueError(f"option {self.key!r} signals needs, so it needs a reason")
            if len(self.reason) > MAX_REASON_LENGTH:
                raise ValueError(
                    f"option {self.key!r}: reason is {len(self.reason)} characters long, "
                    f"at most {MAX_REASON_LENGTH} allowed"
                )
        return self


class Question(_Frozen):
    """A question with 3 to 8 options; ``multiple`` questions allow up to ``max_choices`` answers."""

    key: Key
    text: Text
    help: Text | None = None
    kind: Literal["single", "multiple"]
    required: bool = True
    max_choices: int | None = None
    options: tuple[Option, ...]

    @field_validator("options")
    @classmethod
    def _options_count_and_keys(cls, options: tuple[Option, ...]) -> tuple[Option, ...]:
        if not MIN_OPTIONS <= len(options) <= MAX_OPTIONS:
            raise ValueError(
                f"a question has {MIN_OPTIONS} to {MAX_OPTIONS} options, this one has {len(options)}"
            )
        duplicates = _duplicates(option.key for option in options)
        if duplicates:
            raise ValueError(f"duplicate option key {', '.join(map(repr, duplicates))}")
        return options

    @model_validator(mode="after")
    def _choice_rules(self) -> Question:
        if self.kind == "single":
            if self.max_choices is not None:
                raise ValueError(f"question {self.key!r} is single-choice, so it takes no max_choices")
        else:
            if self.max_choices is None:
                raise ValueError(f"question {self.key!r} is multiple-choice, so it needs max_choices")
            if not 2 <= self.max_choices <= len(self.options):
                raise ValueError(
                    f"question {self.key!r}: max_choices must be between 2 and the number of "
                    f"options ({len(self.options)}), not {self.max_choices}"
                )
        return self

    def option(self, key: str) -> Option:
        for option in self.options:
            if option.key == key:
                return option
        raise KeyError(f"question {self.key!r} has no option {key!r}")


class Questionnaire(_Frozen):
    """The whole questionnaire, 8 to 12 questions with unique keys."""

    version_label: Text
    questions: tuple[Question, ...]

    @field_validator("questions")
    @classmethod
    def _questions_count_and_keys(cls, questions: tuple[Question, ...]) -> tuple[Question, ...]:
        if not MIN_QUESTIONS <= len(questions) <= MAX_QUESTIONS:
            raise ValueError(
                f"a questionnaire has {MIN_QUESTIONS} to {MAX_QUESTIONS} questions, "
                f"this one has {len(questions)}"
            )
        duplicates = _duplicates(question.key for question in questions)
        if duplicates:
            raise ValueError(f"duplicate question key {', '.join(map(repr, duplicates))}")
        return questions

    def question(self, key: str) -> Question:
        for question in self.questions:
            if question.key == key:
                return question
        raise KeyError(f"no question {key!r}")

    def covered_needs(self) -> frozenset[Need]:
        """Every need that at least one option signals."""
        return frozenset(need for q in self.questions for option in q.options for need in option.needs)

    def uncovered_needs(self) -> list[Need]:
        """Needs no option signals (the recommender could never learn them from answers)."""
        covered = self.covered_needs()
        return [need for need in Need if need not in covered]


def _duplicates(keys: Any) -> list[str]:
    seen: set[str] = set()
    duplicates: list[str] = []
    for key in keys:
        if key in seen and key not in duplicates:
            duplicates.append(key)
        seen.add(key)
    return duplicates


def _reject_duplicate_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``json`` keeps the last of two equal members silently; a questionnaire refuses them."""
    result: dict[str, Any] = {}
    for name, value in pairs:
        if name in result:
            raise ValueError(f"duplicate JSON member {name!r}")
        result[name] = value
    return result


def parse_questionnaire(text: str) -> Questionnaire:
    """Validate a questionnaire given as JSON text."""
    data = json.loads(text, object_pairs_hook=_reject_duplicate_members)
    return Questionnaire.model_validate(data)


def load_questionnaire(path: str | Path) -> Questionnaire:
    """Validate the questionnaire in a JSON file."""
    return parse_questionnaire(Path(path).read_text(encoding="utf-8"))


@functools.cache
def load_default_questionnaire() -> Questionnaire:
    """The French questionnaire shipped with the demo data (validated once, then cached)."""
    source = resources.files("recommender").joinpath("data").joinpath("questionnaire.json")
    return parse_questionnaire(source.read_text(encoding="utf-8"))
