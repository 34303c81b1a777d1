"""The ceiling: the catalogue page served by the least code that can serve it.

A bare Starlette app under uvicorn (uvloop, httptools, no access log) with one endpoint,
GET /catalogue, that reads the first page of the GraphQL catalogue — the 20 published, free
services in the default order (RATING: average rating, then number of ratings, best first, then
id), each with its categories, links and rating summary — in ONE SQL query from an asyncpg pool
(json_agg for the categories and links), and writes it with orjson in the shape the GraphQL query
of bench/api_load.py answers:

    {"data": {"services": {"edges": [{"node": {"name", "shortDescription", "kind",
        "categories": [{"slug", "name"}], "links": [{"platform", "url"}],
        "rating": {"average", "count"}}}, ...]}}}

(orjson writes UTF-8 where the product escapes non-ASCII as \\uXXXX: the same JSON, fewer bytes.)
Whatever the product does above this — HTTP parsing, GraphQL parsing, validation and execution,
the ORM, serialisation, middleware — is the distance to this figure on the same machine.

    .venv/bin/python bench/ceiling.py --port 8001 [--workers 2]    # DATABASE_URL=postgres://…
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pathlib
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import orjson
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

PAGE_SIZE = 20
POOL_SIZE = 5  # Tortoise's default pool for asyncpg, as the product runs it
CATALOGUE_PAGE = """
SELECT s.name, s.short_description, upper(s.kind) AS kind, s.rating_count, s.rating_average,
       coalesce((SELECT json_agg(json_build_object('slug', c.slug, 'name', c.name)
                                 ORDER BY sc.position, c.position)
                 FROM service_category sc JOIN category c ON c.id = sc.category_id
                 WHERE sc.service_id = s.id), '[]') AS categories,
       coalesce((SELECT json_agg(json_build_object('platform', upper(l.platform), 'url', l.url)
                                 ORDER BY l.id)
                 FROM service_link l WHERE l.service_id = s.id), '[]') AS links
FROM service s
WHERE s.status = 'published' AND s.free
ORDER BY s.rating_average DESC, s.rating_count DESC, s.id
LIMIT $1
"""


def database_dsn() -> str:
    url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    return url.replace("postgres://", "postgresql://", 1)


async def _json_codec(connection: asyncpg.Connection) -> None:
    await connection.set_type_codec("json", encoder=orjson.dumps, decoder=orjson.loads, schema="pg_catalog")


def create_app() -> Starlette:
    pool: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        pool["main"] = await asyncpg.create_pool(
            database_dsn(), min_size=1, max_size=POOL_SIZE, init=_json_codec
        )
        try:
            yield
        finally:
            await pool["main"].close()

    async def catalogue(request: Request) -> Response:
        async with pool["main"].acquire() as connection:
            rows = await connection.fetch(CATALOGUE_PAGE, PAGE_SIZE)
        edges: list[dict[str, Any]] = [
            {
                "node": {
                    "name": row["name"],
                    "shortDescription": row["short_description"],
                    "kind": row["kind"],
                    "categories": row["categories"],
                    "links": row["links"],
                    "rating": {
                        "average": round(row["rating_average"], 2) if row["rating_count"] else None,
                        "count": row["rating_count"],
                    },
                }
            }
            for row in rows
        ]
        body = orjson.dumps({"data": {"services": {"edges": edges}}})
        return Response(body, media_type="application/json")

    async def healthz(request: Request) -> Response:
        return Response(b"ok", media_type="text/plain")

    return Starlette(
        routes=[Route("/catalogue", catalogue), Route("/healthz", healthz)],
        lifespan=lifespan,
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8001)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "ceiling:create_app",
        factory=True,
        app_dir=str(pathlib.Path(__file__).resolve().parent),
        host=args.host,
        port=args.port,
        workers=args.workers,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
