"""Plain HTTP routes beside /graphql: tracked redirects, previews, health and readiness."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Awaitable

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from tortoise import Tortoise

from models.enums import Platform
from models.errors import NotFound
from recommender.registry import registry as models
from resolvers import catalogue as resolve
from resolvers import cms as resolve_cms
from search import registry as search_registry


async def go(request: Request) -> Response:
    """GET /go/{slug}/{platform}: 302 to the stored URL, recording the visit; 404 for anything unknown."""
    slug = request.path_params["slug"]
    try:
        platform = Platform(request.path_params["platform"])
    except ValueError:
        return PlainTextResponse("Unknown platform.", status_code=404)
    try:
        redirect = await resolve.track_redirect(
            slug, platform, request.query_params.get("from"), request.state.visitor.current()
        )
    except NotFound as exc:
        return PlainTextResponse(exc.message, status_code=404)
    # The target is never taken from the request: it is the URL stored for this service and platform.
    return RedirectResponse(redirect.url, status_code=302, headers={"Cache-Control": "no-store"})


PREVIEW_PAGE = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><meta name="robots" content="noindex">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Aperçu : {title}</title>
<style>body{{font:17px/1.6 system-ui,sans-serif;max-width:42rem;margin:2rem auto;padding:0 1rem;color:#1d1d1b}}
.banner{{background:#fff4ce;border:1px solid #e0c36a;padding:.5rem .8rem;border-radius:4px;font-size:.9rem}}
img{{max-width:100%}}</style></head>
<body><p class="banner">Aperçu d'un brouillon, révision {revision}. Ce contenu n'est pas publié.</p>
<h1>{title}</h1><p><strong>{summary}</strong></p>{body}</body></html>"""


async def preview(request: Request) -> Response:
    """GET /preview/{token}: a draft as it would look, for someone without an account."""
    try:
        found = await resolve_cms.open_preview(
            request.app.state.config.secret,
            request.path_params["token"],
            request.app.state.config.preview_lifetime,
        )
    except NotFound as exc:
        return PlainTextResponse(exc.message, status_code=404)
    page = PREVIEW_PAGE.format(
        title=html.escape(found.content.title),
        summary=html.escape(found.content.summary),
        revision=found.revision.id,
        body=resolve_cms.render(found.content.body),  # sanitised by nh3
    )
    return HTMLResponse(page, headers={"Cache-Control": "private, no-store", "X-Robots-Tag": "noindex"})


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


# A probe must answer before the load balancer's own timeout, whatever hangs behind it.
CHECK_TIMEOUT_SECONDS = 2.0


async def _check(work: Awaitable[object]) -> str:
    """Returns "ok", or what went wrong in one line."""
    try:
        await asyncio.wait_for(work, CHECK_TIMEOUT_SECONDS)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_SECONDS:g}s"
    except Exception as exc:  # any failure is reported, not raised
        return (f"{type(exc).__name__}: {exc}")[:200]
    return "ok"


async def _database() -> None:
    await Tortoise.get_connection("default").execute_query("SELECT 1")


async def _database_search() -> None:
    # A real (tiny) lookup: the backend's tables, extensions and indexes all have to answer.
    await search_registry.database_backend().suggest("emploi", 1)


async def _elasticsearch(backend: object) -> None:
    from search.elastic import ElasticsearchBackend

    assert isinstance(backend, ElasticsearchBackend), backend
    # One try, short: the backend's own client retries, which is right for searches, not for probes.
    client = backend.client.options(request_timeout=CHECK_TIMEOUT_SECONDS / 2, max_retries=0)
    if not await client.indices.exists_alias(name=backend.alias):
        raise LookupError(f"no index behind the alias {backend.alias!r} (run `emploi-store search reindex`)")


async def readyz(request: Request) -> Response:
    """Ready to serve: the database and its search index answer (503 naming what fails otherwise).

    Elasticsearch, when configured, is checked and reported but not required: searches fall back to
    the database while it is away, so taking every worker out of service would only make it worse.
    Also says which recommender scorer serves.
    """
    external = search_registry.external_backend()
    checks = [_check(_database()), _check(_database_search())]
    if external is not None:
        checks.append(_check(_elasticsearch(external)))
    database, database_search, *elasticsearch = await asyncio.gather(*checks)
    search: dict[str, str] = {"database": database_search}
    if elasticsearch:
        search["elasticsearch"] = elasticsearch[0]
    failing = [name for name, state in (("database", database), ("search", database_search)) if state != "ok"]
    status = "unavailable" if failing else "degraded" if elasticsearch and elasticsearch[0] != "ok" else "ok"
    body: dict[str, object] = {"status": status, "database": database, "search": search}
    if failing:
        body["failing"] = failing
    body["recommender"] = models.status()
    return JSONResponse(body, status_code=503 if failing else 200, headers={"Cache-Control": "no-store"})


async def home(request: Request) -> Response:
    return RedirectResponse("/graphql", status_code=307)
