"""The questionnaire and `recommend` over GraphQL, with the content scorer (no model trained yet)."""

from __future__ import annotations

from models.enums import ServiceStatus
from models.events import RedirectEvent
from models.recommender import Recommendation, RecommendationItem
from tests.factories import make_service

QUESTIONNAIRE = (
    "{ questionnaire { version label questions { key required multiple maxChoices options { key label } } } }"
)
RECOMMEND = """
mutation($answers: [Answer!]!) {
  recommend(answers: $answers) {
    id questionnaireVersion modelVersion
    items { rank score reason service { slug } }
  }
}
"""


async def required_answers(gql) -> list[dict]:
    questions = (await gql(QUESTIONNAIRE)).data["questionnaire"]["questions"]
    return [{"question": q["key"], "options": [q["options"][0]["key"]]} for q in questions if q["required"]]


def answer(answers: list[dict], question: str, *options: str) -> list[dict]:
    return [a for a in answers if a["question"] != question] + [
        {"question": question, "options": list(options)}
    ]


async def catalogue() -> None:
    await make_service("simulateur", categories=["preparer-sa-candidature"], tags=["entretien"])
    await make_service("cv-facile", categories=["preparer-sa-candidature"], tags=["cv"])
    await make_service("partir-au-canada", categories=["travailler-a-l-etranger"], tags=["international"])
    await make_service("creer-sa-boite", categories=["creer-une-entreprise"], tags=["creation-entreprise"])
    for n in range(10):
        await make_service(f"offres-{n}", categories=["trouver-un-emploi"], tags=["offres"])
    await make_service(
        "brouillon-entretien",
        categories=["preparer-sa-candidature"],
        tags=["entretien"],
        status=ServiceStatus.DRAFT,
    )
    await make_service(
        "payant-entretien", categories=["preparer-sa-candidature"], tags=["entretien"], free=False
    )


async def test_the_questionnaire_is_the_french_default(gql):
    questionnaire = (await gql(QUESTIONNAIRE)).data["questionnaire"]
    assert questionnaire["version"] == 1
    assert 8 <= len(questionnaire["questions"]) <= 12
    assert all(q["options"] for q in questionnaire["questions"])


async def test_recommend_returns_ten_distinct_published_services_with_reasons(gql):
    await catalogue()
    answers = answer(await required_answers(gql), "freins", "entretiens_sans_suite")
    answers = answer(answers, "candidatures", "entretien_a_preparer")

    response = await gql(RECOMMEND, {"answers": answers})

    recommendation = response.data["recommend"]
    slugs = [item["service"]["slug"] for item in recommendation["items"]]
    assert len(slugs) == 10 and len(set(slugs)) == 10
    assert "brouillon-entretien" not in slugs and "payant-entretien" not in slugs
    assert slugs[0] == "simulateur"
    assert recommendation["items"][0]["reason"].startswith(("Vous", "Vos"))
    assert [i["rank"] for i in recommendation["items"]] == list(range(1, 11))
    assert recommendation["modelVersion"] == "content-v1" and recommendation["questionnaireVersion"] == 1
    stored = await Recommendation.get(id=recommendation["id"])
    assert await RecommendationItem.filter(recommendation_id=stored.id).count() == 10


async def test_answers_change_the_recommendation(gql):
    await catalogue()
    abroad = answer(await required_answers(gql), "mobilite", "etranger")
    abroad = answer(abroad, "langues", "pour_l_etranger")
    abroad = answer(abroad, "freins", "manque_de_reseau")
    response = await gql(RECOMMEND, {"answers": abroad})
    assert response.data["recommend"]["items"][0]["service"]["slug"] == "partir-au-canada"


async def test_fewer_services_than_ten_gives_fewer(gql):
    await make_service("seul")
    response = await gql(RECOMMEND, {"answers": await required_answers(gql)})
    assert [i["service"]["slug"] for i in response.data["recommend"]["items"]] == ["seul"]


async def test_a_redirect_from_a_recommendation_is_tied_to_it(gql, client):
    await catalogue()
    recommendation = (await gql(RECOMMEND, {"answers": await required_answers(gql)})).data["recommend"]
    first = recommendation["items"][0]["service"]["slug"]
    await client.get(f"/go/{first}/web?from={recommendation['id']}")
    event = await RedirectEvent.get(service__slug=first)
    assert event.source_ref == recommendation["id"]


async def test_bad_answers_are_refused_and_nothing_is_stored(gql):
    await catalogue()
    good = await required_answers(gql)
    questions = (await gql(QUESTIONNAIRE)).data["questionnaire"]["questions"]
    single = next(q for q in questions if not q["multiple"])
    cases = [
        [*good, {"question": "inconnue", "options": ["x"]}],
        answer(good, single["key"], "option_inconnue"),
        answer(good, single["key"], single["options"][0]["key"], single["options"][1]["key"]),
        good[1:],
        good + good[:1],
        [{"question": f"q{n}", "options": ["a"]} for n in range(41)],
    ]
    for answers in cases:
        response = await gql(RECOMMEND, {"answers": answers})
        assert response.codes == ["BAD_USER_INPUT"], answers
    assert await Recommendation.all().count() == 0
