"""Outgoing webhooks. Events are queued in the same transaction as the change they announce."""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.webhooks import WebhookDelivery, WebhookEndpoint

ARTICLE_PUBLISHED = "article.published"
ARTICLE_UNPUBLISHED = "article.unpublished"
EVENTS = (ARTICLE_PUBLISHED, ARTICLE_UNPUBLISHED)


async def enqueue(event: str, payload: dict[str, Any]) -> list[WebhookDelivery]:
    """One pending delivery per active endpoint that listens to this event."""
    now = dt.datetime.now(dt.UTC)
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
