"""The editor web UI at /admin: static files (no build step) served with locked-down headers.

The page talks to /graphql and POST /media only, so the policy allows nothing but this origin,
and Trusted Types make sure the only HTML the scripts insert is what the server sanitised.
"""

from __future__ import annotations

import pathlib

from starlette.requests import Request
from starlette.responses import FileResponse, PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

ASSETS = pathlib.Path(__file__).parent
ASSET_TYPES = {
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        # Cover images are ours; a Markdown body may show images from any https site.
        "img-src 'self' https: blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types admin-html",
    ]
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "X-Robots-Tag": "noindex",
}


async def page(request: Request) -> Response:
    """GET /admin and /admin/: the single page; every screen is drawn by admin.js."""
    return FileResponse(
        ASSETS / "index.html",
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


async def asset(request: Request) -> Response:
    """GET /admin/static/{name}: one of the scripts, the stylesheet or the icon, nothing else."""
    name = request.path_params["name"]
    path = ASSETS / name
    media_type = ASSET_TYPES.get(path.suffix)
    if media_type is None or name.startswith(".") or not path.is_file():
        return PlainTextResponse("Not found.", status_code=404, headers=SECURITY_HEADERS)
    # No fingerprinted names without a build step, so browsers revalidate every time.
    return FileResponse(
        path, media_type=media_type, headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"}
    )


def admin_routes() -> list[BaseRoute]:
    return [
        Route("/admin", page, methods=["GET"]),
        Route("/admin/", page, methods=["GET"]),
        Route("/admin/static/{name}", asset, methods=["GET"]),
    ]
