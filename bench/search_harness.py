"""What the search benchmarks share: the judged queries, fresh seeded databases, the backends to
measure, and the naive baseline.

Each database is built the way an operator builds one: `python -m server.cli migrate` then `seed`
in a subprocess, with DATABASE_URL and VAR_DIR pointing into a temporary directory (or a throwaway
PostgreSQL database). The benchmark then opens it in process and indexes search.documents.all_documents().
"""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

REPO = pathlib.Path(__file__).resolve().parent.parent
JUDGED_PATH = REPO / "tests" / "search" / "judged_queries.json"
DEFAULT_PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
INDEX_BATCH = 500


@dataclass(frozen=True)
class JudgedQuery:
    query: str
    relevant: dict[str, int]  # service slug → grade 1..3
    note: str


def load_judged(path: pathlib.Path = JUDGED_PATH) -> list[JudgedQuery]:
    data = json.loads(path.read_text(encoding="utf-8"))
    return [JudgedQuery(q["query"], dict(q["relevant"]), q.get("note", "")) for q in data["queries"]]


def pg_admin_url() -> str:
    return os.environ.get("BENCH_PG_ADMIN_URL", DEFAULT_PG_ADMIN_URL)


def elasticsearch_url() -> str | None:
    return os.environ.get("ELASTICSEARCH_URL") or None


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


async def postgres_unavailable(admin_url: str) -> str | None:
    """None when a PostgreSQL server answers at admin_url, otherwise why not."""
    import asyncpg

    try:
        connection = await asyncpg.connect(_asyncpg_dsn(admin_url), timeout=5)
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        return f"{type(exc).__name__}: {exc}"
    await connection.close()
    return None


def _asyncpg_dsn(url: str) -> str:
    return url.replace("postgres://", "postgresql://", 1)


def _run_cli(*args: str, database_url: str, var_dir: pathlib.Path) -> None:
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": "bench-secret",
    }
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", *args],
        env=env,
        cwd=var_dir,  # away from any .env in the working copy
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"`emploi-store {' '.join(args)}` failed:\n{result.stdout}{result.stderr}")


@asynccontextmanager
async def seeded_database(dialect: str, workdir: pathlib.Path) -> AsyncIterator[str]:
    """A new database ("sqlite" or "postgres"), migrated and seeded by the CLI (no model), open in
    this process."""
    from server.db import close_database, open_database
    from server.settings import Settings

    admin_url = pg_admin_url()
    name = f"emploi_bench_{uuid.uuid4().hex[:12]}"
    if dialect == "sqlite":
        url = f"sqlite://{workdir / 'bench.sqlite3'}"
    elif dialect == "postgres":
        import asyncpg

        admin = await asyncpg.connect(_asyncpg_dsn(admin_url))
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
        url = admin_url.rsplit("/", 1)[0] + f"/{name}"
    else:
        raise ValueError(dialect)
    try:
        started = time.perf_counter()
        await asyncio.to_thread(_run_cli, "migrate", database_url=url, var_dir=workdir)
        # No seed-time recommender model: no benchmark serves it, and training it costs seconds.
        await asyncio.to_thread(_run_cli, "seed", "--no-model", database_url=url, var_dir=workdir)
        log(f"[{dialect}] migrated and seeded in {time.perf_counter() - started:.1f}s")
        await open_database(
            Settings(
                database_url=url, var_dir=workdir, secret_key="bench-secret", scheduler_interval_seconds=0
            )
        )
        try:
            yield url
        finally:
            await close_database()
            # Tortoise caches each model's INSERT statement per connection name ("default"), in
            # the dialect it was first built for: the next database in this process may differ.
            from tortoise.backends.base.executor import EXECUTOR_CACHE

            EXECUTOR_CACHE.clear()
    finally:
        if dialect == "postgres":
            import asyncpg

            admin = await asyncpg.connect(_asyncpg_dsn(admin_url))
            try:
                await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            finally:
                await admin.close()


def database_backend() -> Any:
    """FTS5 on SQLite, PostgreSQL full-text search on PostgreSQL, as the product chooses it."""
    from search.registry import database_backend as chosen

    return chosen()


@asynccontextmanager
async def elasticsearch_backend(url: str) -> AsyncIterator[Any]:
    """The Elasticsearch backend on an index of its own, deleted afterwards."""
    from search import registry

    index = f"emploi-store-bench-{uuid.uuid4().hex[:8]}"
    registry.configure(url, index)
    backend = registry.external_backend()
    try:
        yield backend
    finally:
        registry.configure(None)
        await _close(backend)
        await _delete_indices(url, index)


async def _close(backend: Any) -> None:
    for name in ("aclose", "close"):
        method = getattr(backend, name, None)
        if callable(method):
            result = method()
            if asyncio.iscoroutine(result):
                await result
            return


async def _delete_indices(url: str, index: str) -> None:
    """Deletes the bench index by concrete name (wildcard deletes are usually refused)."""
    try:
        from elasticsearch import AsyncElasticsearch
    except ImportError:
        return
    client = AsyncElasticsearch(url)
    try:
        found = await client.indices.get(index=f"{index}*", ignore_unavailable=True, allow_no_indices=True)
        for concrete in found:
            await client.indices.delete(index=concrete, ignore_unavailable=True)
    except Exception as exc:  # leave the index behind rather than hide the figures
        log(f"could not delete Elasticsearch index {index}*: {exc}")
    finally:
        await client.close()


async def build_index(backend: Any, documents: Sequence[Any]) -> float:
    """setup(), clear(), then index the documents in batches; returns the seconds it took."""
    started = time.perf_counter()
    await backend.setup()
    await backend.clear()
    for start in range(0, len(documents), INDEX_BATCH):
        await backend.index(documents[start : start + INDEX_BATCH])
    return time.perf_counter() - started


async def all_documents() -> list[Any]:
    from search.documents import all_documents as documents

    return await documents()


async def service_slugs_by_id() -> dict[int, str]:
    from models.catalogue import Service

    return dict(await Service.all().values_list("id", "slug"))


def services_only_request(query: str, first: int) -> Any:
    from search.backend import ContentType, SearchFilter, SearchRequest

    return SearchRequest(query=query, filter=SearchFilter(content_types=(ContentType.SERVICE,)), first=first)


async def ranked_slugs(backend: Any, query: str, slugs: dict[int, str], k: int) -> list[str]:
    """The top k services a backend returns for a query, as slugs (articles are left out)."""
    from search.backend import ContentType

    result = await backend.search(services_only_request(query, k))
    return [
        slugs.get(hit.object_id, f"?{hit.object_id}")
        for hit in result.hits
        if hit.content_type == ContentType.SERVICE
    ][:k]


class NameLikeBaseline:
    """What a search box without a search engine does: the query as a substring of the service
    name (case-insensitive LIKE), most visited first."""

    name = "baseline: LIKE on name"

    async def search_slugs(self, query: str, k: int) -> list[str]:
        from cms.catalogue import published_services

        found = (
            await published_services()
            .filter(name__icontains=query.strip())
            .order_by("-redirect_count", "id")
            .limit(k)
            .values_list("slug", flat=True)
        )
        return [str(slug) for slug in found]
