"""POST /media (image uploads for editors) and GET /media/… (the stored files, cached for ever)."""

from __future__ import annotations

import os
import pathlib
from collections.abc import Iterable
from typing import Any

from starlette.datastructures import Headers, UploadFile
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route
from starlette.staticfiles import NotModifiedResponse, PathLike, StaticFiles
from starlette.types import Message, Receive, Scope

from models.cms import Media
from models.errors import UserError
from resolvers import media as resolve
from resolvers.auth import CSRF_HEADER, SESSION_COOKIE, Auth
from schema.permissions import EDITORIAL
from server.settings import Settings

# Room for the multipart boundaries, part headers and the alt text around the file itself.
ENVELOPE_BYTES = 64 * 1024
MAX_ALT_PART_BYTES = 16 * 1024
STATUS_BY_CODE = {
    "BAD_USER_INPUT": 400,
    "UNAUTHENTICATED": 401,
    "FORBIDDEN": 403,
    "NOT_FOUND": 404,
    "PAYLOAD_TOO_LARGE": 413,
    "UNSUPPORTED_MEDIA_TYPE": 415,
}
FILE_HEADERS = {
    # Names are hashes of the bytes, so a file never changes.
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
}


class _BodyTooLarge(Exception):
    pass


def error(status: int, code: str, message: str, **extensions: Any) -> JSONResponse:
    body = {"errors": [{"message": message, "extensions": {"code": code, **extensions}}]}
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _user_error(exc: UserError) -> JSONResponse:
    extensions = dict(exc.extensions)
    code = extensions.pop("code")
    return error(STATUS_BY_CODE.get(code, 400), code, exc.message, **extensions)


def _limited(receive: Receive, limit: int) -> Receive:
    """Counts the body as it arrives, for clients that send no Content-Length or a false one."""
    seen = 0

    async def receive_within_limit() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge
        return message

    return receive_within_limit


def image_json(media: Media, request: Request) -> dict[str, Any]:
    """The same fields as the GraphQL Image type."""
    base = str(request.base_url).rstrip("/")
    variants = [
        {
            "name": name,
            "width": int(v["width"]),
            "height": int(v["height"]),
            "url": f"{base}/media/{v['file']}",
        }
        for name, v in sorted((media.variants or {}).items(), key=lambda item: int(item[1]["width"]))
    ]
    return {
        "id": str(media.id),
        "url": variants[-1]["url"] if variants else "",
        "altText": media.alt_text,
        "width": media.width,
        "height": media.height,
        "contentType": media.content_type,
        "variants": variants,
    }


class MediaFiles(StaticFiles):
    """Starlette's static files (ETag, 304, no way out of the directory), with long-lived caching."""

    def file_response(
        self, full_path: PathLike, stat_result: os.stat_result, scope: Scope, status_code: int = 200
    ) -> Response:
        response = FileResponse(
            full_path, status_code=status_code, stat_result=stat_result, headers=FILE_HEADERS
        )
        if self.is_not_modified(response.headers, Headers(scope=scope)):
            return NotModifiedResponse(response.headers)
        return response

    async def check_config(self) -> None:
        """A media root that does not exist yet only means nothing was uploaded: 404, not an error."""


class MediaEndpoints:
    def __init__(self, media_root: pathlib.Path, max_bytes: int) -> None:
        self.media_root = media_root
        self.max_bytes = max_bytes
        self.files = MediaFiles(directory=media_root, check_dir=False)

    async def upload(self, request: Request) -> Response:
        """POST /media, multipart fields `file` and `alt`: 201 with the stored image."""
        auth = Auth(
            authorization=request.headers.get("authorization"),
            cookie=request.cookies.get(SESSION_COOKIE),
            csrf_header=request.headers.get(CSRF_HEADER),
        )
        user = await auth.user()
        if user is None:
            response = error(401, "UNAUTHENTICATED", "sign in first")
            response.headers["WWW-Authenticate"] = "Bearer"
            return response
        if not await auth.csrf_ok():
            return error(403, "FORBIDDEN", "an upload needs the session's X-CSRF-Token header", reason="csrf")
        if user.role not in EDITORIAL:
            return error(403, "FORBIDDEN", "your role does not allow this", role=user.role.value)

        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip().lower() != "multipart/form-data":
            return error(415, "UNSUPPORTED_MEDIA_TYPE", "send the image as multipart/form-data")
        limit = self.max_bytes + ENVELOPE_BYTES
        too_large = error(
            413,
            "PAYLOAD_TOO_LARGE",
            f"the file is over the limit of {self.max_bytes} bytes",
            maxBytes=self.max_bytes,
        )
        try:
            declared = int(request.headers.get("content-length", "0"))
        except ValueError:
            return error(400, "BAD_USER_INPUT", "the Content-Length header is not a number")
        if declared > limit:
            return too_large

        limited = Request(request.scope, _limited(request.receive, limit))
        try:
            async with limited.form(max_files=1, max_fields=4, max_part_size=MAX_ALT_PART_BYTES) as form:
                upload, alt = form.get("file"), form.get("alt")
                if not isinstance(upload, UploadFile):
                    return error(
                        400, "BAD_USER_INPUT", "send the image in a file field named `file`", field="file"
                    )
                if upload.size is not None and upload.size > self.max_bytes:
                    return too_large
                stored = await resolve.upload_image(
                    await upload.read(),
                    original_name=upload.filename,
                    alt_text=alt if isinstance(alt, str) else None,
                    uploader=user,
                    media_root=self.media_root,
                    max_bytes=self.max_bytes,
                )
        except _BodyTooLarge:
            return too_large
        except HTTPException as exc:  # the multipart body does not parse
            return error(400, "BAD_USER_INPUT", str(exc.detail))
        except ClientDisconnect:
            return error(400, "BAD_REQUEST", "the upload was interrupted")
        except UserError as exc:
            return _user_error(exc)
        return JSONResponse(
            image_json(stored.media, request),
            status_code=201 if stored.created else 200,
            headers={"Cache-Control": "no-store"},
        )

    async def serve(self, request: Request) -> Response:
        """GET /media/{path}: a stored file; nothing outside the media root, no temporary files."""
        parts = request.path_params["path"].split("/")
        if not all(parts) or any(part.startswith(".") or "\\" in part for part in parts):
            return Response("Not Found", status_code=404, media_type="text/plain")
        return await self.files.get_response(os.path.join(*parts), request.scope)


def routes(settings: Settings) -> Iterable[Route]:
    endpoints = MediaEndpoints(settings.effective_media_root, settings.media_max_bytes)
    return (
        Route("/media", endpoints.upload, methods=["POST"]),
        Route("/media/{path:path}", endpoints.serve, methods=["GET", "HEAD"]),
    )
