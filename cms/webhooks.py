"""Outgoing webhooks. Events are queued in the same transaction as the change they announce, then
sent by `deliver_due`, signed, and retried with backoff; each delivery row is its own log."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from tortoise.transactions import in_transaction

from cms import audit
from cms.paging import page_size
from models.accounts import User
from models.enums import DeliveryStatus
from models.errors import BadUserInput, NotFound
from models.webhooks import WebhookDelivery, WebhookEndpoint

log = logging.getLogger("emploi_store.webhooks")

ARTICLE_PUBLISHED = "article.published"
ARTICLE_UNPUBLISHED = "article.unpublished"
EVENTS = (ARTICLE_PUBLISHED, ARTICLE_UNPUBLISHED)

ENDPOINT_OBJECT = "webhook_endpoint"
DELIVERY_OBJECT = "webhook_delivery"
MAX_URL_LENGTH = 2000
MAX_ATTEMPTS = 8
TIMEOUT_SECONDS = 10.0
FIRST_RETRY = dt.timedelta(seconds=30)
MAX_RETRY = dt.timedelta(hours=1)
# Longer than one attempt can last, so a delivery is only taken over from a worker that died.
LEASE = dt.timedelta(minutes=5)
CONCURRENCY = 10
BATCH = 50
MAX_ERROR_LENGTH = 1000
MAX_DELIVERY_PAGE = 100

EVENT_HEADER = "X-Emploi-Store-Event"
DELIVERY_HEADER = "X-Emploi-Store-Delivery"
SIGNATURE_HEADER = "X-Emploi-Store-Signature"
USER_AGENT = "Emploi-Store-Webhooks/1"

P = DeliveryStatus


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


# -- queueing ---------------------------------------------------------------------------------------


async def enqueue(event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint that listens to this event."""
    now = _now()
    deliveries = []
    for endpoint in await WebhookEndpoint.filter(is_active=True):
        if endpoint.events and event not in endpoint.events:
            continue
        deliveries.append(
            await WebhookDelivery.create(
                endpoint=endpoint,
                event=event,
                payload={"event": event, "occurred_at": now.isoformat(), "data": payload},
                next_attempt_at=now,
            )
        )
    return deliveries


# -- endpoints --------------------------------------------------------------------------------------


def validate_url(url: str) -> str:
    url = (url or "").strip()
    if not url:
        raise BadUserInput("give the URL that receives the webhooks", field="url")
    if len(url) > MAX_URL_LENGTH:
        raise BadUserInput(f"the URL is limited to {MAX_URL_LENGTH} characters", field="url")
    if any(c.isspace() or ord(c) < 32 or ord(c) == 127 for c in url):
        raise BadUserInput("the URL may not contain spaces or control characters", field="url")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 -- raises ValueError on a port out of range
    except ValueError as exc:
        raise BadUserInput("not a valid URL", field="url") from exc
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise BadUserInput("the URL must start with http:// or https:// and name a host", field="url")
    if parts.username is not None or parts.password is not None:
        raise BadUserInput("put no credentials in the URL: every request is signed", field="url")
    return url


def validate_events(events: list[str] | None) -> list[str]:
    chosen = list(dict.fromkeys(events or []))
    unknown = [e for e in chosen if e not in EVENTS]
    if unknown:
        raise BadUserInput(
            f"unknown event(s) {', '.join(unknown)}: choose among {', '.join(EVENTS)}",
            field="events",
            known=list(EVENTS),
        )
    return chosen


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


async def create_endpoint(
    actor: User | None, url: str, events: list[str] | None = None
) -> tuple[WebhookEndpoint, str]:
    """The new endpoint and its signing secret, which is shown to the caller this once."""
    url = validate_url(url)
    chosen = validate_events(events)
    secret = new_secret()
    async with in_transaction():
        endpoint = await WebhookEndpoint.create(url=url, events=chosen, secret=secret)
        await audit.record(
            actor, "webhook_endpoint.create", ENDPOINT_OBJECT, endpoint.id, url=url, events=chosen
        )
    return endpoint, secret


async def list_endpoints() -> list[WebhookEndpoint]:
    return await WebhookEndpoint.all().order_by("id")


async def get_endpoint(endpoint_id: int, *, for_update: bool = False) -> WebhookEndpoint:
    query = WebhookEndpoint.filter(id=endpoint_id)
    if for_update:
        query = query.select_for_update()
    endpoint = await query.first()
    if endpoint is None:
        raise NotFound(f"no webhook endpoint {endpoint_id}", id=endpoint_id)
    return endpoint


