"""The catalogue as a frontend sees it through GraphQL."""

from __future__ import annotations

import base64
import json

from models.enums import PartnerKind, Platform, ServiceKind, ServiceStatus
from tests.factories import make_partner, make_public_employment_service, make_service

SERVICES_PAGE = """
query($filter: ServiceFilter, $orderBy: ServiceOrder!, $first: Int, $after: String) {
  services(filter: $filter, orderBy: $orderBy, first: $first, after: $after) {
    totalCount
    edges { cursor node { slug } }
    pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
  }
}
"""


async def slugs(gql, order="NAME", **filter_):
    response = await gql(SERVICES_PAGE, {"filter": filter_ or None, "orderBy": order, "first": 100})
    assert not response.errors, response.errors
    return [edge["node"]["slug"] for edge in response.data["services"]["edges"]]


async def test_categories_are_the_six_in_order_with_published_counts(gql):
    await make_service("a", categories=["trouver-un-emploi", "preparer-sa-candidature"])
    await make_service("b", categories=["trouver-un-emploi"])
    await make_service("brouillon", categories=["trouver-un-emploi"], status=ServiceStatus.DRAFT)
    await make_service("payant", categories=["trouver-un-emploi"], free=False)

    response = await gql("{ categories { slug name position serviceCount } }")

    assert [c["name"] for c in response.data["categories"]] == [
        "Choisir un métier",
        "Trouver une formation",
        "Préparer sa candidature",
        "Trouver un emploi",
        "Créer une entreprise",
        "Travailler à l'étranger",
    ]
    counts = {c["slug"]: c["serviceCount"] for c in response.data["categories"]}
    assert counts["trouver-un-emploi"] == 2
    assert counts["preparer-sa-candidature"] == 1
    assert counts["creer-une-entreprise"] == 0


async def test_category_by_slug_lists_its_services(gql):
    await make_service("dans-la-categorie", categories=["creer-une-entreprise"])
    await make_service("ailleurs", categories=["trouver-un-emploi"])

    response = await gql(
        '{ category(slug: "creer-une-entreprise") { name services { totalCount nodes { slug } } } }'
    )

    assert response.data["category"]["name"] == "Créer une entreprise"
    assert response.data["category"]["services"]["totalCount"] == 1
    assert response.data["category"]["services"]["nodes"] == [{"slug": "dans-la-categorie"}]


async def test_unknown_category_is_not_found(gql):
    response = await gql('{ category(slug: "nulle-part") { name } }')
    assert response.data == {"category": None}
    assert response.codes == ["NOT_FOUND"]


async def test_service_detail_carries_links_categories_provider_and_rating(gql):
    public = await make_public_employment_service()
    await make_service(
        "la-bonne-boite",
        name="La Bonne Boîte",
        categories=["trouver-un-emploi", "preparer-sa-candidature"],
        kind=ServiceKind.COMPANY_SEARCH,
        provider=public,
        links={
            Platform.WEB: "https://labonneboite.example.fr/",
            Platform.GOOGLE_PLAY: "https://play.example/lbb",
        },
        tags=["entreprises", "candidature-spontanee"],
    )

    response = await gql(
        """{ service(slug: "la-bonne-boite") {
              name kind tags free
              categories { slug }
              provider { slug isPublicEmploymentService }
              links { platform url redirectUrl }
              rating { count average distribution { stars count } }
        } }"""
    )

    service = response.data["service"]
    assert service["name"] == "La Bonne Boîte"
    assert service["kind"] == "COMPANY_SEARCH"
    assert service["tags"] == ["entreprises", "candidature-spontanee"]
    assert [c["slug"] for c in service["categories"]] == ["trouver-un-emploi", "preparer-sa-candidature"]
    assert service["provider"] == {"slug": "pole-emploi", "isPublicEmploymentService": True}
    assert {link["platform"]: link["url"] for link in service["links"]} == {
        "WEB": "https://labonneboite.example.fr/",
        "GOOGLE_PLAY": "https://play.example/lbb",
    }
    assert all(
        link["redirectUrl"].endswith(f"/go/la-bonne-boite/{link['platform'].lower()}")
        for link in service["links"]
    )
    assert service["rating"] == {
        "count": 0,
        "average": None,
        "distribution": [{"stars": s, "count": 0} for s in range(1, 6)],
    }


