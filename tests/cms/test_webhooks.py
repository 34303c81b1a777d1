"""Outgoing webhooks, sent to a real receiver over HTTP: signed, retried with backoff, logged, and
managed by admins over GraphQL."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import os
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import httpx
import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route

from cms import webhooks
from models.cms import AuditLogEntry
from models.enums import DeliveryStatus
from models.webhooks import WebhookDelivery, WebhookEndpoint
from tests.conftest import free_port, uvicorn_in_loop
from tests.factories import make_partner

CREATE_ENDPOINT = """
mutation($url: String!, $events: [String!]) {
  createWebhookEndpoint(url: $url, events: $events) { secret endpoint { id url events isActive createdAt } }
}
"""
DELIVERIES = """
query($endpointId: ID, $status: WebhookDeliveryStatus, $first: Int! = 50) {
  webhookDeliveries(endpointId: $endpointId, status: $status, first: $first) {
    id endpointId event status attempts lastStatusCode lastError nextAttemptAt deliveredAt createdAt payload
  }
}
"""
CREATE_ARTICLE = "mutation($i: ArticleInput!) { createArticle(input: $i) { id } }"


# -- a real receiver --------------------------------------------------------------------------------


@dataclass
class Received:
    path: str
    headers: httpx.Headers
    body: bytes

    @property
    def json(self) -> dict:
        return json.loads(self.body)


@dataclass
class Receiver:
    """A tiny Starlette app on uvicorn, in the tests' event loop, that records what it is sent."""

    port: int
    requests: list[Received] = field(default_factory=list)
    failures: int = 0
    failure_status: int = 500
    delay: float = 0.0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def fail(self, times: int, status: int = 500) -> None:
        """Answer `status` to the next `times` requests."""
        self.failures, self.failure_status = times, status

    async def receive(self, request: Request) -> PlainTextResponse:
        self.requests.append(Received(request.url.path, httpx.Headers(request.headers), await request.body()))
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.failures > 0:
            self.failures -= 1
            return PlainTextResponse("receiver says no", status_code=self.failure_status)
        return PlainTextResponse("ok")

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.receive, methods=["POST"])])


StartReceiver = Callable[..., Awaitable[Receiver]]


@pytest.fixture
async def start_receiver() -> AsyncIterator[StartReceiver]:
    async with contextlib.AsyncExitStack() as servers:

        async def start(port: int | None = None) -> Receiver:
            receiver = Receiver(port or free_port())
            await servers.enter_async_context(
                uvicorn_in_loop(receiver.app(), port=receiver.port, startup_seconds=4)
            )
            return receiver

        yield start


@pytest.fixture
async def receiver(start_receiver: StartReceiver) -> Receiver:
    return await start_receiver()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with webhooks.new_http_client() as client:
        yield client


@pytest.fixture
async def admin(sign_in):
    return await sign_in("admin")


# -- helpers ----------------------------------------------------------------------------------------


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def create_endpoint(admin, url: str, events: list[str] | None = None) -> tuple[str, str]:
    """The endpoint's id and its secret, made the way an admin does it."""
    response = await admin.gql(CREATE_ENDPOINT, {"url": url, "events": events})
    assert not response.errors, response.errors
    created = response.data["createWebhookEndpoint"]
    return created["endpoint"]["id"], created["secret"]


async def publish_article(admin, title: str = "Trois entretiens en un mois") -> str:
    article = {"kind": "STORY", "title": title, "summary": "Une reconversion réussie.", "body": "Le récit."}
    created = await admin.gql(CREATE_ARTICLE, {"i": article})
    article_id = created.data["createArticle"]["id"]
    published = await admin.gql(f'mutation {{ publishArticle(id: "{article_id}") {{ status live }} }}')
    assert published.data["publishArticle"] == {"status": "PUBLISHED", "live": True}, published.errors
    return article_id


async def unpublish_article(admin, article_id: str) -> None:
    response = await admin.gql(f'mutation {{ unpublishArticle(id: "{article_id}") {{ live }} }}')
    assert response.data["unpublishArticle"] == {"live": False}, response.errors


async def only_delivery() -> WebhookDelivery:
    deliveries = await WebhookDelivery.all()
    assert len(deliveries) == 1
    return deliveries[0]


