"""/admin serves the editor UI's files, and only them, with headers that lock the page down."""

from __future__ import annotations

import pytest

from server.admin import ASSETS


@pytest.mark.parametrize("path", ["/admin", "/admin/"])
async def test_the_page_is_served_locked_down_and_never_cached(client, path):
    response = await client.get(path)
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    policy = [part.strip() for part in response.headers["content-security-policy"].split(";")]
    assert "default-src 'self'" in policy
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert "require-trusted-types-for 'script'" in policy
    assert not any("unsafe" in part for part in policy)
    assert '<script type="module" src="/admin/static/admin.js"></script>' in response.text
    assert "<script>" not in response.text and " style=" not in response.text


@pytest.mark.parametrize(
    ("name", "media_type"),
    [
        ("admin.js", "text/javascript; charset=utf-8"),
        ("editor.js", "text/javascript; charset=utf-8"),
        ("admin.css", "text/css; charset=utf-8"),
        ("icon.svg", "image/svg+xml"),
    ],
)
async def test_assets_are_served_with_their_type(client, name, media_type):
    response = await client.get(f"/admin/static/{name}")
    assert response.status_code == 200
    assert response.headers["content-type"] == media_type
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.parametrize(
    "name", ["__init__.py", "index.html", "missing.js", ".hidden.js", "..%2F__init__.py", "..%2Fapp.py"]
)
async def test_nothing_else_is_served(client, name):
    response = await client.get(f"/admin/static/{name}")
    assert response.status_code == 404


async def test_the_scripts_never_evaluate_strings_or_insert_unsanitised_html(client):
    # The policy would block them anyway; this says so where a reviewer looks first.
    scripts = sorted(path.name for path in ASSETS.glob("*.js"))
    assert "admin.js" in scripts and "editor.js" in scripts
    for name in scripts:
        source = (await client.get(f"/admin/static/{name}")).text
        assert "eval(" not in source and "new Function" not in source, name
        assert source.count("innerHTML") == (1 if name == "dom.js" else 0), name
