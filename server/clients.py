"""Who a request comes from, for rate limiting: an API key (X-Api-Key), else the IP address.

The address is the ASGI scope's client: behind a proxy, what uvicorn's proxy_headers made of
X-Forwarded-For (run it with --forwarded-allow-ips set to the proxy's address). A key is looked
up through cms.api_keys, which caches lookups for a few seconds: a revoked key is refused at once
by the worker that revoked it, and within that cache's lifetime by the others.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass

from starlette.responses import Response

from cms import api_keys
from models.errors import Unauthenticated
from server import ratelimit

API_KEY_HEADER = "x-api-key"


@dataclass(frozen=True)
class Client:
    id: str  # "key:<api key id>" or "ip:<address>"
    api_key_id: int | None
    budget_per_minute: int


async def identify(headers: Mapping[str, str], client_host: str | None) -> Client:
    """The client behind a request; Unauthenticated for a malformed, unknown or revoked key.

    Budgets are those of the app answering the request (server.ratelimit.current()).
    """
    limits = ratelimit.current()
    key = next((value for name, value in headers.items() if name.lower() == API_KEY_HEADER), None)
    if key is not None:
        key_id = await api_keys.authenticate(key.strip())
        return Client(id=f"key:{key_id}", api_key_id=key_id, budget_per_minute=limits.key_per_minute)
    return Client(
        id=f"ip:{client_host or 'unknown'}", api_key_id=None, budget_per_minute=limits.anonymous_per_minute
    )


def unauthenticated_response(error: Unauthenticated, *, graphql_response_json: bool) -> Response:
    """The 401 answer to a request whose API key is refused; nothing ran."""
    body = {"errors": [{"message": error.message, "extensions": error.extensions}]}
    media_type = "application/graphql-response+json" if graphql_response_json else "application/json"
    return Response(
        json.dumps(body),
        status_code=401,
        media_type=media_type,
        headers={"WWW-Authenticate": "ApiKey", "Cache-Control": "no-store"},
    )
