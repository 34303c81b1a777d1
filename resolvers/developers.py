"""Resolvers of the developer fields: a developer's own API keys."""

from __future__ import annotations

from cms import api_keys
from models.accounts import User
from models.developers import ApiKey


async def create_api_key(owner: User, name: str) -> api_keys.CreatedKey:
    return await api_keys.create_key(owner, name)


async def api_keys_of(owner: User) -> list[ApiKey]:
    return await api_keys.list_keys(owner)


async def revoke_api_key(owner: User, key_id: int) -> ApiKey:
    return await api_keys.revoke_key(owner, key_id)
