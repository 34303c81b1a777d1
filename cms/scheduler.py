"""The server's own scheduler: publishes and expires articles on time, in every worker, safely."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable

from cms import workflow

log = logging.getLogger("emploi_store.scheduler")


async def run_due_work() -> tuple[list[int], list[int]]:
    return await workflow.publish_due(), await workflow.expire_due()


@contextlib.asynccontextmanager
async def running(
    interval: float, extra: list[Callable[[], Awaitable[object]]] | None = None
) -> AsyncIterator[None]:
    """Runs the due work every `interval` seconds while the context is open (0 runs nothing)."""
    if interval <= 0:
        yield
        return

    async def loop() -> None:
        while True:
            try:
                published, expired = await run_due_work()
                if published or expired:
                    log.info("scheduler published %s, expired %s", published, expired)
                for job in extra or []:
                    await job()
            except Exception:  # keep the loop alive; the next tick retries
                log.exception("scheduler tick failed")
            await asyncio.sleep(interval)

    task = asyncio.create_task(loop(), name="emploi-store-scheduler")
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
