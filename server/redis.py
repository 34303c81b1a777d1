"""The one Redis client of a process (REDIS_URL), or None when state stays in process."""

from __future__ import annotations

from redis.asyncio import Redis

_client: Redis | None = None


def configure(url: str | None) -> Redis | None:
    global _client
    _client = Redis.from_url(url, decode_responses=False) if url else None
    return _client


def client() -> Redis | None:
    return _client


async def close() -> None:
    global _client
    if _client is not None:
        await _client.aclose()
    _client = None
