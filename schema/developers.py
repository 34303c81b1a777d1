"""Developers building on the API: their API keys (sent as the X-Api-Key header)."""

from __future__ import annotations

import datetime as dt

import strawberry

from models.enums import Role
from resolvers import developers as resolve
from schema.arguments import parse_id, signed_in_user
from schema.context import Info
from schema.permissions import HasRole, allow

DEVELOPERS = (Role.DEVELOPER, Role.ADMIN)


@strawberry.type(
    description="A key that names your app to the API (X-Api-Key header) and gives it the keyed "
    "rate-limit budget. The key itself is shown once, when it is created."
)
class ApiKey:
    id: strawberry.ID
    name: str
    prefix: str = strawberry.field(description='The first 8 characters after "es_", to tell keys apart.')
    created_at: dt.datetime
    last_used_at: dt.datetime | None = strawberry.field(
        description="Updated at most once a minute, so it may lag a little."
    )
    revoked_at: dt.datetime | None


@strawberry.type
class CreatedApiKey:
    key: str = strawberry.field(description="The key to send as X-Api-Key; shown this once, keep it safe.")
    api_key: ApiKey


@strawberry.type
class DevelopersQuery:
    @strawberry.field(
        description="Your API keys, revoked ones included, newest first (developers and admins).",
        extensions=allow(HasRole(*DEVELOPERS)),
    )
    async def api_keys(self, info: Info) -> list[ApiKey]:
        return await resolve.api_keys_of(await signed_in_user(info))  # type: ignore[return-value]


@strawberry.type
class DevelopersMutation:
    @strawberry.mutation(
        description="Create an API key (developers and admins; at most 20 active keys each).",
        extensions=allow(HasRole(*DEVELOPERS)),
    )
    async def create_api_key(self, info: Info, name: str) -> CreatedApiKey:
        created = await resolve.create_api_key(await signed_in_user(info), name)
        return CreatedApiKey(key=created.key, api_key=created.api_key)  # type: ignore[arg-type]

    @strawberry.mutation(
        description="Revoke one of your API keys for good; revoking it again changes nothing.",
        extensions=allow(HasRole(*DEVELOPERS)),
    )
    async def revoke_api_key(self, info: Info, id: strawberry.ID) -> ApiKey:
        key_id = parse_id(id)
        return await resolve.revoke_api_key(await signed_in_user(info), key_id)  # type: ignore[return-value]
