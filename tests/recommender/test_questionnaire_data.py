"""The default French questionnaire validates, covers every need, and broken copies are refused."""

from __future__ import annotations

import copy
import json
import re
from importlib import resources
from typing import Any

import pytest
from pydantic import ValidationError

from recommender.needs import Need
from recommender.questionnaire_schema import (
    MAX_REASON_LENGTH,
    Questionnaire,
    load_default_questionnaire,
    parse_questionnaire,
)

SNAKE_CASE = re.compile(r"^[a-z][a-z0-9]*(?:_[a-z0-9]+)*$")


def raw() -> dict[str, Any]:
    text = resources.files("recommender").joinpath("data").joinpath("questionnaire.json").read_text("utf-8")
    data: dict[str, Any] = json.loads(text)
    return data


def refused(data: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        Questionnaire.model_validate(data)
    return str(caught.value)


def test_shipped_questionnaire_validates() -> None:
    questionnaire = load_default_questionnaire()
    assert questionnaire.version_label == "Questionnaire par défaut 2017"
    assert len(questionnaire.questions) == 10
    assert questionnaire.questions[0].key == "situation"
    for question in questionnaire.questions:
        assert SNAKE_CASE.match(question.key)
        assert 3 <= len(question.options) <= 8
        if question.kind == "multiple":
            assert question.max_choices is not None and question.max_choices >= 2
        for option in question.options:
            assert SNAKE_CASE.match(option.key)
            for weight in option.needs.values():
                assert 0.2 <= weight <= 1.0
            if option.needs:
                assert option.reason is not None and len(option.reason) <= MAX_REASON_LENGTH
                assert option.reason.startswith(("Vous", "Vos")), option.reason


def test_every_need_is_signalled_by_an_option() -> None:
    questionnaire = load_default_questionnaire()
    assert questionnaire.uncovered_needs() == []
    assert questionnaire.covered_needs() == frozenset(Need)


def test_wording_uses_vous_not_tu() -> None:
    words = set()
    for question in load_default_questionnaire().questions:
        texts = [question.text, question.help or ""]
        texts += [text for option in question.options for text in (option.label, option.reason or "")]
        for text in texts:
            words.update(re.findall(r"[\w']+", text.lower()))
    assert not words & {"tu", "te", "toi", "ton", "ta", "tes", "t'as", "es-tu"}


def test_the_topics_the_brief_asks_for_are_there() -> None:
    questionnaire = load_default_questionnaire()
    freins = questionnaire.question("freins")
    assert freins.kind == "multiple"
    handicap = questionnaire.question("handicap")
    assert handicap.required is False
    assert handicap.option("ne_souhaite_pas_repondre").label == "Je préfère ne pas répondre"
    assert handicap.option("ne_souhaite_pas_repondre").needs == {}
    age = questionnaire.question("age")
    assert Need.YOUNG in age.option("moins_de_26_ans").needs
    assert Need.SENIOR in age.option("a_partir_de_50_ans").needs


def test_unknown_need_is_refused() -> None:
    data = raw()
    data["questions"][0]["options"][0]["needs"]["wants_a_unicorn"] = 0.5
    message = refused(data)
    assert "unknown need 'wants_a_unicorn'" in message
    assert "questions.0.options.0.needs" in message


def test_duplicate_question_key_is_refused() -> None:
    data = raw()
    data["questions"][1]["key"] = data["questions"][0]["key"]
    assert "duplicate question key 'situation'" in refused(data)


def test_duplicate_option_key_is_refused() -> None:
    data = raw()
    options = data["questions"][2]["options"]
    options[1]["key"] = options[0]["key"]
    assert f"duplicate option key {options[0]['key']!r}" in refused(data)


def test_thirteen_questions_are_refused() -> None:
    data = raw()
    extra = []
    for number in range(13 - len(data["questions"])):
        question = copy.deepcopy(data["questions"][0])
        question["key"] = f"question_en_plus_{number}"
        extra.append(question)
    data["questions"] += extra
    assert len(data["questions"]) == 13
    assert "a questionnaire has 8 to 12 questions, this one has 13" in refused(data)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["questions"][0]["options"][0]["needs"].update(no_offers=0), "greater than 0"),
        (lambda d: d["questions"][0]["options"][0]["needs"].update(no_offers=1.5), "less than or equal to 1"),
        (lambda d: d["questions"][0]["options"][0].pop("reason"), "signals needs, so it needs a reason"),
        (lambda d: d["questions"][0]["options"][0].update(reason="Vous " + "x" * 120), "at most 120"),
        (lambda d: d["questions"][0].update(max_choices=2), "single-choice, so it takes no max_choices"),
        (lambda d: d["questions"][2].pop("max_choices"), "multiple-choice, so it needs max_choices"),
        (lambda d: d["questions"][2].update(max_choices=1), "max_choices must be between 2"),
        (lambda d: d["questions"][1]["options"].pop(), "3 to 8 options, this one has 2"),
        (lambda d: d["questions"][0].update(key="Situation"), "should match pattern"),
        (lambda d: d["questions"][0].update(kind="ranking"), "'single' or 'multiple'"),
        (lambda d: d["questions"][0].update(colour="blue"), "Extra inputs are not permitted"),
    ],
)
def test_other_broken_copies_are_refused(change: Any, expected: str) -> None:
    data = raw()
    change(data)
    assert expected in refused(data)


def test_duplicate_json_members_are_refused() -> None:
    text = json.dumps(raw(), ensure_ascii=False)
    text = text.replace('"key": "situation",', '"key": "situation", "key": "age",', 1)
    with pytest.raises(ValueError, match="duplicate JSON member 'key'"):
        parse_questionnaire(text)