# -- sending ----------------------------------------------------------------------------------------


async def test_publishing_an_article_sends_a_signed_article_published(admin, receiver, http):
    endpoint_id, secret = await create_endpoint(admin, f"{receiver.url}/hooks")
    assert secret.startswith("whsec_") and len(secret) > 40
    article_id = await publish_article(admin)

    queued = (await admin.gql(DELIVERIES)).data["webhookDeliveries"]
    assert [(d["event"], d["status"], d["attempts"], d["endpointId"]) for d in queued] == [
        ("article.published", "PENDING", 0, endpoint_id)
    ]
    assert queued[0]["nextAttemptAt"] is not None and queued[0]["deliveredAt"] is None

    report = await webhooks.deliver_due(http)

    assert (report.delivered, report.retrying, report.failed) == (1, 0, 0)
    [request] = receiver.requests
    assert request.path == "/hooks"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["x-emploi-store-event"] == "article.published"
    assert request.headers["x-emploi-store-delivery"] == queued[0]["id"]
    signature = request.headers["x-emploi-store-signature"]
    assert webhooks.verify_signature(secret, signature, request.body, tolerance=60)
    assert not webhooks.verify_signature("whsec_someone-else", signature, request.body, tolerance=60)
    assert not webhooks.verify_signature(secret, signature, request.body + b" ", tolerance=60)
    assert request.json["event"] == "article.published"
    assert request.json["data"]["id"] == int(article_id)
    assert request.json["data"]["slug"] == "trois-entretiens-en-un-mois"
    assert request.json["data"]["title"] == "Trois entretiens en un mois"

    [logged] = (await admin.gql(DELIVERIES)).data["webhookDeliveries"]
    assert (logged["status"], logged["attempts"], logged["lastStatusCode"]) == ("DELIVERED", 1, 200)
    assert logged["deliveredAt"] is not None and logged["nextAttemptAt"] is None
    assert logged["lastError"] is None
    assert logged["payload"] == request.json

    assert await webhooks.deliver_due(http) == webhooks.DeliveryReport()  # nothing twice
    assert len(receiver.requests) == 1


async def test_unpublishing_sends_article_unpublished(admin, receiver, http):
    _, secret = await create_endpoint(admin, receiver.url)
    article_id = await publish_article(admin)
    await webhooks.deliver_due(http)

    await unpublish_article(admin, article_id)
    report = await webhooks.deliver_due(http)

    assert report.delivered == 1
    assert [r.headers["x-emploi-store-event"] for r in receiver.requests] == [
        "article.published",
        "article.unpublished",
    ]
    last = receiver.requests[-1]
    assert last.json["event"] == "article.unpublished" and last.json["data"]["id"] == int(article_id)
    assert webhooks.verify_signature(
        secret, last.headers["x-emploi-store-signature"], last.body, tolerance=60
    )
    assert last.headers["x-emploi-store-delivery"] != receiver.requests[0].headers["x-emploi-store-delivery"]


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(admin, receiver, http):
    await create_endpoint(admin, receiver.url)
    await publish_article(admin)
    receiver.fail(2)

    first = now()
    assert (await webhooks.deliver_due(http, now=first)).retrying == 1
    delivery = await only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.PENDING, 1, 500)
    assert delivery.last_error == "HTTP 500: receiver says no"
    assert delivery.next_attempt_at == first + dt.timedelta(seconds=30)

    assert await webhooks.deliver_due(http, now=first + dt.timedelta(seconds=29)) == webhooks.DeliveryReport()
    assert len(receiver.requests) == 1

    second = first + dt.timedelta(seconds=30)
    assert (await webhooks.deliver_due(http, now=second)).retrying == 1
    delivery = await only_delivery()
    assert delivery.attempts == 2
    assert delivery.next_attempt_at == second + dt.timedelta(seconds=60)  # doubled

    assert (await webhooks.deliver_due(http, now=second + dt.timedelta(seconds=59))).due == 0
    assert (await webhooks.deliver_due(http, now=second + dt.timedelta(seconds=60))).delivered == 1
    delivery = await only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        3,
        200,
    )
    assert delivery.last_error is None and delivery.delivered_at is not None
    assert len({r.headers["x-emploi-store-delivery"] for r in receiver.requests}) == 1
    assert len(receiver.requests) == 3


