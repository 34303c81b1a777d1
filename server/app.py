"""The ASGI application factory."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import Route

from cms import scheduler, webhooks
from recommender.registry import registry as models
from schema import build_schema
from schema.context import RuntimeConfig
from search import registry as search_registry
from search import sync as search_sync
from server import media, observability, routes
from server import redis as shared_redis
from server.admin import admin_routes
from server.caching import CachingGraphQLView
from server.db import close_database, open_database
from server.settings import Settings, get_settings
from server.visitors import VisitorMiddleware


def create_app(settings: Settings | None = None) -> Starlette:
    settings = settings or get_settings()
    observability.configure_logging(settings)
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_tokens=settings.graphql_max_tokens,
        max_aliases=settings.graphql_max_aliases,
        debug=settings.debug,
    )
    config = runtime_config(settings)
    graphql = CachingGraphQLView(schema, graphql_ide="graphiql", config=config, settings=settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await open_database(settings)
        search_registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)
        models.configure(settings.effective_model_dir)
        shared_redis.configure(settings.redis_url)
        try:
            # One pooled client for the whole process; the scheduler's ticks send the due webhooks
            # and apply the search outbox to Elasticsearch (a no-op without ELASTICSEARCH_URL).
            async with (
                webhooks.new_http_client() as http,
                scheduler.running(
                    settings.scheduler_interval_seconds,
                    extra=[
                        lambda: webhooks.deliver_due(http),
                        search_sync.drain_all,
                        graphql.scheduled_changes,
                    ],
                ),
                models.watching(settings.recommender_poll_seconds),
            ):
                # Everything loaded so far (schema, ORM, torch and the model) lives as long as the
                # process: out of the collector's sight, a full collection stops requests for a
                # few tens of ms instead of a quarter of a second (bench/api_load.py --profile).
                gc.collect()
                gc.freeze()
                yield
        finally:
            await shared_redis.close()
            await search_registry.close()
            await close_database()

    app = Starlette(
        debug=settings.debug,
        routes=[
            Route("/", routes.home),
            Route("/graphql", graphql, methods=["GET", "POST", "PUT", "PATCH", "DELETE"]),
            Route("/go/{slug}/{platform}", routes.go, methods=["GET"]),
            Route("/preview/{token}", routes.preview, methods=["GET"]),
            *media.routes(settings),
            *admin_routes(),
            Route("/healthz", routes.healthz),
            Route("/readyz", routes.readyz),
            *observability.routes(settings),
        ],
        middleware=[
            *observability.middleware(settings),
            Middleware(
                VisitorMiddleware, secret=settings.signing_key, max_age=settings.visitor_cookie_max_age
            ),
        ],
        lifespan=lifespan,
    )
    app.state.config = config
    return app


def runtime_config(settings: Settings) -> RuntimeConfig:
    return RuntimeConfig(
        secret=settings.signing_key,
        secure_cookies=settings.secure_cookies,
        session_cookie_lifetime=dt.timedelta(hours=settings.session_cookie_hours),
        bearer_token_lifetime=dt.timedelta(days=settings.bearer_token_days),
        preview_lifetime=dt.timedelta(hours=settings.preview_link_hours),
    )
