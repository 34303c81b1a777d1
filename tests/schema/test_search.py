"""Search as a frontend uses it: GraphQL over HTTP, published content only, facets, paging, bad input."""

from __future__ import annotations

from models.enums import Platform, ServiceKind, ServiceStatus
from search.sync import rebuild_database_index
from tests.cms.test_workflow import CREATE, act, story
from tests.factories import make_service

SEARCH = """
query($q: String!, $filter: SearchFilter, $first: Int, $after: String) {
  search(query: $q, filter: $filter, first: $first, after: $after) {
    totalCount
    edges { cursor node { score snippet contentType item {
      __typename
      ... on Service { slug }
      ... on Article { slug }
    } } }
    pageInfo { hasNextPage endCursor }
    facets { categories { value count } kinds { value count } platforms { value count } contentTypes { value count } }
  }
}
"""


def slugs(response) -> list[str]:
    return [edge["node"]["item"]["slug"] for edge in response.data["search"]["edges"]]


async def catalogue() -> None:
    await make_service(
        "simulateur-entretien",
        name="Simulateur d'entretien d'embauche",
        kind=ServiceKind.INTERVIEW_SIMULATOR,
        categories=["preparer-sa-candidature"],
        links={Platform.WEB: "https://a.example/", Platform.GOOGLE_PLAY: "https://play.example/a"},
    )
    await make_service("lettre", name="Ma lettre de motivation", categories=["preparer-sa-candidature"])
    await make_service("brouillon-entretien", name="Entretien secret", status=ServiceStatus.DRAFT)
    await make_service("payant-entretien", name="Coaching entretien payant", free=False)
    await rebuild_database_index()


async def test_search_returns_published_services_with_snippets_and_facets(gql):
    await catalogue()

    response = await gql(SEARCH, {"q": "entretien"})

    search = response.data["search"]
    assert slugs(response) == ["simulateur-entretien"]
    node = search["edges"][0]["node"]
    assert node["item"]["__typename"] == "Service" and node["contentType"] == "SERVICE"
    assert "<mark>" in node["snippet"] and node["score"] > 0
    assert search["facets"]["kinds"] == [{"value": "interview_simulator", "count": 1}]
    assert {"value": "google_play", "count": 1} in search["facets"]["platforms"]


async def test_a_published_article_is_found_at_once_and_leaves_when_unpublished(sign_in, gql):
    editor = await sign_in("editor")
    reviewer = await sign_in("admin")
    article = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]
    assert slugs(await gql(SEARCH, {"q": "caissière développeuse"})) == []

    await act(reviewer, "publish", article["id"])
    found = await gql(SEARCH, {"q": "caissière développeuse"})
    assert slugs(found) == [article["slug"]]
    assert found.data["search"]["edges"][0]["node"]["item"]["__typename"] == "Article"

    await act(reviewer, "unpublish", article["id"])
    assert slugs(await gql(SEARCH, {"q": "caissière développeuse"})) == []


async def test_filters_and_paging(gql):
    await catalogue()
    for n in range(5):
        await make_service(f"salon-{n}", name=f"Salon de recrutement numéro {n}", kind=ServiceKind.JOB_FAIR)
    await rebuild_database_index()

    only_fairs = await gql(SEARCH, {"q": "salon recrutement", "filter": {"kinds": ["job_fair"]}, "first": 2})
    assert only_fairs.data["search"]["totalCount"] == 5
    assert len(only_fairs.data["search"]["edges"]) == 2
    after = only_fairs.data["search"]["pageInfo"]["endCursor"]
    rest = await gql(
        SEARCH, {"q": "salon recrutement", "filter": {"kinds": ["job_fair"]}, "first": 10, "after": after}
    )
    assert len(slugs(rest)) == 3 and not set(slugs(rest)) & set(slugs(only_fairs))
    articles_only = await gql(SEARCH, {"q": "salon", "filter": {"contentTypes": ["ARTICLE"]}})
    assert articles_only.data["search"]["totalCount"] == 0


async def test_bad_input_is_a_clear_error_never_a_500(gql):
    await catalogue()
    cases = [
        ({"q": ""}, "BAD_USER_INPUT"),
        ({"q": "   "}, "BAD_USER_INPUT"),
        ({"q": "x" * 10_000}, "BAD_USER_INPUT"),
        ({"q": "cv", "filter": {"kinds": ["fusée"]}}, "BAD_USER_INPUT"),
        ({"q": "cv", "filter": {"categories": ["nulle-part"]}}, "BAD_USER_INPUT"),
        ({"q": "cv", "first": 101}, "BAD_USER_INPUT"),
        ({"q": "cv", "after": "n'importe quoi"}, "BAD_USER_INPUT"),
    ]
    for variables, code in cases:
        response = await gql(SEARCH, variables)
        assert response.status == 200 and response.codes == [code], variables
    for query in ['"', "-", "*", "( )", ":", "OR", 'lettre OR -"cv*"', "NEAR(a b)"]:
        response = await gql(SEARCH, {"q": query})
        assert response.status == 200 and not response.errors, query
    unknown_platform = await gql(SEARCH, {"q": "cv", "filter": {"platforms": ["MINITEL"]}})
    assert unknown_platform.status == 400


async def test_suggest(gql):
    await catalogue()
    response = await gql('{ suggest(prefix: "simul") { text contentType } }')
    assert any("Simulateur" in s["text"] for s in response.data["suggest"])
    assert (await gql('{ suggest(prefix: "x", first: 50) { text } }')).codes == ["BAD_USER_INPUT"]