def test_backoff_doubles_and_is_capped_at_an_hour():
    assert [webhooks.backoff(n).total_seconds() for n in range(1, 10)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


async def test_gives_up_after_max_attempts_then_an_admin_redelivers(admin, receiver, http):
    await create_endpoint(admin, receiver.url)
    await publish_article(admin)
    receiver.fail(100, status=503)

    at = now()
    for attempt in range(1, webhooks.MAX_ATTEMPTS + 1):
        report = await webhooks.deliver_due(http, now=at)
        expected = "failed" if attempt == webhooks.MAX_ATTEMPTS else "retrying"
        assert getattr(report, expected) == 1, (attempt, report)
        at += webhooks.backoff(attempt)

    delivery = await only_delivery()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.FAILED, 8, 503)
    assert len(receiver.requests) == webhooks.MAX_ATTEMPTS
    assert await webhooks.deliver_due(http, now=at + dt.timedelta(days=1)) == webhooks.DeliveryReport()

    [failed] = (await admin.gql(DELIVERIES, {"status": "FAILED"})).data["webhookDeliveries"]
    assert failed["nextAttemptAt"] is None and failed["lastError"].startswith("HTTP 503")
    redelivered = await admin.gql(
        f'mutation {{ redeliverWebhook(id: "{failed["id"]}") {{ status attempts }} }}'
    )
    assert redelivered.data["redeliverWebhook"] == {"status": "PENDING", "attempts": 0}
    again = await admin.gql(f'mutation {{ redeliverWebhook(id: "{failed["id"]}") {{ status }} }}')
    assert again.codes == ["BAD_USER_INPUT"]  # already queued

    receiver.fail(0)
    assert (await webhooks.deliver_due(http)).delivered == 1
    assert receiver.requests[-1].headers["x-emploi-store-delivery"] == failed["id"]
    assert await AuditLogEntry.filter(action="webhook_delivery.redeliver").count() == 1


async def test_an_endpoint_only_gets_the_events_it_listens_to(admin, receiver, http):
    await create_endpoint(admin, f"{receiver.url}/everything")
    await create_endpoint(admin, f"{receiver.url}/unpublished-only", ["article.unpublished"])

    article_id = await publish_article(admin)
    await webhooks.deliver_due(http)
    assert [r.path for r in receiver.requests] == ["/everything"]

    await unpublish_article(admin, article_id)
    await webhooks.deliver_due(http)
    later = sorted((r.path, r.headers["x-emploi-store-event"]) for r in receiver.requests[1:])
    assert later == [("/everything", "article.unpublished"), ("/unpublished-only", "article.unpublished")]


async def test_a_receiver_that_is_down_is_retried(admin, start_receiver, http):
    port = free_port()  # nothing listens there yet
    await create_endpoint(admin, f"http://127.0.0.1:{port}/hooks")
    await publish_article(admin)

    at = now()
    assert (await webhooks.deliver_due(http, now=at)).retrying == 1
    delivery = await only_delivery()
    assert delivery.status is DeliveryStatus.PENDING and delivery.attempts == 1
    assert delivery.last_status_code is None
    assert delivery.last_error and delivery.last_error.startswith("ConnectError")
    assert delivery.next_attempt_at == at + dt.timedelta(seconds=30)

    receiver = await start_receiver(port)
    assert (await webhooks.deliver_due(http, now=at + dt.timedelta(seconds=30))).delivered == 1
    assert [r.path for r in receiver.requests] == ["/hooks"]


async def test_a_receiver_that_takes_too_long_times_out(admin, receiver, http, monkeypatch):
    monkeypatch.setattr(webhooks, "TIMEOUT_SECONDS", 0.2)
    receiver.delay = 1.0
    await create_endpoint(admin, receiver.url)
    await publish_article(admin)

    assert (await webhooks.deliver_due(http)).retrying == 1
    delivery = await only_delivery()
    assert delivery.last_status_code is None
    assert delivery.last_error and delivery.last_error.startswith("timed out")


