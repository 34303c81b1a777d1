"""Rating a service: one rating per voter, a summary that always matches the ratings."""

from __future__ import annotations

import asyncio

import httpx

from models.catalogue import Service
from models.enums import ServiceStatus
from models.ratings import Rating
from tests.factories import make_service

RATE = """
mutation($slug: String!, $stars: Int!, $comment: String) {
  rateService(serviceSlug: $slug, stars: $stars, comment: $comment) {
    replaced
    rating { stars comment }
    service { slug rating { count average distribution { stars count } } }
  }
}
"""


async def rate(
    client: httpx.AsyncClient, slug: str, stars: int, comment: str | None = None, token: str | None = None
):
    headers = {"x-visitor-token": token} if token else {}
    response = await client.post(
        "/graphql",
        json={"query": RATE, "variables": {"slug": slug, "stars": stars, "comment": comment}},
        headers=headers,
    )
    return response


def codes(response: httpx.Response) -> list[str]:
    return [e["extensions"]["code"] for e in response.json().get("errors", [])]


async def test_first_rating_issues_a_visitor_token_and_updates_the_summary(client):
    await make_service("bob")

    response = await rate(client, "bob", 4, "  Très utile pour préparer mes entretiens.  ")

    payload = response.json()["data"]["rateService"]
    assert payload["replaced"] is False
    assert payload["rating"] == {"stars": 4, "comment": "Très utile pour préparer mes entretiens."}
    assert payload["service"]["rating"]["count"] == 1
    assert payload["service"]["rating"]["average"] == 4.0
    assert response.headers["x-visitor-token"]
    assert "HttpOnly" in response.headers["set-cookie"]


async def test_rating_again_replaces_the_earlier_rating(client):
    await make_service("bob")
    first = await rate(client, "bob", 2)
    token = first.headers["x-visitor-token"]

    again = await rate(client, "bob", 5, token=token)

    payload = again.json()["data"]["rateService"]
    assert payload["replaced"] is True
    assert payload["service"]["rating"]["count"] == 1
    assert payload["service"]["rating"]["average"] == 5.0
    assert [b["count"] for b in payload["service"]["rating"]["distribution"]] == [0, 0, 0, 0, 1]
    assert "x-visitor-token" not in again.headers  # the known visitor keeps its token
    assert await Rating.filter(service__slug="bob").count() == 1


async def test_the_cookie_identifies_the_voter_too(server, db):
    await make_service("bob")
    async with httpx.AsyncClient(base_url=server) as browser:
        await rate(browser, "bob", 1)
        second = await rate(browser, "bob", 3)  # the cookie jar sends es_visitor back
    assert second.json()["data"]["rateService"]["replaced"] is True


async def test_summary_counts_every_voter(client):
    await make_service("memo")
    for stars in (5, 4, 4, 1):
        await rate(client, "memo", stars)  # no token: a new visitor each time

    service = await Service.get(slug="memo")
    assert service.rating_count == 4
    assert service.rating_average == 3.5
    assert service.rating_distribution == [1, 0, 0, 2, 1]


async def test_concurrent_ratings_keep_the_summary_consistent(client):
    await make_service("seekube")
    tokens = [(await rate(client, "seekube", 3)).headers["x-visitor-token"] for _ in range(6)]

    # 6 known voters re-rate and 24 new voters rate, all at once.
    jobs = [rate(client, "seekube", 1 + i % 5, token=token) for i, token in enumerate(tokens)]
    jobs += [rate(client, "seekube", 1 + i % 5) for i in range(24)]
    responses = await asyncio.gather(*jobs)

    assert all(r.status_code == 200 and "errors" not in r.json() for r in responses)
    stars = await Rating.filter(service__slug="seekube").values_list("stars", flat=True)
    service = await Service.get(slug="seekube")
    assert len(stars) == 30
    assert service.rating_count == 30
    assert service.rating_distribution == [stars.count(s) for s in range(1, 6)]
    assert abs(service.rating_average - sum(stars) / 30) < 1e-3


async def test_stars_outside_one_to_five_are_refused_and_nothing_written(client):
    await make_service("bob")
    for stars in (0, 6, -3, 100):
        response = await rate(client, "bob", stars)
        assert codes(response) == ["BAD_USER_INPUT"]
        assert response.json()["data"] is None
    assert await Rating.all().count() == 0
    assert (await Service.get(slug="bob")).rating_count == 0


async def test_stars_that_are_not_integers_fail_validation(client):
    await make_service("bob")
    response = await client.post("/graphql", json={"query": RATE, "variables": {"slug": "bob", "stars": 4.5}})
    assert response.status_code == 400
    assert await Rating.all().count() == 0


async def test_bad_comments_are_refused(client):
    await make_service("bob")
    too_long = await rate(client, "bob", 4, "x" * 1001)
    control = await rate(client, "bob", 4, "bonjour\x00")
    assert codes(too_long) == ["BAD_USER_INPUT"]
    assert codes(control) == ["BAD_USER_INPUT"]
    assert await Rating.all().count() == 0


async def test_rating_an_unknown_or_unpublished_service_is_not_found(client):
    await make_service("brouillon", status=ServiceStatus.DRAFT)
    for slug in ("inconnu", "brouillon"):
        response = await rate(client, slug, 4)
        assert codes(response) == ["NOT_FOUND"]
    assert await Rating.all().count() == 0


async def test_a_forged_visitor_token_is_refused(client):
    await make_service("bob")
    genuine = (await rate(client, "bob", 4)).headers["x-visitor-token"]
    forged = genuine.split(".")[0] + ".signature-inventee"

    response = await rate(client, "bob", 1, token=forged)

    assert codes(response) == ["UNAUTHENTICATED"]
    assert (await Service.get(slug="bob")).rating_count == 1