async def deactivate_endpoint(actor: User | None, endpoint_id: int) -> WebhookEndpoint:
    """Stops sending to the endpoint; what was still queued for it is marked failed."""
    async with in_transaction():
        endpoint = await get_endpoint(endpoint_id, for_update=True)
        if endpoint.is_active:
            endpoint.is_active = False
            await endpoint.save(update_fields=["is_active"])
            await WebhookDelivery.filter(endpoint_id=endpoint.id, status=P.PENDING).update(
                status=P.FAILED, last_error="endpoint deactivated"
            )
            await audit.record(
                actor, "webhook_endpoint.deactivate", ENDPOINT_OBJECT, endpoint.id, url=endpoint.url
            )
    return endpoint


async def delete_endpoint(actor: User | None, endpoint_id: int) -> WebhookEndpoint:
    """Deletes the endpoint and its delivery log."""
    async with in_transaction():
        endpoint = await get_endpoint(endpoint_id, for_update=True)
        await WebhookDelivery.filter(endpoint_id=endpoint.id).delete()
        await endpoint.delete()
        await audit.record(actor, "webhook_endpoint.delete", ENDPOINT_OBJECT, endpoint_id, url=endpoint.url)
    return endpoint


# -- deliveries -------------------------------------------------------------------------------------


async def list_deliveries(
    endpoint_id: int | None = None, status: DeliveryStatus | None = None, first: int = 50
) -> list[WebhookDelivery]:
    """Newest first."""
    page_size(first, MAX_DELIVERY_PAGE)
    query = WebhookDelivery.all()
    if endpoint_id is not None:
        query = query.filter(endpoint_id=endpoint_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.order_by("-created_at", "-id").limit(first)


async def redeliver(actor: User | None, delivery_id: int) -> WebhookDelivery:
    """Queues a failed or delivered delivery again, with a fresh set of attempts and the same id."""
    now = _now()
    async with in_transaction():
        delivery = await WebhookDelivery.filter(id=delivery_id).select_for_update().first()
        if delivery is None:
            raise NotFound(f"no webhook delivery {delivery_id}", id=delivery_id)
        if delivery.status is P.PENDING:
            raise BadUserInput("this delivery is already queued", status=delivery.status.value)
        endpoint = await WebhookEndpoint.get(id=delivery.endpoint_id)
        if not endpoint.is_active:
            raise BadUserInput("its endpoint is deactivated", endpoint_id=endpoint.id)
        await WebhookDelivery.filter(id=delivery.id).update(
            status=P.PENDING, attempts=0, next_attempt_at=now, delivered_at=None, last_error=None
        )
        await audit.record(
            actor, "webhook_delivery.redeliver", DELIVERY_OBJECT, delivery.id, event=delivery.event
        )
    await delivery.refresh_from_db()
    return delivery


# -- signing ----------------------------------------------------------------------------------------


def sign(secret: str, body: bytes, timestamp: int) -> str:
    """The signature header's value: `t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "t.body")>`."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify_signature(
    secret: str, header: str, body: bytes, tolerance: float = 300, now: float | None = None
) -> bool:
    """For receivers: true when one of the header's v1 signatures matches and t is recent enough."""
    timestamp: int | None = None
    candidates: list[str] = []
    for item in (header or "").split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1":
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = sign(secret, body, timestamp).rpartition("v1=")[2]
    return any(hmac.compare_digest(expected.encode(), c.encode()) for c in candidates)


def body_of(delivery: WebhookDelivery) -> bytes:
    return json.dumps(delivery.payload, ensure_ascii=False, separators=(",", ":")).encode()


def backoff(attempts: int) -> dt.timedelta:
    """How long to wait after the `attempts`-th failed attempt: 30 s, 1 min, 2 min… at most 1 h."""
    return min(FIRST_RETRY * 2 ** max(attempts - 1, 0), MAX_RETRY)


# -- the worker -------------------------------------------------------------------------------------


@dataclass
class DeliveryReport:
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    # Due ones this worker found, whether it or another worker took them.
    due: int = 0

    def __add__(self, other: DeliveryReport) -> DeliveryReport:
        return DeliveryReport(
            self.delivered + other.delivered,
            self.retrying + other.retrying,
            self.failed + other.failed,
            self.due + other.due,
        )


@dataclass
class _Outcome:
    status_code: int | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


async def _claim(delivery: WebhookDelivery, now: dt.datetime) -> int | None:
    """Takes the delivery for one attempt, or None when another worker has it. The conditional
    UPDATE is atomic on both databases; moving next_attempt_at past `now` is the lease, and the
    attempt number the fencing token that records the outcome."""
    attempt = delivery.attempts + 1
    taken = await WebhookDelivery.filter(
        id=delivery.id, status=P.PENDING, attempts=delivery.attempts, next_attempt_at__lte=now
    ).update(attempts=attempt, next_attempt_at=now + LEASE)
    return attempt if taken else None


async def _send(http: httpx.AsyncClient, delivery: WebhookDelivery, endpoint: WebhookEndpoint) -> _Outcome:
    body = body_of(delivery)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.id),
        SIGNATURE_HEADER: sign(endpoint.secret, body, int(time.time())),
    }
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            async with http.stream(
                "POST",
                endpoint.url,
                content=body,
                headers=headers,
                timeout=TIMEOUT_SECONDS,
                follow_redirects=False,
            ) as response:
                if 200 <= response.status_code < 300:
                    return _Outcome(response.status_code)
                excerpt = b""
                async for chunk in response.aiter_bytes():
                    excerpt += chunk
                    if len(excerpt) >= MAX_ERROR_LENGTH:
                        break
                text = excerpt.decode(errors="replace").strip()
                error = f"HTTP {response.status_code}" + (f": {text}" if text else "")
                return _Outcome(response.status_code, error[:MAX_ERROR_LENGTH])
    except TimeoutError:
        return _Outcome(error=f"timed out after {TIMEOUT_SECONDS:g} s")
    except httpx.TimeoutException as exc:
        return _Outcome(error=f"timed out after {TIMEOUT_SECONDS:g} s ({type(exc).__name__})")
    except Exception as exc:  # whatever stops the request is this attempt's failure, not the worker's
        return _Outcome(error=f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH])