async def test_two_workers_at_once_send_each_delivery_once(admin, receiver):
    await create_endpoint(admin, receiver.url)
    await create_endpoint(admin, f"{receiver.url}/second")
    for n in range(6):
        await webhooks.enqueue(webhooks.ARTICLE_PUBLISHED, {"id": n})
    receiver.delay = 0.05  # so that the two workers overlap
    at = now()

    async with webhooks.new_http_client() as one, webhooks.new_http_client() as two:
        reports = await asyncio.gather(
            webhooks.deliver_due(one, now=at),
            webhooks.deliver_due(two, now=at),
            webhooks.deliver_due(one, now=at),
        )

    assert sum(r.delivered for r in reports) == 12
    sent = [r.headers["x-emploi-store-delivery"] for r in receiver.requests]
    assert len(sent) == 12 and len(set(sent)) == 12
    assert await WebhookDelivery.filter(status=DeliveryStatus.DELIVERED, attempts=1).count() == 12


async def test_the_command_line_delivers_everything_due(admin, receiver, settings):
    await create_endpoint(admin, receiver.url)
    for n in range(3):
        await webhooks.enqueue(webhooks.ARTICLE_UNPUBLISHED, {"id": n})

    # Asynchronously, so the receiver in this event loop can answer the command.
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "VAR_DIR": str(settings.var_dir),
        "SECRET_KEY": "test-secret",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "server.cli",
        "cms",
        "deliver-webhooks",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout=120)

    assert process.returncode == 0, stderr.decode()
    assert "Delivered 3 webhook(s), 0 to retry later, 0 given up." in stdout.decode()
    assert len(receiver.requests) == 3


def test_verify_signature_refuses_old_or_malformed_headers():
    body = b'{"event":"article.published"}'
    header = webhooks.sign("whsec_x", body, 1_700_000_000)
    assert webhooks.verify_signature("whsec_x", header, body, tolerance=300, now=1_700_000_100)
    assert not webhooks.verify_signature("whsec_x", header, body, tolerance=300, now=1_700_000_301)
    for broken in ("", "t=abc,v1=00", "v1=00", "t=1700000000", header.replace("v1=", "v0=")):
        assert not webhooks.verify_signature("whsec_x", broken, body, tolerance=300, now=1_700_000_000)
    rotated = f"{header},v1={'0' * 64}"  # several signatures: one matching is enough
    assert webhooks.verify_signature("whsec_x", rotated, body, tolerance=300, now=1_700_000_000)


# -- managing endpoints -----------------------------------------------------------------------------


async def test_creating_an_endpoint_is_audited_and_never_shows_the_secret_again(admin):
    endpoint_id, secret = await create_endpoint(admin, "https://hooks.example.org/emploi-store", [])

    listed = await admin.gql("{ webhookEndpoints { id url events isActive } }")
    assert listed.data["webhookEndpoints"] == [
        {"id": endpoint_id, "url": "https://hooks.example.org/emploi-store", "events": [], "isActive": True}
    ]
    assert (await admin.gql("{ webhookEndpoints { secret } }")).status == 400
    assert secret not in json.dumps(await AuditLogEntry.all().values("data"))
    entry = await AuditLogEntry.get(action="webhook_endpoint.create")
    assert (entry.object_type, entry.object_id, entry.actor_id) == (
        "webhook_endpoint",
        int(endpoint_id),
        admin.user.id,
    )


@pytest.mark.parametrize(
    "url",
    [
        "file:///etc/passwd",
        "javascript:alert(1)",
        "",
        "   ",
        "not a url",
        "hooks.example.org/path",
        "http://",
        "ftp://hooks.example.org/",
        "http://user:password@hooks.example.org/",
        "http://hooks.example.org:99999/",
        "https://hooks.example.org/" + "a" * 2000,
    ],
)
async def test_create_refuses_what_is_not_an_http_url_and_writes_nothing(admin, url):
    response = await admin.gql(CREATE_ENDPOINT, {"url": url, "events": None})

    assert response.codes == ["BAD_USER_INPUT"]
    assert response.data is None
    assert await WebhookEndpoint.all().count() == 0
    assert await AuditLogEntry.filter(action__startswith="webhook").count() == 0


