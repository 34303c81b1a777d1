"""Editors publishing new versions of the questionnaire over GraphQL, and what visitors then see."""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cms.accounts import create_user
from models.cms import AuditLogEntry
from models.enums import Role
from models.errors import BadUserInput
from models.recommender import QuestionnaireVersion, Recommendation
from recommender.needs import NEED_LABELS, Need
from recommender.questionnaire_schema import load_default_questionnaire
from recommender.questionnaires import ensure_default_questionnaire, publish_questionnaire
from tests.conftest import PASSWORD
from tests.factories import make_partner, make_service
from tests.recommender.test_serving import QUESTIONNAIRE, RECOMMEND, answer, required_answers

VERSION_FIELDS = """
version label createdAt createdBy uncoveredNeeds
questions {
  key text help multiple required maxChoices
  options { key label reason needs { need weight } }
}
"""
VERSION = f"query($v: Int!) {{ questionnaireVersion(version: $v) {{ {VERSION_FIELDS} }} }}"
VERSIONS = "{ questionnaireVersions { version createdBy } }"
PUBLISH = f"""
mutation($q: QuestionnaireInput!, $b: Int!) {{
  publishQuestionnaire(questionnaire: $q, basedOn: $b) {{ {VERSION_FIELDS} }}
}}
"""


def ok(response: Any, field: str) -> Any:
    assert response.status == 200, response.body
    assert not response.errors, response.errors
    return response.data[field]


def as_input(version: dict[str, Any]) -> dict[str, Any]:
    """A QuestionnaireVersionInfo read back as the QuestionnaireInput that would publish it again."""
    return {"label": version["label"], "questions": copy.deepcopy(version["questions"])}


def question(content: dict[str, Any], key: str) -> dict[str, Any]:
    return next(q for q in content["questions"] if q["key"] == key)


def option(content: dict[str, Any], question_key: str, key: str) -> dict[str, Any]:
    return next(o for o in question(content, question_key)["options"] if o["key"] == key)


async def version_one(editor: Any) -> dict[str, Any]:
    return ok(await editor.gql(VERSION, {"v": 1}), "questionnaireVersion")


async def test_an_editor_publishes_a_version_that_visitors_get_at_once(gql, sign_in):
    await make_service("seul")
    editor = await sign_in("editor")
    first = await version_one(editor)
    assert first["createdBy"] is None and first["uncoveredNeeds"] == []
    assert option(first, "freins", "peu_d_offres")["needs"] == [
        {"need": "NO_OFFERS", "weight": 1.0},
        {"need": "HIDDEN_MARKET", "weight": 0.6},
    ]
    content = as_input(first)
    content["label"] = "Questionnaire 2024"
    fewer_offers = option(content, "freins", "peu_d_offres")
    fewer_offers["label"] = "Je trouve trop peu d'offres"
    fewer_offers["needs"] = [{"need": "NO_OFFERS", "weight": 0.8}]
    question(content, "freins")["options"].append(
        {
            "key": "pas_de_permis",
            "label": "Je n'ai pas le permis de conduire",
            "needs": [{"need": "MOBILITY_LIMITS", "weight": 0.7}],
            "reason": "Vous n'avez pas le permis de conduire",
        }
    )
    situation = question(content, "situation")
    situation["options"] = [o for o in situation["options"] if o["key"] != "reprise_activite"]

    published = ok(await editor.gql(PUBLISH, {"q": content, "b": 1}), "publishQuestionnaire")

    assert published["version"] == 2 and published["label"] == "Questionnaire 2024"
    assert published["createdBy"] == editor.user.email
    assert option(published, "freins", "peu_d_offres")["needs"] == [{"need": "NO_OFFERS", "weight": 0.8}]
    assert as_input(published) == content
    public = ok(await gql(QUESTIONNAIRE), "questionnaire")
    assert public["version"] == 2 and public["label"] == "Questionnaire 2024"
    freins = next(q for q in public["questions"] if q["key"] == "freins")
    assert freins["options"][0] == {"key": "peu_d_offres", "label": "Je trouve trop peu d'offres"}
    assert freins["options"][-1] == {"key": "pas_de_permis", "label": "Je n'ai pas le permis de conduire"}
    listed = ok(await editor.gql(VERSIONS), "questionnaireVersions")
    assert listed == [{"version": 2, "createdBy": editor.user.email}, {"version": 1, "createdBy": None}]

    answers = answer(await required_answers(gql), "freins", "pas_de_permis")
    recommended = ok(await gql(RECOMMEND, {"answers": answers}), "recommend")
    assert recommended["questionnaireVersion"] == 2
    stored = await Recommendation.get(id=recommended["id"]).prefetch_related("questionnaire_version")
    assert stored.questionnaire_version.version == 2
    removed = await gql(RECOMMEND, {"answers": answer(answers, "situation", "reprise_activite")})
    assert removed.codes == ["BAD_USER_INPUT"]
    assert "reprise_activite" in removed.errors[0]["message"]


