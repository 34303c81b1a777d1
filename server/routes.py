"""Plain HTTP routes beside /graphql: tracked redirects and health."""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, PlainTextResponse, RedirectResponse, Response
from tortoise import Tortoise

from models.enums import Platform
from models.errors import NotFound
from recommender.registry import registry as models
from resolvers import catalogue as resolve
from resolvers import cms as resolve_cms


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


async def readyz(request: Request) -> Response:
    """Ready to serve: the database answers. Also says which recommender scorer serves."""
    recommender = models.status()
    try:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse(
            {"status": "unavailable", "database": str(exc)[:200], "recommender": recommender}, status_code=503
        )
    return JSONResponse({"status": "ok", "database": "ok", "recommender": recommender})


async def home(request: Request) -> Response:
    return RedirectResponse("/graphql", status_code=307)
