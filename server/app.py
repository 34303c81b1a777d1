"""The ASGI application factory."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from schema import build_schema
from server import routes
from server.db import close_database, open_database
from server.graphql import GraphQLView
from server.settings import Settings, get_settings
from server.visitors import VisitorMiddleware


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_tokens=settings.graphql_max_tokens,
        max_aliases=settings.graphql_max_aliases,
        debug=settings.debug,
    )
    graphql = GraphQLView(schema, graphql_ide="graphiql")

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_database(settings)
        try:
            yield
        finally:
            await close_database()

    return Starlette(
        debug=settings.debug,
        routes=[
            Route("/", routes.home),
            Route("/graphql", graphql, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/go/{slug}/{platform}", routes.go, methods=["GET"]),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz),
        ],
        middleware=[
            Middleware(
                VisitorMiddleware, secret=settings.signing_key, max_age=settings.visitor_cookie_max_age
            )
        ],
        lifespan=lifespan,
    )