async def _record(delivery: WebhookDelivery, attempt: int, outcome: _Outcome, now: dt.datetime) -> str:
    fields: dict[str, Any] = {"last_status_code": outcome.status_code, "last_error": outcome.error}
    if outcome.ok:
        result = "delivered"
        fields.update(status=P.DELIVERED, delivered_at=_now(), last_error=None)
    elif attempt >= MAX_ATTEMPTS:
        result = "failed"
        fields.update(status=P.FAILED)
    else:
        result = "retrying"
        fields.update(next_attempt_at=now + backoff(attempt))
    # Only the holder of this attempt writes; a worker whose lease ran out changes nothing.
    await WebhookDelivery.filter(id=delivery.id, status=P.PENDING, attempts=attempt).update(**fields)
    return result


async def _give_up_abandoned(now: dt.datetime) -> int:
    """Deliveries whose last attempt's worker died before recording it: nothing more to try."""
    return await WebhookDelivery.filter(
        status=P.PENDING, attempts__gte=MAX_ATTEMPTS, next_attempt_at__lte=now
    ).update(status=P.FAILED, last_error="the last attempt's outcome was never recorded")


async def deliver_due(
    http: httpx.AsyncClient, now: dt.datetime | None = None, batch: int = BATCH
) -> DeliveryReport:
    """Sends up to `batch` pending deliveries that are due at `now`. Any number of workers may run
    it at once: each delivery is claimed before it is sent, so no two send it at the same time."""
    now = now or _now()
    report = DeliveryReport(failed=await _give_up_abandoned(now))
    due = (
        await WebhookDelivery.filter(status=P.PENDING, next_attempt_at__lte=now, endpoint__is_active=True)
        .order_by("next_attempt_at", "id")
        .limit(batch)
        .select_related("endpoint")
    )
    report.due = len(due)
    gate = asyncio.Semaphore(CONCURRENCY)

    async def attempt(delivery: WebhookDelivery) -> str | None:
        async with gate:
            number = await _claim(delivery, now)
            if number is None:
                return None
            outcome = await _send(http, delivery, delivery.endpoint)
            if not outcome.ok:
                log.info(
                    "webhook delivery %s to %s failed (attempt %s): %s",
                    delivery.id,
                    delivery.endpoint.url,
                    number,
                    outcome.error,
                )
            return await _record(delivery, number, outcome, now)

    for result in await asyncio.gather(*(attempt(d) for d in due)):
        if result == "delivered":
            report.delivered += 1
        elif result == "retrying":
            report.retrying += 1
        elif result == "failed":
            report.failed += 1
    return report


async def deliver_all_due(http: httpx.AsyncClient, now: dt.datetime | None = None) -> DeliveryReport:
    """Batches of `deliver_due` until nothing due is left (the command line's job)."""
    now = now or _now()
    total = DeliveryReport()
    while True:
        report = await deliver_due(http, now, BATCH)
        total += report
        if report.due < BATCH:
            return total


def new_http_client() -> httpx.AsyncClient:
    """The client the server and the command line send with (redirects are not followed)."""
    return httpx.AsyncClient(
        timeout=TIMEOUT_SECONDS, follow_redirects=False, headers={"User-Agent": USER_AGENT}
    )