async def test_publishing_is_in_the_audit_log(sign_in):
    editor = await sign_in("editor")
    admin = await sign_in("admin")
    ok(await editor.gql(PUBLISH, {"q": as_input(await version_one(editor)), "b": 1}), "publishQuestionnaire")

    log = await admin.gql(
        '{ auditLog(objectType: "questionnaire_version") { action objectId data actor { email } } }'
    )

    row = await QuestionnaireVersion.get(version=2)
    assert ok(log, "auditLog") == [
        {
            "action": "questionnaire.published",
            "objectId": row.id,
            "data": {"version": 2, "based_on": 1},
            "actor": {"email": editor.user.email},
        }
    ]


async def test_admins_publish_too(sign_in):
    admin = await sign_in("admin")
    published = await admin.gql(PUBLISH, {"q": as_input(await version_one(admin)), "b": 1})
    assert ok(published, "publishQuestionnaire")["version"] == 2


async def test_only_editors_and_admins_see_or_publish_versions(gql, sign_in):
    editor = await sign_in("editor")
    content = as_input(await version_one(editor))
    await make_partner("coach-partenaire")
    partner = await sign_in("partner", partner_slug="coach-partenaire")
    developer = await sign_in("developer")
    reads = [(VERSION, {"v": 1}), (VERSIONS, None), ("{ needs { need } }", None)]

    for query, variables in [*reads, (PUBLISH, {"q": content, "b": 1})]:
        assert (await gql(query, variables)).codes == ["UNAUTHENTICATED"], query
        assert (await partner.gql(query, variables)).codes == ["FORBIDDEN"], query
        assert (await developer.gql(query, variables)).codes == ["FORBIDDEN"], query
    assert await QuestionnaireVersion.all().count() == 1
    assert not await AuditLogEntry.filter(action="questionnaire.published").exists()
    assert ok(await gql(QUESTIONNAIRE), "questionnaire")["version"] == 1


async def test_a_cookie_session_publishes_only_with_its_csrf_token(server, sign_in):
    content = as_input(await version_one(await sign_in("editor")))
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR)
    sign_in_cookie = """
    mutation { signIn(email: "claire@exemple.fr", password: "%s", kind: COOKIE) { csrfToken } }
    """
    async with httpx.AsyncClient(base_url=server) as browser:

        async def post(**headers: str) -> dict[str, Any]:
            body = {"query": PUBLISH, "variables": {"q": content, "b": 1}}
            return (await browser.post("/graphql", json=body, headers=headers)).json()

        signed = (await browser.post("/graphql", json={"query": sign_in_cookie % PASSWORD})).json()
        refused = await post()
        assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
        assert await QuestionnaireVersion.all().count() == 1
        accepted = await post(**{"x-csrf-token": signed["data"]["signIn"]["csrfToken"]})
        assert accepted["data"]["publishQuestionnaire"]["createdBy"] == "claire@exemple.fr"