async def test_create_refuses_unknown_events(admin):
    response = await admin.gql(
        CREATE_ENDPOINT, {"url": "https://x.example.org/", "events": ["article.deleted"]}
    )

    assert response.codes == ["BAD_USER_INPUT"]
    assert await WebhookEndpoint.all().count() == 0


async def test_deactivating_stops_the_deliveries_and_deleting_removes_the_log(admin, receiver, http):
    endpoint_id, _ = await create_endpoint(admin, receiver.url)
    await publish_article(admin)

    deactivated = await admin.gql(
        f'mutation {{ deactivateWebhookEndpoint(id: "{endpoint_id}") {{ isActive }} }}'
    )
    assert deactivated.data["deactivateWebhookEndpoint"] == {"isActive": False}
    assert await webhooks.deliver_due(http) == webhooks.DeliveryReport()
    assert receiver.requests == []
    delivery = await only_delivery()
    assert (delivery.status, delivery.last_error) == (DeliveryStatus.FAILED, "endpoint deactivated")
    await publish_article(admin, "Un autre récit")
    assert await WebhookDelivery.all().count() == 1  # nothing queued for an inactive endpoint

    deleted = await admin.gql(f'mutation {{ deleteWebhookEndpoint(id: "{endpoint_id}") {{ id url }} }}')
    assert deleted.data["deleteWebhookEndpoint"] == {"id": endpoint_id, "url": receiver.url}
    assert await WebhookEndpoint.all().count() == 0
    assert await WebhookDelivery.all().count() == 0
    assert await AuditLogEntry.filter(action="webhook_endpoint.delete", object_id=int(endpoint_id)).exists()

    missing = await admin.gql(f'mutation {{ deleteWebhookEndpoint(id: "{endpoint_id}") {{ id }} }}')
    assert missing.codes == ["NOT_FOUND"]
    assert (await admin.gql('mutation { redeliverWebhook(id: "nope") { id } }')).codes == ["BAD_USER_INPUT"]


async def test_deliveries_are_filtered_and_first_is_capped(admin, receiver, http):
    first_id, _ = await create_endpoint(admin, f"{receiver.url}/one")
    second_id, _ = await create_endpoint(admin, f"{receiver.url}/two", ["article.unpublished"])
    await publish_article(admin)
    await webhooks.enqueue(webhooks.ARTICLE_UNPUBLISHED, {"id": 1})

    of_second = (await admin.gql(DELIVERIES, {"endpointId": second_id})).data["webhookDeliveries"]
    assert [(d["endpointId"], d["event"]) for d in of_second] == [(second_id, "article.unpublished")]
    newest = (await admin.gql(DELIVERIES, {"endpointId": first_id, "first": 1})).data["webhookDeliveries"]
    assert [d["event"] for d in newest] == ["article.unpublished"]
    assert (await admin.gql(DELIVERIES, {"first": 101})).codes == ["BAD_USER_INPUT"]
    assert (await admin.gql(DELIVERIES, {"status": "DELIVERED"})).data["webhookDeliveries"] == []


# -- who may ----------------------------------------------------------------------------------------

ADMIN_ONLY = [
    "{ webhookEndpoints { id } }",
    "{ webhookDeliveries { id } }",
    'mutation { createWebhookEndpoint(url: "https://x.example.org/") { secret } }',
    'mutation { deactivateWebhookEndpoint(id: "1") { id } }',
    'mutation { deleteWebhookEndpoint(id: "1") { id } }',
    'mutation { redeliverWebhook(id: "1") { id } }',
]


@pytest.mark.parametrize("role", ["editor", "partner", "developer"])
async def test_only_admins_manage_webhooks(sign_in, role):
    if role == "partner":
        await make_partner("partenaire")
        someone = await sign_in(role, partner_slug="partenaire")
    else:
        someone = await sign_in(role)
    for document in ADMIN_ONLY:
        response = await someone.gql(document)
        assert response.codes == ["FORBIDDEN"], (role, document, response.body)
    assert await WebhookEndpoint.all().count() == 0


async def test_anonymous_callers_must_sign_in(gql):
    for document in ADMIN_ONLY:
        response = await gql(document)
        assert response.codes == ["UNAUTHENTICATED"], (document, response.body)
    assert await WebhookEndpoint.all().count() == 0
