"""The mediaLibrary query: editors and admins browse uploaded images, newest first."""

from __future__ import annotations

from cms import media
from tests import images
from tests.factories import make_partner

LIBRARY = """
query($first: Int, $offset: Int) {
  mediaLibrary(first: $first, offset: $offset) {
    id altText width height contentType url variants { name width height url }
  }
}
"""


async def stored(settings, alt: str, width: int) -> int:
    result = await media.store_upload(
        images.jpeg(width, 300),
        original_name="photo.jpg",
        alt_text=alt,
        uploader=None,
        media_root=settings.effective_media_root,
        max_bytes=settings.media_max_bytes,
    )
    return result.media.id


async def test_editors_see_the_library_newest_first_with_urls(sign_in, settings, server):
    older = await stored(settings, "Un atelier CV", 1000)
    newer = await stored(settings, "Un salon de l'emploi", 400)
    editor = await sign_in("editor")

    response = await editor.gql(LIBRARY)

    assert response.errors == []
    library = response.data["mediaLibrary"]
    assert [item["id"] for item in library] == [str(newer), str(older)]
    first = library[1]
    assert (first["altText"], first["width"], first["height"], first["contentType"]) == (
        "Un atelier CV",
        1000,
        300,
        "image/jpeg",
    )
    assert [v["name"] for v in first["variants"]] == ["w320", "w800", "full"]
    assert first["url"] == first["variants"][-1]["url"]
    assert first["url"].startswith(f"{server}/media/") and first["url"].endswith(".jpg")
    assert (await editor.http.get(first["url"])).status_code == 200

    paged = await editor.gql(LIBRARY, {"first": 1, "offset": 1})
    assert [item["id"] for item in paged.data["mediaLibrary"]] == [str(older)]
    admin = await sign_in("admin")
    assert len((await admin.gql(LIBRARY)).data["mediaLibrary"]) == 2


async def test_pages_are_capped_at_100(sign_in):
    editor = await sign_in("editor")
    assert (await editor.gql(LIBRARY, {"first": 100})).errors == []
    for variables in ({"first": 101}, {"first": -1}, {"offset": -5}):
        assert (await editor.gql(LIBRARY, variables)).codes == ["BAD_USER_INPUT"]


async def test_other_roles_and_visitors_may_not_browse_it(sign_in, gql):
    partner = await sign_in("partner", partner_slug=(await make_partner()).slug)
    developer = await sign_in("developer")
    assert (await partner.gql(LIBRARY)).codes == ["FORBIDDEN"]
    assert (await developer.gql(LIBRARY)).codes == ["FORBIDDEN"]
    assert (await gql(LIBRARY)).codes == ["UNAUTHENTICATED"]
