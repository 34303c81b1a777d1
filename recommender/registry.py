"""Which scorer serves: the newest model file that loads, or the content scorer.

The server loads the newest model at start and then looks for newer files every few seconds; a
newer file that loads replaces the current model between two requests (no restart). A file that
does not load is refused with one log line, remembered (by name, size and time) so it is not
retried on every poll, and whatever served before keeps serving.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import pathlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from recommender.features import ServiceArrays, ServiceContent, encode_services

if TYPE_CHECKING:  # torch is imported only once there is a model file to load
    from recommender.artifact import Artifact
    from recommender.model import Ranker, TwoTower

MODEL_SUFFIX = ".pt"

log = logging.getLogger("emploi_store.recommender")


@dataclass
class LoadedModel:
    artifact: Artifact
    model: TwoTower
    path: pathlib.Path
    loaded_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    _ranker: tuple[tuple[ServiceContent, ...], Ranker] | None = None

    @property
    def version(self) -> str:
        return self.artifact.version

    def ranker(self, services: tuple[ServiceContent, ...]) -> Ranker:
        """Service vectors for this catalogue snapshot, computed once per snapshot."""
        from recommender.model import Ranker

        cached = self._ranker
        if cached is not None and cached[0] is services:
            return cached[1]
        ranker = Ranker(self.model, encode_services(self.artifact.spec, services))
        self._ranker = (services, ranker)
        return ranker

    def arrays(self, services: tuple[ServiceContent, ...]) -> ServiceArrays:
        return self.ranker(services).services


def _identity(path: pathlib.Path) -> tuple[str, int, int]:
    stat = path.stat()
    return (path.name, stat.st_size, stat.st_mtime_ns)


class ModelRegistry:
    def __init__(self) -> None:
        self.directory: pathlib.Path | None = None
        self.current: LoadedModel | None = None
        self.refused: dict[tuple[str, int, int], str] = {}
        self._lock = asyncio.Lock()

    def configure(self, directory: pathlib.Path | None) -> None:
        self.directory = directory
        self.current = None
        self.refused.clear()

    async def refresh(self) -> bool:
        """Load the newest model file newer than the one serving; True when the model changed."""
        if self.directory is None or not any(self.directory.glob(f"*{MODEL_SUFFIX}")):
            return False
        from recommender.artifact import ModelLoadError, load, model_files

        async with self._lock:
            for path in model_files(self.directory):
                if self.current is not None and path.name <= self.current.path.name:
                    return False  # nothing newer than what serves
                try:
                    identity = _identity(path)
                except FileNotFoundError:
                    continue
                if identity in self.refused:
                    continue
                try:
                    artifact, model = await asyncio.to_thread(load, path)
                except ModelLoadError as exc:
                    self.refused[identity] = str(exc)
                    log.error(
                        "recommender model refused: %s; still serving %s",
                        exc,
                        self.current.version if self.current else "the content scorer",
                    )
                    continue
                previous = self.current.version if self.current else "the content scorer"
                self.current = LoadedModel(artifact=artifact, model=model, path=path)
                log.info("recommender model %s loaded from %s (was %s)", artifact.version, path, previous)
                return True
            return False

    def status(self) -> dict[str, Any]:
        """For /readyz: what serves, and any file refused."""
        refused = [f"{name}: {reason}" for (name, _, _), reason in self.refused.items()]
        if self.current is None:
            return {"scorer": "content", "model": None, "refused": refused}
        return {
            "scorer": "model",
            "model": self.current.version,
            "loaded_at": self.current.loaded_at.isoformat(timespec="seconds"),
            "metrics": self.current.artifact.metrics.get("held_out", {}).get("model"),
            "refused": refused,
        }

    @contextlib.asynccontextmanager
    async def watching(self, interval: float) -> AsyncIterator[None]:
        """Load now, then poll for newer files every `interval` seconds (0: load once)."""
        await self.refresh()
        task = asyncio.create_task(self._poll(interval)) if interval > 0 else None
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            try:
                await self.refresh()
            except Exception:  # a poll must never kill the watcher; say what happened
                log.exception("recommender model poll failed")


registry = ModelRegistry()
