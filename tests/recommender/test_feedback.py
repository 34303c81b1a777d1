"""Feedback read back for training: per recommendation, what was shown, clicked and rated."""

from __future__ import annotations

import copy

import numpy as np

from models.catalogue import Service
from models.recommender import QuestionnaireVersion, Recommendation
from recommender.features import FeatureSpec, encode_answers
from recommender.feedback import load_feedback
from recommender.questionnaire_schema import Questionnaire
from tests.conftest import GraphQLClient
from tests.factories import make_service
from tests.recommender.test_serving import RECOMMEND, answer, required_answers

RATE = """
mutation($slug: String!, $stars: Int!) {
  rateService(serviceSlug: $slug, stars: $stars) { rating { stars } }
}
"""
TOKEN = "X-Visitor-Token"


async def catalogue(size: int) -> list[str]:
    slugs = [f"service-{n:02d}" for n in range(size)]
    for n, slug in enumerate(slugs):
        category = ("preparer-sa-candidature", "trouver-un-emploi", "choisir-un-metier")[n % 3]
        await make_service(slug, categories=[category], tags=["entretien" if n % 2 else "offres"])
    return slugs


async def catalogue_rows() -> tuple[FeatureSpec, dict[int, int], dict[str, int]]:
    """The spec, service id → row and slug → row of the catalogue as training reads it."""
    services = await Service.all().order_by("id").values_list("id", "slug")
    spec = FeatureSpec(slugs=tuple(slug for _, slug in services))
    rows = {service_id: row for row, (service_id, _) in enumerate(services)}
    return spec, rows, {slug: row for row, (_, slug) in enumerate(services)}


async def new_visitor(gql: GraphQLClient, answers: list[dict]) -> tuple[GraphQLClient, str, dict]:
    """A first recommendation for a new visitor, and their client sending back the token issued."""
    response = await gql(RECOMMEND, {"answers": answers})
    assert not response.errors, response.errors
    token = response.headers[TOKEN]
    return GraphQLClient(gql.http, {TOKEN: token}), token, response.data["recommend"]


async def recommend(client: GraphQLClient, answers: list[dict]) -> dict:
    response = await client(RECOMMEND, {"answers": answers})
    assert not response.errors, response.errors
    return response.data["recommend"]


async def rate(client: GraphQLClient, slug: str, stars: int) -> None:
    response = await client(RATE, {"slug": slug, "stars": stars})
    assert response.data["rateService"]["rating"]["stars"] == stars, response.errors


async def follow(http, slug: str, token: str, origin: str | None) -> None:
    params = {"from": origin} if origin else {}
    response = await http.get(
        f"/go/{slug}/web", params=params, headers={TOKEN: token}, follow_redirects=False
    )
    assert response.status_code == 302
    assert response.headers["location"] == f"https://{slug}.example.org/"


def shown(recommendation: dict) -> list[str]:
    return [item["service"]["slug"] for item in recommendation["items"]]


async def test_clicks_and_ratings_join_the_recommendation_that_showed_them(gql, client):
    slugs = await catalogue(11)
    answers = await required_answers(gql)
    visitor, token, earlier = await new_visitor(gql, answers)
    for slug in slugs:  # ratings given before a recommendation are not reactions to it
        await rate(visitor, slug, 3)
    mine = await recommend(visitor, answers)
    other_visitor, _, theirs = await new_visitor(gql, answers)
    ranked = shown(mine)
    assert len(ranked) == 10
    visitors = [(await Recommendation.get(id=r["id"])).visitor for r in (earlier, mine, theirs)]
    assert visitors[0] == visitors[1] != visitors[2]  # the token sent back keeps the visitor
    (unshown,) = set(slugs) - set(ranked)

    await follow(client, ranked[1], token, mine["id"])
    await follow(client, ranked[4], token, mine["id"])
    await follow(client, ranked[2], token, "rec_0123456789abcdef01234567")  # no such recommendation
    await follow(client, ranked[3], token, theirs["id"])  # counts for theirs, not mine
    await follow(client, ranked[5], token, "catalogue")
    await follow(client, ranked[6], token, None)
    await follow(client, unshown, token, mine["id"])  # not in that recommendation: not its click
    await rate(visitor, ranked[1], 5)
    await rate(visitor, ranked[6], 1)
    await rate(visitor, unshown, 4)  # never shown to them: not a reaction to the recommendation
    await rate(other_visitor, ranked[7], 5)  # someone else's opinion

    spec, rows, row_of = await catalogue_rows()
    sessions = await load_feedback(spec, rows)

    assert len(sessions) == 3  # newest first
    theirs_session, mine_session, earlier_session = sessions
    assert mine_session.shown == tuple(row_of[slug] for slug in ranked)
    assert mine_session.ranks == tuple(range(1, 11))
    assert mine_session.clicked == {row_of[ranked[1]], row_of[ranked[4]]}
    assert dict(mine_session.ratings) == {row_of[ranked[1]]: 5, row_of[ranked[6]]: 1}
    their_ranked = shown(theirs)
    assert theirs_session.shown == tuple(row_of[slug] for slug in their_ranked)
    assert theirs_session.clicked == ({row_of[ranked[3]]} if ranked[3] in their_ranked else set())
    assert dict(theirs_session.ratings) == ({row_of[ranked[7]]: 5} if ranked[7] in their_ranked else {})
    # Everything the visitor rated after the earlier recommendation counts for it, as rated now.
    final = {slug: 3 for slug in slugs} | {ranked[1]: 5, ranked[6]: 1, unshown: 4}
    assert dict(earlier_session.ratings) == {row_of[slug]: final[slug] for slug in shown(earlier)}
    assert earlier_session.clicked == set()
    stored = await Recommendation.get(id=mine["id"])
    v1 = Questionnaire.model_validate((await QuestionnaireVersion.get(version=1)).content)
    np.testing.assert_array_equal(mine_session.answers.needs, encode_answers(spec, v1, stored.answers).needs)


