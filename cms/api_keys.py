"""Developers' API keys: shown once when created, stored as a SHA-256 hash, revoked for good.

A key is "es_" followed by `secrets.token_urlsafe(32)` (43 URL-safe characters). It names the
client behind a request (the X-Api-Key header), which gets the keyed rate-limit budget; it does
not sign anyone in.

Every request that sends a key looks it up, so `authenticate` keeps what it found in this process
for KEY_CACHE_SECONDS: a revocation takes effect at once in the worker that revoked the key and
within KEY_CACHE_SECONDS in every other worker. `last_used_at` is written at most once a minute
per key and worker, never on every request.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from dataclasses import dataclass

from tortoise.transactions import in_transaction

from cms import audit
from cms.accounts import hash_token
from models.accounts import User
from models.developers import ApiKey
from models.errors import BadUserInput, NotFound, Unauthenticated

KEY_PREFIX = "es_"
_WELL_FORMED = re.compile(r"es_[A-Za-z0-9_-]{43}")
SHOWN_PREFIX_LENGTH = 8
MAX_NAME_LENGTH = 80
MAX_ACTIVE_KEYS = 20
KEY_CACHE_SECONDS = 10.0
LAST_USED_EVERY_SECONDS = 60.0
_CACHE_SIZE = 10_000
AUDIT_OBJECT = "api_key"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def is_well_formed(key: str) -> bool:
    return _WELL_FORMED.fullmatch(key) is not None


@dataclass(frozen=True)
class CreatedKey:
    api_key: ApiKey
    key: str  # shown this once: only its hash is stored


def _clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise BadUserInput("give the key a name, to tell it from your other keys", field="name")
    if len(name) > MAX_NAME_LENGTH:
        raise BadUserInput(f"a key's name is limited to {MAX_NAME_LENGTH} characters", field="name")
    return name


async def create_key(owner: User, name: str) -> CreatedKey:
    name = _clean_name(name)
    async with in_transaction():
        # Locks the owner's row, so two concurrent creations cannot both pass the count.
        await User.select_for_update().get(id=owner.id)
        if await ApiKey.filter(user_id=owner.id, revoked_at=None).count() >= MAX_ACTIVE_KEYS:
            raise BadUserInput(
                f"you have {MAX_ACTIVE_KEYS} active keys already: revoke one before creating another",
                field="name",
            )
        key = new_key()
        api_key = await ApiKey.create(
            user_id=owner.id,
            name=name,
            prefix=key[len(KEY_PREFIX) : len(KEY_PREFIX) + SHOWN_PREFIX_LENGTH],
            key_hash=hash_token(key),
        )
        await audit.record(
            owner, "api_key.create", AUDIT_OBJECT, api_key.id, name=name, prefix=api_key.prefix
        )
    return CreatedKey(api_key=api_key, key=key)


async def list_keys(owner: User) -> list[ApiKey]:
    """The owner's keys, revoked ones included, newest first."""
    return await ApiKey.filter(user_id=owner.id).order_by("-created_at", "-id")


async def revoke_key(owner: User, key_id: int) -> ApiKey:
    """Revokes one of the owner's keys; revoking it again changes nothing. Others' keys are not found."""
    async with in_transaction():
        api_key = await ApiKey.select_for_update().get_or_none(id=key_id, user_id=owner.id)
        if api_key is None:
            raise NotFound("you have no API key with that id", field="id")
        if api_key.revoked_at is None:
            api_key.revoked_at = _now()
            await api_key.save(update_fields=["revoked_at"])
            await audit.record(owner, "api_key.revoke", AUDIT_OBJECT, api_key.id, prefix=api_key.prefix)
    _lookups.forget(api_key.key_hash)
    return api_key


@dataclass(frozen=True)
class _Found:
    id: int
    key_hash: str
    revoked: bool
    owner_active: bool


class _LookupCache:
    """What a key hash was found to be, for a few seconds (None: no such key)."""

    def __init__(self, ttl: float, size: int) -> None:
        self.ttl = ttl
        self.size = size
        self._entries: dict[str, tuple[float, _Found | None]] = {}

    def get(self, key_hash: str) -> tuple[bool, _Found | None]:
        entry = self._entries.get(key_hash)
        if entry is None or entry[0] <= time.monotonic():
            return False, None
        return True, entry[1]

    def put(self, key_hash: str, found: _Found | None) -> None:
        if len(self._entries) >= self.size:
            now = time.monotonic()
            self._entries = {k: v for k, v in self._entries.items() if v[0] > now}
            if len(self._entries) >= self.size:
                self._entries.clear()
        self._entries[key_hash] = (time.monotonic() + self.ttl, found)

    def forget(self, key_hash: str) -> None:
        self._entries.pop(key_hash, None)


_lookups = _LookupCache(KEY_CACHE_SECONDS, _CACHE_SIZE)
# When this process last wrote each key's last_used_at (time.monotonic()), by key hash.
_last_written: dict[str, float] = {}


async def _find(key_hash: str) -> _Found | None:
    cached, found = _lookups.get(key_hash)
    if cached:
        return found
    row = await ApiKey.get_or_none(key_hash=key_hash).select_related("user")
    found = None
    if row is not None:
        found = _Found(
            id=row.id,
            key_hash=key_hash,
            revoked=row.revoked_at is not None,
            owner_active=row.user.is_active,
        )
    _lookups.put(key_hash, found)
    return found


async def _note_use(found: _Found) -> None:
    now = time.monotonic()
    last = _last_written.get(found.key_hash)
    if last is not None and now - last < LAST_USED_EVERY_SECONDS:
        return
    if len(_last_written) >= _CACHE_SIZE:
        _last_written.clear()
    _last_written[found.key_hash] = now
    await ApiKey.filter(id=found.id).update(last_used_at=_now())


async def authenticate(key: str) -> int:
    """The id of the live key, or Unauthenticated saying what is wrong with it."""
    if not is_well_formed(key):
        raise Unauthenticated(
            'malformed API key: a key is "es_" followed by 43 letters, digits, "-" or "_"',
            reason="malformed_api_key",
        )
    found = await _find(hash_token(key))
    if found is None:
        raise Unauthenticated("unknown API key", reason="unknown_api_key")
    if found.revoked:
        raise Unauthenticated("this API key was revoked: create a new one", reason="revoked_api_key")
    if not found.owner_active:
        raise Unauthenticated("this API key's account is deactivated", reason="inactive_account")
    await _note_use(found)
    return found.id