def _set(path: list[Any], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(content: dict[str, Any]) -> None:
        node: Any = content
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value

    return change


def _duplicate_option_key(content: dict[str, Any]) -> None:
    options = content["questions"][2]["options"]
    options[1]["key"] = options[0]["key"]


def _duplicate_need(content: dict[str, Any]) -> None:
    content["questions"][2]["options"][0]["needs"].append({"need": "NO_OFFERS", "weight": 0.2})


def _two_problems(content: dict[str, Any]) -> None:
    content["label"] = "   "
    content["questions"][1]["options"][0]["key"] = "Moins de 26 ans"


FREINS_OFFRES = ["questions", 2, "options", 0]  # "freins" is multiple-choice, "peu_d_offres" its first option
INVALID = {
    "seven questions": (
        lambda c: c.update(questions=c["questions"][:7]),
        [(["questions"], "8 to 12 questions")],
    ),
    "a weight of 0": (
        _set([*FREINS_OFFRES, "needs", 1, "weight"], 0),
        [([*FREINS_OFFRES, "needs", 1, "weight"], "greater than 0")],
    ),
    "a weight of 1.5": (
        _set([*FREINS_OFFRES, "needs", 0, "weight"], 1.5),
        [([*FREINS_OFFRES, "needs", 0, "weight"], "at most 1")],
    ),
    "duplicate option keys": (
        _duplicate_option_key,
        [(["questions", 2, "options"], "duplicate option key 'peu_d_offres'")],
    ),
    "needs without a reason": (
        _set([*FREINS_OFFRES, "reason"], None),
        [(FREINS_OFFRES, "signals needs, so it needs a reason")],
    ),
    "a single question with maxChoices": (
        _set(["questions", 0, "maxChoices"], 2),
        [(["questions", 0], "single-choice, so it takes no max_choices")],
    ),
    "a multiple question without maxChoices": (
        _set(["questions", 2, "maxChoices"], None),
        [(["questions", 2], "multiple-choice, so it needs max_choices")],
    ),
    "a need twice in one option": (
        _duplicate_need,
        [([*FREINS_OFFRES, "needs", 2, "need"], "need NO_OFFERS is given twice in option 'peu_d_offres'")],
    ),
    "two problems at once": (
        _two_problems,
        [
            (["label"], "cannot be empty"),
            (["questions", 1, "options", 0, "key"], "lowercase ASCII snake_case"),
        ],
    ),
}


@pytest.mark.parametrize("case", INVALID)
async def test_an_invalid_questionnaire_is_refused_with_every_problem(gql, sign_in, case):
    editor = await sign_in("editor")
    content = as_input(await version_one(editor))
    assert question(content, "freins") is content["questions"][2]
    change, expected = INVALID[case]
    change(content)

    response = await editor.gql(PUBLISH, {"q": content, "b": 1})

    assert response.codes == ["BAD_USER_INPUT"], response.body
    assert response.data is None
    error = response.errors[0]
    assert error["message"].startswith("the questionnaire is not valid: ")
    problems = error["extensions"]["errors"]
    assert [p["path"] for p in problems] == [path for path, _ in expected]
    for problem, (_, words) in zip(problems, expected, strict=True):
        assert words in problem["message"], problem
    assert await QuestionnaireVersion.all().count() == 1
    assert ok(await gql(QUESTIONNAIRE), "questionnaire")["version"] == 1


async def test_a_questionnaire_leaving_needs_uncovered_is_published_and_says_so(sign_in):
    editor = await sign_in("editor")
    content = as_input(await version_one(editor))
    business = option(content, "situation", "creation_entreprise")
    business["needs"], business["reason"] = [], None

    published = ok(await editor.gql(PUBLISH, {"q": content, "b": 1}), "publishQuestionnaire")

    assert published["version"] == 2 and published["uncoveredNeeds"] == ["WANTS_BUSINESS"]


async def test_a_stale_based_on_is_refused(sign_in):
    editor = await sign_in("editor")
    content = as_input(await version_one(editor))
    ok(await editor.gql(PUBLISH, {"q": content, "b": 1}), "publishQuestionnaire")
    content["label"] = "Mes changements"

    for based_on in (1, 3, 0):
        stale = await editor.gql(PUBLISH, {"q": content, "b": based_on})
        assert stale.codes == ["BAD_USER_INPUT"], based_on
        assert stale.errors[0]["extensions"] == {
            "code": "BAD_USER_INPUT",
            "field": "basedOn",
            "latestVersion": 2,
        }
    assert await QuestionnaireVersion.all().count() == 2
    assert await AuditLogEntry.filter(action="questionnaire.published").count() == 1


async def test_two_editors_publishing_at_once_make_one_version(gql, sign_in):
    claire, malik = await sign_in("editor"), await sign_in("editor")
    content = as_input(await version_one(claire))
    for based_on in (1, 2, 3):
        content["label"] = f"Depuis la version {based_on}"
        responses = await asyncio.gather(
            claire.gql(PUBLISH, {"q": content, "b": based_on}),
            malik.gql(PUBLISH, {"q": content, "b": based_on}),
        )
        codes = sorted(str(r.codes) for r in responses)
        assert codes == ["['BAD_USER_INPUT']", "[]"], [r.body for r in responses]
        refused = next(r for r in responses if r.errors)
        assert refused.errors[0]["extensions"]["latestVersion"] == based_on + 1
    assert await QuestionnaireVersion.all().count() == 4
    assert await AuditLogEntry.filter(action="questionnaire.published").count() == 3
    assert ok(await gql(QUESTIONNAIRE), "questionnaire")["version"] == 4


async def test_publishing_at_once_refuses_all_but_one_in_the_domain(sign_in):
    editors = [(await sign_in("editor")).user for _ in range(4)]
    default = load_default_questionnaire()
    await ensure_default_questionnaire()

    results = await asyncio.gather(
        *(publish_questionnaire(default, editor, 1) for editor in editors), return_exceptions=True
    )

    published = [r for r in results if isinstance(r, QuestionnaireVersion)]
    refused = [r for r in results if isinstance(r, BadUserInput)]
    assert len(published) == 1 and len(refused) == 3, results
    assert all(r.extensions["latestVersion"] == 2 for r in refused)
    assert await QuestionnaireVersion.all().count() == 2


async def test_the_public_questionnaire_never_shows_needs(gql):
    response = await gql("{ questionnaire { questions { options { key needs { need } reason } } } }")
    assert response.status == 400 and response.data is None
    assert any("needs" in e["message"] for e in response.errors)
    assert any("reason" in e["message"] for e in response.errors)


async def test_editors_read_every_need_with_its_french_label(sign_in):
    editor = await sign_in("editor")
    needs = ok(await editor.gql("{ needs { need label } }"), "needs")
    assert [n["need"] for n in needs] == [need.name for need in Need]
    assert {"need": "NO_CV", "label": NEED_LABELS[Need.NO_CV]} in needs
    assert all(n["label"] for n in needs)


async def test_unknown_versions_and_oversized_pages_are_refused(sign_in):
    editor = await sign_in("editor")
    assert (await editor.gql(VERSION, {"v": 7})).codes == ["NOT_FOUND"]
    assert (await editor.gql("{ questionnaireVersions(first: 101) { version } }")).codes == ["BAD_USER_INPUT"]