async def test_unpublished_and_paying_services_are_invisible(gql):
    await make_service("visible")
    await make_service("brouillon", status=ServiceStatus.DRAFT)
    await make_service("archive", status=ServiceStatus.ARCHIVED)
    await make_service("payant", free=False)

    assert await slugs(gql) == ["visible"]
    for slug in ("brouillon", "archive", "payant"):
        response = await gql("query($s: String!) { service(slug: $s) { slug } }", {"s": slug})
        assert response.data == {"service": None}
        assert response.codes == ["NOT_FOUND"]


async def test_related_services_share_categories_and_are_published(gql):
    await make_service("centre", categories=["trouver-un-emploi", "preparer-sa-candidature"])
    await make_service("deux-communes", categories=["preparer-sa-candidature", "trouver-un-emploi"])
    await make_service("une-commune", categories=["trouver-un-emploi"], redirect_count=50)
    await make_service("sans-rapport", categories=["travailler-a-l-etranger"])
    await make_service("brouillon", categories=["trouver-un-emploi"], status=ServiceStatus.DRAFT)

    response = await gql('{ service(slug: "centre") { relatedServices(first: 5) { slug } } }')

    assert [s["slug"] for s in response.data["service"]["relatedServices"]] == [
        "deux-communes",
        "une-commune",
    ]


async def test_related_services_do_not_depend_on_the_other_services_of_the_page(gql):
    # A training service and its one neighbour, both rarely visited, next to 45 much-visited
    # services of another category: asked within a page, the training service must still find its
    # neighbour, as it does when asked alone.
    await make_service("formation-a", categories=["trouver-une-formation"])
    await make_service("formation-b", categories=["trouver-une-formation"])
    for n in range(45):
        await make_service(f"etranger-{n:02d}", categories=["travailler-a-l-etranger"], redirect_count=100)

    alone = await gql('{ service(slug: "formation-a") { relatedServices(first: 1) { slug } } }')
    page = await gql(
        "{ services(first: 100, orderBy: NAME) { nodes { slug relatedServices(first: 1) { slug } } } }"
    )

    assert alone.data["service"]["relatedServices"] == [{"slug": "formation-b"}]
    related = {node["slug"]: node["relatedServices"] for node in page.data["services"]["nodes"]}
    assert related["formation-a"] == [{"slug": "formation-b"}]
    assert related["etranger-00"] and related["etranger-00"][0]["slug"].startswith("etranger-")


async def test_filters(gql):
    public = await make_public_employment_service()
    partner = await make_partner(kind=PartnerKind.TRAINING_BODY)
    await make_service("mooc", kind=ServiceKind.MOOC, categories=["trouver-une-formation"], provider=partner)
    await make_service(
        "appli",
        kind=ServiceKind.MOBILE_APP,
        provider=public,
        links={Platform.APP_STORE: "https://apps.example/1", Platform.GOOGLE_PLAY: "https://play.example/1"},
    )
    await make_service("site", provider=partner, categories=["trouver-un-emploi", "creer-une-entreprise"])

    assert await slugs(gql, categories=["trouver-une-formation"]) == ["mooc"]
    assert await slugs(gql, categories=["creer-une-entreprise", "trouver-une-formation"]) == ["mooc", "site"]
    assert await slugs(gql, kinds=["MOBILE_APP", "MOOC"]) == ["appli", "mooc"]
    assert await slugs(gql, platforms=["GOOGLE_PLAY"]) == ["appli"]
    assert await slugs(gql, platforms=["WEB"]) == ["mooc", "site"]
    assert await slugs(gql, providedByPublicService=True) == ["appli"]
    assert await slugs(gql, providedByPublicService=False) == ["mooc", "site"]
    assert await slugs(gql, kinds=["MOOC"], providedByPublicService=True) == []


