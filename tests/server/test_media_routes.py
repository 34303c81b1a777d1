"""POST /media takes images from editors; GET /media/… serves the stored files, cacheable for ever."""

from __future__ import annotations

import asyncio
import io
import os
import pathlib
import urllib.parse

import httpx
import pytest
from PIL import Image

from cms.accounts import create_user
from models.cms import AuditLogEntry, Media
from models.enums import Role
from tests import images
from tests.conftest import PASSWORD
from tests.factories import make_partner

SIGN_IN = """
mutation($e: String!, $p: String!) {
  signIn(email: $e, password: $p, kind: COOKIE) { csrfToken }
}
"""


@pytest.fixture
def media_root(settings) -> pathlib.Path:
    return settings.effective_media_root


def stored_files(root: pathlib.Path) -> set[pathlib.Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def upload(
    http: httpx.AsyncClient,
    data: bytes,
    alt: str | None = "Une conseillère reçoit un candidat",
    filename: str = "photo.jpg",
    content_type: str = "image/jpeg",
    **headers: str,
) -> httpx.Response:
    form = {"alt": alt} if alt is not None else {}
    return await http.post(
        "/media", files={"file": (filename, data, content_type)}, data=form, headers=headers
    )


def code_of(response: httpx.Response) -> str:
    return response.json()["errors"][0]["extensions"]["code"]


async def assert_cached_for_ever(http: httpx.AsyncClient, url: str, content_type: str) -> bytes:
    path = urllib.parse.urlsplit(url).path
    response = await http.get(path)
    assert response.status_code == 200, path
    assert response.headers["content-type"] == content_type
    assert response.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert response.headers["x-content-type-options"] == "nosniff"
    etag = response.headers["etag"]
    again = await http.get(path, headers={"if-none-match": etag})
    assert again.status_code == 304 and again.content == b""
    assert again.headers["etag"] == etag
    assert again.headers["cache-control"] == "public, max-age=31536000, immutable"
    return response.content


async def test_an_editor_uploads_a_jpeg_and_every_size_is_served_cacheable(sign_in, server):
    editor = await sign_in("editor")

    response = await upload(editor.http, images.jpeg(2000, 1000))

    assert response.status_code == 201
    body = response.json()
    media = await Media.get(id=int(body["id"]))
    assert body["altText"] == "Une conseillère reçoit un candidat"
    assert (body["width"], body["height"]) == (2000, 1000)
    assert [(v["name"], v["width"], v["height"]) for v in body["variants"]] == [
        ("w320", 320, 160),
        ("w800", 800, 400),
        ("w1600", 1600, 800),
        ("full", 2000, 1000),
    ]
    assert body["url"] == body["variants"][-1]["url"] == f"{server}/media/{media.variants['full']['file']}"
    for variant in body["variants"]:
        served = await assert_cached_for_ever(editor.http, variant["url"], "image/jpeg")
        assert Image.open(io.BytesIO(served)).size == (variant["width"], variant["height"])
    entry = await AuditLogEntry.get(action="media.upload")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (editor.user.id, "media", media.id)


async def test_a_png_upload_keeps_png_and_is_served_cacheable(sign_in):
    admin = await sign_in("admin")

    response = await upload(admin.http, images.png(900, 300), filename="logo.png", content_type="image/png")

    assert response.status_code == 201
    variants = response.json()["variants"]
    assert [(v["width"], v["height"]) for v in variants] == [(320, 107), (800, 267), (900, 300)]
    for variant in variants:
        served = await assert_cached_for_ever(admin.http, variant["url"], "image/png")
        assert Image.open(io.BytesIO(served)).mode == "RGBA"


async def test_exif_never_reaches_the_served_file(sign_in):
    editor = await sign_in("editor", is_reviewer=True)  # a reviewer is still an editor
    data = images.jpeg(1200, 800, exif=images.exif_with(6))

    response = await upload(editor.http, data)

    assert response.status_code == 201
    assert (response.json()["width"], response.json()["height"]) == (800, 1200)
    for variant in response.json()["variants"]:
        served = (await editor.http.get(urllib.parse.urlsplit(variant["url"]).path)).content
        assert b"SecretCam" not in served and b"Exif" not in served
        assert not Image.open(io.BytesIO(served)).getexif()


async def test_sending_the_same_upload_again_returns_the_stored_image(sign_in):
    editor = await sign_in("editor")
    data = images.jpeg(500, 400)
    first, again = await upload(editor.http, data), await upload(editor.http, data)
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json()
    assert await Media.all().count() == 1


# What a user can get wrong: every one is a 400 BAD_USER_INPUT naming the field.
REFUSALS = {
    "text-renamed-jpg": (images.TEXT, {}, "file"),
    "svg": (images.SVG, {"filename": "logo.svg", "content_type": "image/svg+xml"}, "file"),
    "html": (images.HTML, {"filename": "page.jpg"}, "file"),
    "truncated-jpeg": (images.truncated_jpeg(), {}, "file"),
    "bomb": (images.forged_png(8000, 8000), {"filename": "bomb.png"}, "file"),
    "missing-alt": (images.jpeg(400, 300), {"alt": None}, "alt"),
    "blank-alt": (images.jpeg(400, 300), {"alt": "  \t "}, "alt"),
    "long-alt": (images.jpeg(400, 300), {"alt": "x" * 301}, "alt"),
}


@pytest.mark.parametrize("case", REFUSALS.keys())
async def test_bad_uploads_are_refused_and_leave_nothing(sign_in, media_root, case):
    data, options, field = REFUSALS[case]
    editor = await sign_in("editor")
    before = stored_files(media_root)

    response = await upload(editor.http, data, **options)

    assert response.status_code == 400
    error = response.json()["errors"][0]
    assert error["extensions"]["code"] == "BAD_USER_INPUT" and error["extensions"]["field"] == field
    assert error["message"]
    assert await Media.all().count() == 0
    assert await AuditLogEntry.all().count() == 0
    assert stored_files(media_root) == before


async def test_a_bomb_is_named_as_such(sign_in):
    editor = await sign_in("editor")
    response = await upload(editor.http, images.forged_png(8000, 8000))
    assert response.json()["errors"][0]["extensions"]["maxPixels"] == 40_000_000


async def test_too_large_is_413_from_the_content_length_before_reading(sign_in, media_root, settings):
    editor = await sign_in("editor")
    before = stored_files(media_root)

    response = await upload(editor.http, os.urandom(settings.media_max_bytes + 100_000))

    assert response.status_code == 413
    assert code_of(response) == "PAYLOAD_TOO_LARGE"
    assert response.json()["errors"][0]["extensions"]["maxBytes"] == settings.media_max_bytes
    assert await Media.all().count() == 0 and stored_files(media_root) == before


async def test_too_large_is_413_for_a_file_just_over_the_limit(sign_in, media_root, settings):
    editor = await sign_in("editor")
    before = stored_files(media_root)
    data = images.jpeg(300, 200)
    data += b"\0" * (settings.media_max_bytes + 1 - len(data))  # what follows a JPEG is ignored by decoders

    response = await upload(editor.http, data)

    assert (response.status_code, code_of(response)) == (413, "PAYLOAD_TOO_LARGE")
    assert await Media.all().count() == 0 and stored_files(media_root) == before


async def test_too_large_is_413_while_reading_a_body_without_content_length(sign_in, media_root, settings):
    editor = await sign_in("editor")
    before = stored_files(media_root)
    boundary = "emploi-store-boundary"

    async def chunks():
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="alt"\r\n\r\nUne photo\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jpg"\r\n'
            "Content-Type: image/jpeg\r\n\r\n"
        ).encode()
        for _ in range(settings.media_max_bytes // 65536 + 8):
            yield b"\xff" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = await editor.http.post(
        "/media", content=chunks(), headers={"content-type": f"multipart/form-data; boundary={boundary}"}
    )

    assert (response.status_code, code_of(response)) == (413, "PAYLOAD_TOO_LARGE")
    assert await Media.all().count() == 0 and stored_files(media_root) == before


async def test_a_body_that_is_not_multipart_is_415(sign_in):
    editor = await sign_in("editor")
    as_json = await editor.http.post("/media", json={"file": "aGVsbG8=", "alt": "Une photo"})
    raw = await editor.http.post(
        "/media", content=images.jpeg(100, 100), headers={"content-type": "image/jpeg"}
    )
    for response in (as_json, raw):
        assert (response.status_code, code_of(response)) == (415, "UNSUPPORTED_MEDIA_TYPE")
    assert await Media.all().count() == 0


async def test_a_multipart_body_without_a_file_is_400(sign_in):
    editor = await sign_in("editor")
    response = await editor.http.post(
        "/media",
        content=b'--b\r\nContent-Disposition: form-data; name="alt"\r\n\r\nUne photo\r\n--b--\r\n',
        headers={"content-type": "multipart/form-data; boundary=b"},
    )
    assert response.status_code == 400
    assert response.json()["errors"][0]["extensions"] == {"code": "BAD_USER_INPUT", "field": "file"}


@pytest.mark.parametrize("role", ["partner", "developer"])
async def test_partners_and_developers_may_not_upload(sign_in, media_root, role):
    options = {"partner_slug": (await make_partner()).slug} if role == "partner" else {}
    account = await sign_in(role, **options)
    before = stored_files(media_root)

    response = await upload(account.http, images.jpeg(400, 300))

    assert (response.status_code, code_of(response)) == (403, "FORBIDDEN")
    assert await Media.all().count() == 0 and stored_files(media_root) == before


async def test_anonymous_uploads_are_401(client, media_root):
    before = stored_files(media_root)
    for headers in ({}, {"authorization": "Bearer not-a-real-token"}):
        response = await upload(client, images.jpeg(400, 300), **headers)
        assert (response.status_code, code_of(response)) == (401, "UNAUTHENTICATED")
        assert response.headers["www-authenticate"] == "Bearer"
    assert await Media.all().count() == 0 and stored_files(media_root) == before


async def test_a_cookie_session_needs_the_csrf_header(server, db, media_root):
    await create_user("claire@exemple.fr", PASSWORD, Role.EDITOR)
    before = stored_files(media_root)
    async with httpx.AsyncClient(base_url=server, timeout=30) as browser:
        signed = await browser.post(
            "/graphql", json={"query": SIGN_IN, "variables": {"e": "claire@exemple.fr", "p": PASSWORD}}
        )
        csrf = signed.json()["data"]["signIn"]["csrfToken"]
        assert browser.cookies.get("es_session")

        missing = await upload(browser, images.jpeg(400, 300))
        wrong = await upload(browser, images.jpeg(400, 300), **{"x-csrf-token": "pas-le-bon"})
        for response in (missing, wrong):
            assert (response.status_code, code_of(response)) == (403, "FORBIDDEN")
            assert response.json()["errors"][0]["extensions"]["reason"] == "csrf"
        assert await Media.all().count() == 0 and stored_files(media_root) == before

        accepted = await upload(browser, images.jpeg(400, 300), **{"x-csrf-token": csrf})
        assert accepted.status_code == 201
        stored = await Media.get(id=int(accepted.json()["id"]))
        assert stored.alt_text == "Une conseillère reçoit un candidat"


async def raw_get(server: str, target: str) -> int:
    """The status of a GET sent byte for byte, so no client tidies the path first."""
    url = urllib.parse.urlsplit(server)
    reader, writer = await asyncio.open_connection(url.hostname, url.port)
    try:
        writer.write(f"GET {target} HTTP/1.1\r\nHost: {url.netloc}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        status_line = await reader.readline()
        await reader.read()
    finally:
        writer.close()
        await writer.wait_closed()
    return int(status_line.split()[1])


async def test_paths_outside_the_media_root_are_404(server, client, settings, media_root):
    (settings.var_dir / "canary.txt").write_text("secret")
    hidden = media_root / "ab" / ".tmp-half-written"
    hidden.parent.mkdir(parents=True, exist_ok=True)
    hidden.write_bytes(b"partial")
    targets = [
        "/media/../canary.txt",
        "/media/%2e%2e/canary.txt",
        "/media/..%2fcanary.txt",
        "/media/%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "/media/ab/%2e%2e/%2e%2e/canary.txt",
        "/media//etc/passwd",
        "/media/%2fetc%2fpasswd",
        "/media/..%5ccanary.txt",
        "/media/ab/.tmp-half-written",
        "/media/ab",
        "/media/",
        "/media/ab/%00.jpg",
        "/media/missing.jpg",
    ]
    for target in targets:
        assert await raw_get(server, target) == 404, target
    assert (await client.get("/media/..%2fcanary.txt")).status_code == 404
