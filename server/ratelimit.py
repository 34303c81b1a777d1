"""Budgets of query cost per client and minute, counted in Redis when REDIS_URL is set, else in process.

The algorithm is a fixed window per client: a client's first charged request opens a window of
60 seconds, each request adds its cost to the window's count, and the count goes away when the
window ends. A request that would take the count over the client's budget is refused and adds
nothing, so a refused request never eats budget and nothing is counted twice.

With Redis, one Lua script reads, checks and adds atomically under
"<REDIS_PREFIX>ratelimit:<client id>", the window's end being the key's expiry: every worker
shares one count, and no two clocks need to agree. If Redis cannot be reached the worker counts
in process until it can (a budget per worker is better than none, or than refusing everyone).

`charge` and `identify` (server/clients.py) use the limits of the app answering the current
request: GraphQLView puts its `RateLimits` in force for the request (`in_force`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import time
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

from redis.exceptions import RedisError
from starlette.responses import Response

from server import redis as shared_redis
from server.metrics import RATE_LIMITED

if TYPE_CHECKING:
    from server.clients import Client

WINDOW_SECONDS = 60
log = logging.getLogger("emploi_store.ratelimit")

# KEYS[1]: the client's counter. ARGV: cost, budget, window (ms). Returns {allowed, used, ms left}.
_CHARGE_SCRIPT = """
local cost = tonumber(ARGV[1])
local budget = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local left = redis.call('PTTL', KEYS[1])
if left <= 0 then
  if cost > budget then
    return {0, 0, window}
  end
  redis.call('SET', KEYS[1], cost, 'PX', window)
  return {1, cost, window}
end
local used = tonumber(redis.call('GET', KEYS[1]) or '0')
if used + cost > budget then
  return {0, used, left}
end
return {1, redis.call('INCRBY', KEYS[1], cost), left}
"""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    cost: int
    remaining: int
    limit: int
    retry_after: int  # seconds, 0 when allowed
    reset_in: int = 0  # seconds until the window ends and the whole budget is back


class RateLimits:
    """One app's budgets, and where their counts live (Redis, or this object when REDIS_URL is unset)."""

    def __init__(
        self,
        *,
        anonymous_per_minute: int = 1000,
        key_per_minute: int = 10000,
        prefix: str = "emploi-store:",
        window_seconds: int = WINDOW_SECONDS,
    ) -> None:
        self.anonymous_per_minute = anonymous_per_minute
        self.key_per_minute = key_per_minute
        self.prefix = prefix
        self.window_seconds = window_seconds
        # client id → (window end on time.monotonic(), cost counted in the window)
        self._windows: dict[str, tuple[float, int]] = {}

    async def charge(self, client: Client, cost: int) -> Decision:
        cost = max(cost, 0)
        redis = shared_redis.client()
        if redis is not None:
            try:
                allowed, used, ms_left = await redis.register_script(_CHARGE_SCRIPT)(
                    keys=[f"{self.prefix}ratelimit:{client.id}"],
                    args=[cost, client.budget_per_minute, self.window_seconds * 1000],
                )
                return self._decision(client, cost, bool(allowed), int(used), int(ms_left) / 1000)
            except (RedisError, OSError) as exc:
                log.warning("rate limits counted in process: Redis failed (%s)", exc)
        return self._charge_here(client, cost)

    def _charge_here(self, client: Client, cost: int) -> Decision:
        now = time.monotonic()
        ends, used = self._windows.get(client.id, (0.0, 0))
        if ends <= now:
            self._forget_ended(now)
            ends, used = now + self.window_seconds, 0
        if used + cost > client.budget_per_minute:
            return self._decision(client, cost, False, used, ends - now)
        self._windows[client.id] = (ends, used + cost)
        return self._decision(client, cost, True, used + cost, ends - now)

    def _forget_ended(self, now: float) -> None:
        if len(self._windows) > 10_000:
            self._windows = {k: v for k, v in self._windows.items() if v[0] > now}

    def _decision(self, client: Client, cost: int, allowed: bool, used: int, seconds_left: float) -> Decision:
        reset_in = max(math.ceil(seconds_left), 1)
        if not allowed:
            RATE_LIMITED.labels(client="api_key" if client.api_key_id is not None else "anonymous").inc()
        return Decision(
            allowed=allowed,
            cost=cost,
            remaining=max(client.budget_per_minute - used, 0),
            limit=client.budget_per_minute,
            retry_after=0 if allowed else reset_in,
            reset_in=reset_in,
        )


_OUTSIDE_REQUESTS = RateLimits()
_in_force: ContextVar[RateLimits | None] = ContextVar("emploi_store_rate_limits", default=None)


def current() -> RateLimits:
    """The limits of the app answering the current request (the defaults outside one)."""
    return _in_force.get() or _OUTSIDE_REQUESTS


@contextlib.contextmanager
def in_force(limits: RateLimits) -> Iterator[None]:
    token = _in_force.set(limits)
    try:
        yield
    finally:
        _in_force.reset(token)


async def charge(client: Client, cost: int) -> Decision:
    """Counts `cost` against the client's budget, or refuses it (and counts nothing) when over."""
    return await current().charge(client, cost)


def rate_limit_headers(decision: Decision) -> dict[str, str]:
    headers = {
        "X-RateLimit-Limit": str(decision.limit),
        "X-RateLimit-Remaining": str(decision.remaining),
        "X-RateLimit-Reset": str(decision.reset_in),
    }
    if not decision.allowed:
        headers["Retry-After"] = str(decision.retry_after)
    return headers


def rate_limited_message(decision: Decision) -> str:
    return (
        f"rate limit exceeded: this operation costs {decision.cost}, and {decision.remaining} of your "
        f"{decision.limit} per minute remain; retry in {decision.retry_after} s"
    )


def rate_limited_response(decision: Decision, *, graphql_response_json: bool) -> Response:
    """The 429 answer to a refused request: no data, one RATE_LIMITED error, Retry-After."""
    body = {
        "errors": [
            {
                "message": rate_limited_message(decision),
                "extensions": {"code": "RATE_LIMITED", "retryAfter": decision.retry_after},
            }
        ]
    }
    media_type = "application/graphql-response+json" if graphql_response_json else "application/json"
    headers = {**rate_limit_headers(decision), "Cache-Control": "no-store"}
    return Response(json.dumps(body), status_code=429, media_type=media_type, headers=headers)
