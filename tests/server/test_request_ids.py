"""X-Request-Id in and out, and in every JSON log line of the request."""

from __future__ import annotations

import io
import json
import logging
import re
from collections.abc import Iterator

import httpx
import pytest
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from server import observability
from server.app import create_app

GENERATED = re.compile(r"[0-9a-f]{32}")


class JsonLines:
    def __init__(self, stream: io.StringIO) -> None:
        self.stream = stream

    def lines(self) -> list[dict]:
        return [json.loads(line) for line in self.stream.getvalue().removesuffix("\n").split("\n") if line]

    def for_request(self, request_id: str) -> list[dict]:
        return [line for line in self.lines() if line["request_id"] == request_id]


@pytest.fixture
def json_logs() -> Iterator[JsonLines]:
    """Every log line, formatted as the server formats it, into a buffer."""
    stream = io.StringIO()
    handler = observability.log_handler("json", stream)
    root = logging.getLogger()
    previous = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield JsonLines(stream)
    finally:
        root.removeHandler(handler)
        root.setLevel(previous)


async def test_a_sane_incoming_id_is_echoed_and_logged(client, json_logs):
    response = await client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.2_x"})
    assert response.headers["x-request-id"] == "lb-7f3a.2_x"

    (access,) = [
        line for line in json_logs.for_request("lb-7f3a.2_x") if line["logger"] == "emploi_store.access"
    ]
    assert access["level"] == "INFO"
    assert (access["method"], access["path"], access["status"]) == ("GET", "/healthz", 200)
    assert isinstance(access["duration_ms"], float) and access["duration_ms"] >= 0
    assert access["time"].endswith("+00:00")


@pytest.mark.parametrize(
    "incoming",
    [None, "", "x" * 129, "has space", 'quote"d', "semi;colon", "é-accent".encode(), "a/b"],
)
async def test_a_missing_or_odd_id_is_replaced_by_a_new_one(client, json_logs, incoming):
    headers = {} if incoming is None else {"X-Request-Id": incoming}
    response = await client.get("/healthz", headers=headers)
    request_id = response.headers["x-request-id"]
    assert GENERATED.fullmatch(request_id)
    assert json_logs.for_request(request_id)


async def test_every_response_gets_a_different_id(client):
    ids = {
        (await client.get("/graphql", params={"query": "{ categories { slug } }"})).headers["x-request-id"]
        for _ in range(5)
    }
    assert len(ids) == 5


async def test_the_longest_sane_id_is_kept(client):
    longest = "A1._-" * 25 + "xyz"
    assert len(longest) == 128
    assert (await client.get("/healthz", headers={"X-Request-Id": longest})).headers[
        "x-request-id"
    ] == longest


def _app_that_logs() -> Starlette:
    log = logging.getLogger("emploi_store.test")

    async def speak(request: Request) -> PlainTextResponse:
        log.info("working on it, said the handler", extra={"service": "memo"})
        return PlainTextResponse(request.state.request_id)

    async def fail(request: Request) -> PlainTextResponse:
        raise RuntimeError("boom")

    return Starlette(
        routes=[Route("/speak", speak), Route("/fail", fail)],
        middleware=[Middleware(observability.RequestIdMiddleware)],
    )


async def test_log_lines_inside_a_request_carry_its_id(json_logs):
    transport = httpx.ASGITransport(app=_app_that_logs())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
        response = await local.get("/speak", headers={"X-Request-Id": "abc-123"})

    assert response.text == "abc-123"  # request.state.request_id, for code that needs it
    lines = json_logs.for_request("abc-123")
    assert [line["logger"] for line in lines] == ["emploi_store.test", "emploi_store.access"]
    assert lines[0]["message"] == "working on it, said the handler"
    assert lines[0]["service"] == "memo"
    # Outside a request there is no id.
    logging.getLogger("emploi_store.test").warning("between requests")
    assert json_logs.lines()[-1]["request_id"] is None


async def test_a_failing_request_is_logged_with_its_traceback(json_logs):
    transport = httpx.ASGITransport(app=_app_that_logs(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as local:
        response = await local.get("/fail", headers={"X-Request-Id": "crash-1"})

    assert response.status_code == 500
    (access,) = [line for line in json_logs.for_request("crash-1") if line["logger"] == "emploi_store.access"]
    assert (access["level"], access["status"]) == ("ERROR", 500)
    assert "RuntimeError: boom" in access["exc_info"]


def test_json_lines_are_real_json_whatever_the_message():
    stream = io.StringIO()
    logger = logging.getLogger("emploi_store.test.json")
    logger.addHandler(observability.log_handler("json", stream))
    logger.propagate = False
    try:
        logger.warning(
            'quote " backslash \\ newline \n tab \t « guillemets » %s', "\u2028", extra={"n": {1, 2}}
        )
    finally:
        logger.handlers.clear()
        logger.propagate = True
    # One line per record: a line ends at "\n" only (str.splitlines would also cut at U+2028).
    (line,) = stream.getvalue().removesuffix("\n").split("\n")
    entry = json.loads(line)
    assert entry["message"] == 'quote " backslash \\ newline \n tab \t « guillemets » \u2028'
    assert entry["level"] == "WARNING" and entry["logger"] == "emploi_store.test.json"
    assert entry["n"] == "{1, 2}"  # what JSON cannot hold is written as text


def test_logging_is_configured_once_and_shows_the_recommender_at_info(settings):
    root = logging.getLogger()
    create_app(settings)
    create_app(settings.model_copy(update={"log_format": "text"}))
    ours = [h for h in root.handlers if getattr(h, "_emploi_store_handler", False)]
    assert len(ours) == 1
    assert not isinstance(ours[0].formatter, observability.JsonFormatter)
    assert logging.getLogger("emploi_store.recommender").isEnabledFor(logging.INFO)
    assert not logging.getLogger("emploi_store.recommender").isEnabledFor(logging.DEBUG)
    create_app(settings)  # back to JSON for the other tests
