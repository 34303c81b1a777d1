"""Resolvers of the webhook fields (admins only): read arguments, call one domain function."""

from __future__ import annotations

from cms import webhooks
from models.accounts import User
from models.enums import DeliveryStatus
from models.webhooks import WebhookDelivery, WebhookEndpoint


async def endpoints() -> list[WebhookEndpoint]:
    return await webhooks.list_endpoints()


async def create_endpoint(actor: User, url: str, events: list[str] | None) -> tuple[WebhookEndpoint, str]:
    return await webhooks.create_endpoint(actor, url, events)


async def deactivate_endpoint(actor: User, endpoint_id: int) -> WebhookEndpoint:
    return await webhooks.deactivate_endpoint(actor, endpoint_id)


async def delete_endpoint(actor: User, endpoint_id: int) -> WebhookEndpoint:
    return await webhooks.delete_endpoint(actor, endpoint_id)


async def deliveries(
    endpoint_id: int | None, status: DeliveryStatus | None, first: int
) -> list[WebhookDelivery]:
    return await webhooks.list_deliveries(endpoint_id, status, first)


async def redeliver(actor: User, delivery_id: int) -> WebhookDelivery:
    return await webhooks.redeliver(actor, delivery_id)
