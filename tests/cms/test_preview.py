"""Signed, expiring preview links for drafts."""

from __future__ import annotations

import datetime as dt

from cms.preview import open_preview
from models.errors import NotFound
from tests.cms.test_workflow import CREATE, UPDATE, story


async def test_a_preview_link_shows_the_draft_to_anyone(sign_in, client):
    editor = await sign_in("editor")
    article_id = (await editor.gql(CREATE, {"i": story(body="Brouillon **secret**")})).data["createArticle"][
        "id"
    ]
    link = (await editor.gql(f'mutation {{ createPreviewLink(id: "{article_id}") {{ url token }} }}')).data

    page = await client.get(link["createPreviewLink"]["url"])
    assert page.status_code == 200
    assert "<strong>secret</strong>" in page.text and "Brouillon" in page.text
    assert page.headers["cache-control"] == "private, no-store"
    api = await client.post(
        "/graphql",
        json={
            "query": f'{{ articlePreview(token: "{link["createPreviewLink"]["token"]}") {{ title bodyHtml }} }}'
        },
    )
    assert api.json()["data"]["articlePreview"]["title"] == story()["title"]


async def test_the_link_keeps_showing_the_version_it_was_made_for(sign_in, client):
    editor = await sign_in("editor")
    article_id = (await editor.gql(CREATE, {"i": story(body="Première version")})).data["createArticle"]["id"]
    url = (await editor.gql(f'mutation {{ createPreviewLink(id: "{article_id}") {{ url }} }}')).data
    await editor.gql(UPDATE, {"id": article_id, "i": story(body="Seconde version")})
    page = await client.get(url["createPreviewLink"]["url"])
    assert "Première version" in page.text


async def test_tampered_and_expired_links_are_refused(sign_in, client, settings):
    editor = await sign_in("editor")
    article_id = (await editor.gql(CREATE, {"i": story()})).data["createArticle"]["id"]
    token = (await editor.gql(f'mutation {{ createPreviewLink(id: "{article_id}") {{ token }} }}')).data[
        "createPreviewLink"
    ]["token"]

    assert (await client.get(f"/preview/{token[:-2]}xx")).status_code == 404
    assert (await client.get("/preview/n-importe-quoi")).status_code == 404
    try:
        await open_preview(settings.signing_key, token, dt.timedelta(seconds=-1))
    except NotFound as exc:
        assert "expired" in exc.message
    else:
        raise AssertionError("an expired link opened")