async def test_min_rating_filter_and_rating_order(gql):
    for slug, stars in (("moyen", [3, 3]), ("excellent", [5, 5, 4]), ("faible", [1, 2]), ("jamais-note", [])):
        await make_service(slug)
        for value in stars:
            response = await gql(
                "mutation($s: String!, $n: Int!) { rateService(serviceSlug: $s, stars: $n) { replaced } }",
                {"s": slug, "n": value},
            )
            # Each rating comes from a fresh visitor: no token sent, one issued.
            assert response.data["rateService"]["replaced"] is False, response.errors

    assert await slugs(gql, "RATING") == ["excellent", "moyen", "faible", "jamais-note"]
    assert await slugs(gql, "RATING", minRating=3) == ["excellent", "moyen"]
    assert await slugs(gql, "RATING", minRating=4.5) == ["excellent"]


async def test_orderings(gql):
    await make_service("b-populaire", name="Bob", redirect_count=30)
    await make_service("a-recent", name="Écrire son CV")  # published later: made later
    await make_service("c-ancien", name="apprentissage", redirect_count=5)

    assert await slugs(gql, "POPULARITY") == ["b-populaire", "c-ancien", "a-recent"]
    assert await slugs(gql, "NEWEST") == ["c-ancien", "a-recent", "b-populaire"]
    # Accents and case do not change the alphabetical order.
    assert await slugs(gql, "NAME") == ["c-ancien", "b-populaire", "a-recent"]


async def test_cursor_pagination_walks_every_service_once(gql):
    for n in range(23):
        await make_service(f"s{n:02d}", redirect_count=n % 4)

    for order in ("RATING", "POPULARITY", "NEWEST", "NAME"):
        seen, after, pages = [], None, 0
        while True:
            response = await gql(SERVICES_PAGE, {"orderBy": order, "first": 5, "after": after})
            connection = response.data["services"]
            assert connection["totalCount"] == 23
            assert connection["pageInfo"]["hasPreviousPage"] == (after is not None)
            seen += [edge["node"]["slug"] for edge in connection["edges"]]
            pages += 1
            if not connection["pageInfo"]["hasNextPage"]:
                break
            after = connection["pageInfo"]["endCursor"]
        assert pages == 5
        assert sorted(seen) == [f"s{n:02d}" for n in range(23)], order
        assert seen == await slugs(gql, order), order


async def test_first_is_capped_at_100(gql):
    response = await gql(SERVICES_PAGE, {"orderBy": "NAME", "first": 101})
    assert response.codes == ["BAD_USER_INPUT"]
    response = await gql(SERVICES_PAGE, {"orderBy": "NAME", "first": -1})
    assert response.codes == ["BAD_USER_INPUT"]


async def test_malformed_cursors_are_refused(gql):
    await make_service("seul")
    other_order = (await gql(SERVICES_PAGE, {"orderBy": "NAME", "first": 1})).data["services"]["edges"][0][
        "cursor"
    ]
    forged = base64.urlsafe_b64encode(json.dumps(["name", [{"x": 1}, 1]]).encode()).decode()
    for cursor in ("pas-un-curseur", "!!!", other_order, forged, "A" * 600):
        response = await gql(SERVICES_PAGE, {"orderBy": "RATING", "first": 5, "after": cursor})
        assert response.codes == ["BAD_USER_INPUT"], cursor
        assert response.status == 200


async def test_unknown_category_in_filter_is_refused(gql):
    response = await gql(SERVICES_PAGE, {"orderBy": "NAME", "filter": {"categories": ["inconnue"]}})
    assert response.codes == ["BAD_USER_INPUT"]
    assert "inconnue" in response.errors[0]["message"]


async def test_min_rating_out_of_range_is_refused(gql):
    response = await gql(SERVICES_PAGE, {"orderBy": "NAME", "filter": {"minRating": 7}})
    assert response.codes == ["BAD_USER_INPUT"]
