"""/metrics: Prometheus text, requests by route template, latency, GraphQL errors by code."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from server import observability
from server.app import create_app
from tests.factories import make_service

REQUESTS = "emploi_store_http_requests_total"
LATENCY_COUNT = "emploi_store_http_request_duration_seconds_count"
ERRORS = "emploi_store_graphql_errors_total"


async def scrape(client: httpx.AsyncClient) -> str:
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=")
    return response.text


def value(text: str, name: str, **labels: str) -> float:
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def label_values(text: str, name: str, label: str) -> set[str]:
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and label in sample.labels
    }


async def test_requests_are_counted_by_route_template_never_by_raw_path(client):
    await make_service("memo")
    go = {"method": "GET", "route": "/go/{slug}/{platform}"}
    before = await scrape(client)

    assert (await client.get("/go/memo/web")).status_code == 302
    assert (await client.get("/go/memo/web?from=search")).status_code == 302
    assert (await client.get("/go/inconnu/web")).status_code == 404
    assert (await client.get("/healthz")).status_code == 200
    after = await scrape(client)

    assert value(after, REQUESTS, **go, status="302") - value(before, REQUESTS, **go, status="302") == 2
    assert value(after, REQUESTS, **go, status="404") - value(before, REQUESTS, **go, status="404") == 1
    assert value(after, LATENCY_COUNT, **go) - value(before, LATENCY_COUNT, **go) == 3
    healthz = {"method": "GET", "route": "/healthz", "status": "200"}
    assert value(after, REQUESTS, **healthz) - value(before, REQUESTS, **healthz) == 1
    routes = label_values(after, REQUESTS, "route")
    assert not any("memo" in route or "inconnu" in route for route in routes), routes


async def test_unknown_paths_and_methods_share_bounded_labels(client):
    before = await scrape(client)
    for path in ("/nulle-part", "/ailleurs/encore", "/wp-login.php"):
        assert (await client.get(path)).status_code == 404
    assert (await client.request("PROPFIND", "/healthz")).status_code == 405
    after = await scrape(client)

    unmatched = {"method": "GET", "route": "unmatched", "status": "404"}
    assert value(after, REQUESTS, **unmatched) - value(before, REQUESTS, **unmatched) == 3
    # A 405 still names the route it reached; a method outside the usual seven is "OTHER".
    propfind = {"method": "OTHER", "route": "/healthz", "status": "405"}
    assert value(after, REQUESTS, **propfind) - value(before, REQUESTS, **propfind) == 1
    assert not label_values(after, REQUESTS, "route") & {"/nulle-part", "/ailleurs/encore", "/wp-login.php"}


async def test_scrapes_are_not_counted(client):
    first = await scrape(client)
    second = await scrape(client)
    assert "/metrics" not in label_values(first, REQUESTS, "route") | label_values(second, REQUESTS, "route")


async def test_graphql_errors_are_counted_by_code(client):
    await make_service("memo")
    before = await scrape(client)

    not_found = await client.post("/graphql", json={"query": '{ service(slug: "inconnu") { slug } }'})
    assert not_found.json()["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    bad_input = await client.post("/graphql", json={"query": '{ search(query: "  ") { totalCount } }'})
    assert bad_input.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    invalid = await client.post("/graphql", json={"query": "{ nope }"})
    assert invalid.status_code == 400
    fine = await client.post("/graphql", json={"query": '{ service(slug: "memo") { slug } }'})
    assert "errors" not in fine.json()
    after = await scrape(client)

    for code in ("NOT_FOUND", "BAD_USER_INPUT"):
        assert value(after, ERRORS, code=code) - value(before, ERRORS, code=code) == 1, code
    # A document that does not validate has no code of its own.
    assert value(after, ERRORS, code="NONE") - value(before, ERRORS, code="NONE") == 1
    graphql_ok = {"method": "POST", "route": "/graphql", "status": "200"}
    assert value(after, REQUESTS, **graphql_ok) - value(before, REQUESTS, **graphql_ok) == 3


async def test_record_graphql_result_keeps_labels_bounded(client):
    before = await scrape(client)
    observability.record_graphql_result(
        {
            "data": None,
            "errors": [
                {"message": "a", "extensions": {"code": "RATE_LIMITED"}},
                {"message": "b", "extensions": {"code": "pas un code {}"}},
                {"message": "c", "extensions": {"code": 42}},
                {"message": "d"},
                "not even an object",
            ],
        }
    )
    observability.record_graphql_result({"data": {"categories": []}})
    after = await scrape(client)

    def delta(code: str) -> float:
        return value(after, ERRORS, code=code) - value(before, ERRORS, code=code)

    assert (delta("RATE_LIMITED"), delta("OTHER"), delta("NONE")) == (1, 2, 2)
    assert "pas un code {}" not in label_values(after, ERRORS, "code")


async def test_metrics_can_be_turned_off(settings):
    app = create_app(settings.model_copy(update={"metrics_enabled": False}))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test") as local:
        assert (await local.get("/metrics")).status_code == 404
        assert (await local.get("/healthz")).status_code == 200
