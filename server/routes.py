"""Plain HTTP routes beside /graphql: tracked redirects and health."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from tortoise import Tortoise

from models.enums import Platform
from models.errors import NotFound
from resolvers import catalogue as resolve


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


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    try:
        await Tortoise.get_connection("default").execute_query("SELECT 1")
    except Exception as exc:  # any failure means not ready; say which
        return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, status_code=503)
    return JSONResponse({"status": "ok", "database": "ok"})


async def home(request: Request) -> Response:
    return RedirectResponse("/graphql", status_code=307)
