"""Selecting a service sends people to its stored URL, and every redirect is recorded."""

from __future__ import annotations

from models.catalogue import Service
from models.enums import Platform, RedirectSource, ServiceStatus
from models.events import RedirectEvent
from tests.factories import make_service

LINKS = {Platform.WEB: "https://memo.example.fr/", Platform.APP_STORE: "https://apps.example/memo/id123"}


async def test_go_redirects_to_the_stored_url_and_records_the_event(client):
    await make_service("memo", links=LINKS)

    response = await client.get("/go/memo/app_store?from=search")

    assert response.status_code == 302
    assert response.headers["location"] == "https://apps.example/memo/id123"
    event = await RedirectEvent.get(service__slug="memo")
    assert event.platform is Platform.APP_STORE
    assert event.source is RedirectSource.SEARCH
    assert event.visitor and event.visitor.startswith("v:")
    assert (await Service.get(slug="memo")).redirect_count == 1


async def test_a_recommendation_id_in_from_is_kept(client):
    await make_service("memo", links=LINKS)
    await client.get("/go/memo/web?from=rec_8f3a2c")
    event = await RedirectEvent.get(service__slug="memo")
    assert (event.source, event.source_ref) == (RedirectSource.RECOMMENDATION, "rec_8f3a2c")


async def test_the_target_never_comes_from_the_request(client):
    await make_service("memo", links=LINKS)
    for query in ("?from=https://evil.example/", "?url=https://evil.example/", "?next=//evil.example"):
        response = await client.get(f"/go/memo/web{query}")
        assert response.headers["location"] == "https://memo.example.fr/"
    sources = await RedirectEvent.all().values_list("source", flat=True)
    assert set(sources) == {RedirectSource.DIRECT}


async def test_unknown_service_platform_or_missing_link_is_a_404(client):
    await make_service("memo", links={Platform.WEB: "https://memo.example.fr/"})
    await make_service("brouillon", status=ServiceStatus.DRAFT)
    for path in (
        "/go/inconnu/web",
        "/go/memo/minitel",
        "/go/memo/google_play",
        "/go/brouillon/web",
        "/go/memo/https%3A%2F%2Fevil.example",
    ):
        response = await client.get(path)
        assert response.status_code == 404, path
        assert "location" not in response.headers
    assert await RedirectEvent.all().count() == 0


async def test_track_redirect_mutation_returns_the_url_and_records(gql):
    await make_service("memo", links=LINKS)

    response = await gql(
        'mutation { trackRedirect(serviceSlug: "memo", platform: WEB, from: "catalogue") '
        "{ url service { redirectCount } } }"
    )

    assert response.data["trackRedirect"] == {
        "url": "https://memo.example.fr/",
        "service": {"redirectCount": 1},
    }
    event = await RedirectEvent.get(service__slug="memo")
    assert event.source is RedirectSource.CATALOGUE


async def test_track_redirect_for_unknown_link_is_not_found(gql):
    await make_service("memo", links={Platform.WEB: "https://memo.example.fr/"})
    response = await gql('mutation { trackRedirect(serviceSlug: "memo", platform: GOOGLE_PLAY) { url } }')
    assert response.codes == ["NOT_FOUND"]
    assert await RedirectEvent.all().count() == 0


async def test_redirects_feed_popularity(gql, client):
    await make_service("calme")
    await make_service("courue")
    for _ in range(3):
        await client.get("/go/courue/web")
    await client.get("/go/calme/web")

    response = await gql("{ services(orderBy: POPULARITY) { nodes { slug redirectCount } } }")

    assert response.data["services"]["nodes"] == [
        {"slug": "courue", "redirectCount": 3},
        {"slug": "calme", "redirectCount": 1},
    ]