def option(content: dict, question: str, key: str) -> dict:
    (found,) = [
        o for q in content["questions"] if q["key"] == question for o in q["options"] if o["key"] == key
    ]
    return found


async def test_answers_are_read_with_the_questionnaire_version_they_answered(gql):
    await catalogue(11)
    answers = answer(await required_answers(gql), "freins", "entretiens_sans_suite")
    before = await recommend(gql, answer(answers, "candidatures", "pas_encore_commence"))
    assert before["questionnaireVersion"] == 1
    first = await QuestionnaireVersion.get(version=1)
    content = copy.deepcopy(first.content)
    # Version 2 gives an option another meaning and drops one that version 1 had.
    option(content, "freins", "entretiens_sans_suite")["needs"] = {"lacks_network": 1.0}
    (candidatures,) = [q for q in content["questions"] if q["key"] == "candidatures"]
    candidatures["options"] = [o for o in candidatures["options"] if o["key"] != "pas_encore_commence"]
    v1, v2 = Questionnaire.model_validate(first.content), Questionnaire.model_validate(content)
    await QuestionnaireVersion.create(version=2, content=v2.model_dump(mode="json"))
    after = await recommend(gql, answer(answers, "candidatures", "entretien_a_preparer"))
    assert after["questionnaireVersion"] == 2

    spec, rows, _ = await catalogue_rows()
    sessions = await load_feedback(spec, rows)

    assert len(sessions) == 2
    newer, older = sessions  # newest first
    newer_answers = (await Recommendation.get(id=after["id"])).answers
    older_answers = (await Recommendation.get(id=before["id"])).answers
    np.testing.assert_array_equal(older.answers.needs, encode_answers(spec, v1, older_answers).needs)
    np.testing.assert_array_equal(newer.answers.needs, encode_answers(spec, v2, newer_answers).needs)
    lacks_network = spec.needs.index("lacks_network")
    preparing_interview = spec.needs.index("preparing_interview")
    assert older.answers.needs[preparing_interview] > 0 and older.answers.needs[lacks_network] == 0
    assert newer.answers.needs[lacks_network] > 0


async def test_a_shown_service_gone_from_the_catalogue_is_dropped_and_other_ranks_stay(gql, client):
    await catalogue(12)
    visitor, token, recommendation = await new_visitor(gql, await required_answers(gql))
    ranked = shown(recommendation)
    await follow(client, ranked[1], token, recommendation["id"])
    await rate(visitor, ranked[7], 5)

    await (await Service.get(slug=ranked[2])).delete()  # deleted since
    spec, rows, row_of = await catalogue_rows()
    gone = await Service.get(slug=ranked[5])
    del rows[gone.id]  # e.g. unpublished since: not in the catalogue being trained on

    (session,) = await load_feedback(spec, rows)

    kept = [rank for rank in range(1, 11) if rank not in (3, 6)]
    assert session.ranks == tuple(kept)
    assert session.shown == tuple(row_of[ranked[rank - 1]] for rank in kept)
    assert session.clicked == {row_of[ranked[1]]}
    assert dict(session.ratings) == {row_of[ranked[7]]: 5}
