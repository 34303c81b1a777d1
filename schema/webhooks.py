"""Outgoing webhooks, for admins: where publication events go, and how each delivery went."""

from __future__ import annotations

import datetime as dt
from typing import cast

import strawberry
from strawberry.scalars import JSON

from models import webhooks as m
from models.enums import DeliveryStatus, Role
from resolvers import webhooks as resolve
from schema.arguments import parse_id, signed_in_user
from schema.context import Info
from schema.permissions import HasRole, allow

DeliveryStatusType = strawberry.enum(
    DeliveryStatus, name="WebhookDeliveryStatus", description="Where a webhook delivery stands."
)
ADMINS = HasRole(Role.ADMIN)


@strawberry.type(description="An address that receives signed publication events.")
class WebhookEndpoint:
    id: strawberry.ID
    url: str
    is_active: bool
    created_at: dt.datetime

    @strawberry.field(description="The events it receives; empty means all of them.")
    def events(self: m.WebhookEndpoint) -> list[str]:  # type: ignore[misc]
        return list(self.events or [])


@strawberry.type(description="One event sent (or to be sent) to one endpoint, and its outcome.")
class WebhookDelivery:
    id: strawberry.ID = strawberry.field(
        description="Sent as the X-Emploi-Store-Delivery header, so receivers can de-duplicate."
    )
    event: str
    status: DeliveryStatusType  # type: ignore[valid-type]
    attempts: int
    last_status_code: int | None
    last_error: str | None
    delivered_at: dt.datetime | None
    created_at: dt.datetime

    @strawberry.field
    def endpoint_id(self: m.WebhookDelivery) -> strawberry.ID:  # type: ignore[misc]
        return strawberry.ID(str(self.endpoint_id))

    @strawberry.field(description="When the next attempt is due; null once delivered or failed.")
    def next_attempt_at(self: m.WebhookDelivery) -> dt.datetime | None:  # type: ignore[misc]
        return self.next_attempt_at if self.status is DeliveryStatus.PENDING else None

    @strawberry.field(description="The JSON body that is sent.")
    def payload(self: m.WebhookDelivery) -> JSON:  # type: ignore[misc]
        return cast(JSON, self.payload)


@strawberry.type
class CreateWebhookEndpointPayload:
    endpoint: WebhookEndpoint
    secret: str = strawberry.field(
        description="Signs every request (X-Emploi-Store-Signature); shown this once, keep it safe."
    )


@strawberry.type
class WebhooksQuery:
    @strawberry.field(description="Every webhook endpoint (admins only).", extensions=allow(ADMINS))
    async def webhook_endpoints(self) -> list[WebhookEndpoint]:
        return await resolve.endpoints()  # type: ignore[return-value]

    @strawberry.field(
        description="Webhook deliveries, newest first; `first` capped at 100 (admins only).",
        extensions=allow(ADMINS),
    )
    async def webhook_deliveries(
        self,
        endpoint_id: strawberry.ID | None = None,
        status: DeliveryStatusType | None = None,  # type: ignore[valid-type]
        first: int = 50,
    ) -> list[WebhookDelivery]:
        endpoint = parse_id(endpoint_id, "endpointId") if endpoint_id is not None else None
        return await resolve.deliveries(endpoint, status, first)  # type: ignore[return-value]


@strawberry.type
class WebhooksMutation:
    @strawberry.mutation(
        description="Send publication events to a URL. Events: article.published, article.unpublished; "
        "none means all. The signing secret is in the answer, and only there.",
        extensions=allow(ADMINS),
    )
    async def create_webhook_endpoint(
        self, info: Info, url: str, events: list[str] | None = None
    ) -> CreateWebhookEndpointPayload:
        endpoint, secret = await resolve.create_endpoint(await signed_in_user(info), url, events)
        return CreateWebhookEndpointPayload(endpoint=endpoint, secret=secret)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Stop sending to an endpoint; what was queued for it is marked failed.",
        extensions=allow(ADMINS),
    )
    async def deactivate_webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        return await resolve.deactivate_endpoint(await signed_in_user(info), parse_id(id, "id"))  # type: ignore[return-value]

    @strawberry.mutation(
        description="Delete an endpoint and its delivery log; returns what was deleted.",
        extensions=allow(ADMINS),
    )
    async def delete_webhook_endpoint(self, info: Info, id: strawberry.ID) -> WebhookEndpoint:
        return await resolve.delete_endpoint(await signed_in_user(info), parse_id(id, "id"))  # type: ignore[return-value]

    @strawberry.mutation(
        description="Queue a failed or delivered delivery again (same delivery id).", extensions=allow(ADMINS)
    )
    async def redeliver_webhook(self, info: Info, id: strawberry.ID) -> WebhookDelivery:
        return await resolve.redeliver(await signed_in_user(info), parse_id(id, "id"))  # type: ignore[return-value]
