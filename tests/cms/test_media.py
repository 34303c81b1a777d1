"""Uploaded images are checked by their content, stripped of metadata and stored in several widths."""

from __future__ import annotations

import io
import pathlib

import pytest
from PIL import Image, ImageCms

from cms import media
from cms.accounts import create_user
from models.accounts import User
from models.cms import AuditLogEntry, Media
from models.enums import Role
from models.errors import BadUserInput
from tests import images
from tests.conftest import PASSWORD

LIMIT = 5 * 1024 * 1024


@pytest.fixture
async def editor(db: None) -> User:
    return await create_user("editor@exemple.fr", PASSWORD, Role.EDITOR)


def files_under(root: pathlib.Path) -> set[pathlib.Path]:
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def store(data: bytes, root: pathlib.Path, user: User | None, alt: str | None = "Une photo", **kw):
    options = {"original_name": "photo.jpg", "media_root": root, "max_bytes": LIMIT, **kw}
    return await media.store_upload(data, alt_text=alt, uploader=user, **options)


def opened(root: pathlib.Path, media_row: Media, name: str) -> Image.Image:
    return Image.open(root / media_row.variants[name]["file"])


async def test_a_jpeg_is_stored_in_every_width_up_to_the_capped_full_size(tmp_path, editor):
    stored = await store(images.jpeg(3000, 2000), tmp_path, editor, alt="  Une conseillère   et un candidat ")

    row = await Media.get(id=stored.media.id)
    assert stored.created
    assert (row.content_type, row.width, row.height) == ("image/jpeg", 2560, 1707)
    assert row.alt_text == "Une conseillère et un candidat"
    assert row.original_name == "photo.jpg" and row.uploaded_by_id == editor.id
    sizes = {name: (v["width"], v["height"]) for name, v in row.variants.items()}
    assert sizes == {"w320": (320, 213), "w800": (800, 533), "w1600": (1600, 1067), "full": (2560, 1707)}
    for name, (width, height) in sizes.items():
        file = opened(tmp_path, row, name)
        assert (file.format, file.size) == ("JPEG", (width, height))
        # Content-addressed: the name is the hash of the bytes, so it can be cached for ever.
        assert row.variants[name]["file"].endswith(".jpg")
    assert len({v["file"] for v in row.variants.values()}) == 4
    entry = await AuditLogEntry.get(action="media.upload")
    assert (entry.actor_id, entry.object_type, entry.object_id) == (editor.id, "media", row.id)


async def test_a_png_keeps_its_transparency_and_is_never_upscaled(tmp_path, editor):
    row = (await store(images.png(1000, 500), tmp_path, editor)).media

    assert row.content_type == "image/png"
    sizes = {name: (v["width"], v["height"]) for name, v in row.variants.items()}
    assert sizes == {"w320": (320, 160), "w800": (800, 400), "full": (1000, 500)}
    full = opened(tmp_path, row, "full")
    assert full.mode == "RGBA" and full.getpixel((10, 10))[3] == 128


async def test_a_small_image_has_only_its_full_size(tmp_path, editor):
    row = (await store(images.jpeg(200, 120), tmp_path, editor)).media
    assert {n: (v["width"], v["height"]) for n, v in row.variants.items()} == {"full": (200, 120)}


async def test_a_tall_image_fits_in_the_full_size_square(tmp_path, editor):
    row = (await store(images.jpeg(1000, 4000), tmp_path, editor)).media
    assert (row.width, row.height) == (640, 2560)
    assert {n: v["width"] for n, v in row.variants.items()} == {"w320": 320, "full": 640}


async def test_exif_is_stripped_and_its_orientation_honoured(tmp_path, editor):
    # Stored sideways (600×400, red on the left) with "rotate 90° clockwise to display".
    data = images.jpeg(600, 400, exif=images.exif_with(6), comment=b"12 rue de la Paix")
    assert b"SecretCam" in data and b"rue de la Paix" in data

    row = (await store(data, tmp_path, editor)).media

    assert (row.width, row.height) == (400, 600)
    for variant in row.variants.values():
        raw = (tmp_path / variant["file"]).read_bytes()
        assert b"SecretCam" not in raw and b"PhotoLeaker" not in raw and b"Exif" not in raw
        assert b"rue de la Paix" not in raw
        file = Image.open(io.BytesIO(raw))
        assert not file.getexif() and "exif" not in file.info
    full = opened(tmp_path, row, "full").convert("RGB")
    red, blue = full.getpixel((200, 20)), full.getpixel((200, 580))
    assert red[0] > 150 and red[2] < 100  # what was on the left is now on top
    assert blue[2] > 150 and blue[0] < 100


async def test_colour_profiles_are_converted_to_srgb_and_dropped(tmp_path, editor):
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    data = images.encoded(images.picture(400, 300), "PNG", icc_profile=profile)
    row = (await store(data, tmp_path, editor)).media
    assert "icc_profile" not in opened(tmp_path, row, "full").info


async def test_webp_is_kept_as_webp_and_a_gif_becomes_its_first_frame_as_png(tmp_path, editor):
    webp = (await store(images.encoded(images.picture(900, 600), "WEBP"), tmp_path, editor)).media
    assert webp.content_type == "image/webp" and opened(tmp_path, webp, "full").format == "WEBP"

    gif = (await store(images.gif_animation(60, 40), tmp_path, editor)).media
    assert gif.content_type == "image/png"
    frame = opened(tmp_path, gif, "full")
    assert frame.format == "PNG" and frame.convert("RGB").getpixel((30, 20)) == images.LEFT
    assert getattr(frame, "n_frames", 1) == 1


async def test_a_cmyk_jpeg_is_stored_as_rgb(tmp_path, editor):
    data = images.encoded(images.picture(500, 300, "CMYK"), "JPEG")
    row = (await store(data, tmp_path, editor)).media
    assert opened(tmp_path, row, "full").mode == "RGB"


@pytest.mark.parametrize(
    ("data", "field", "extension"),
    [
        (images.TEXT, "file", None),
        (images.SVG, "file", None),
        (images.HTML, "file", None),
        (b"", "file", None),
        (images.truncated_jpeg(), "file", None),
        (images.encoded(images.picture(50, 50), "BMP"), "file", None),
        (images.encoded(images.picture(50, 50), "TIFF"), "file", None),
        (images.forged_png(7000, 7000), "file", "maxPixels"),  # 49 MP, decoding never starts
        (images.forged_png(30000, 30000), "file", "maxPixels"),  # Pillow's own bomb limit
    ],
    ids=["text", "svg", "html", "empty", "truncated", "bmp", "tiff", "bomb", "huge-bomb"],
)
async def test_anything_but_a_sound_jpeg_png_webp_or_gif_is_refused(tmp_path, editor, data, field, extension):
    with pytest.raises(BadUserInput) as refused:
        await store(data, tmp_path, editor)
    assert refused.value.extensions["code"] == "BAD_USER_INPUT"
    assert refused.value.extensions["field"] == field
    if extension:
        assert extension in refused.value.extensions
    assert await Media.all().count() == 0 and files_under(tmp_path) == set()


async def test_a_real_image_over_the_pixel_limit_is_refused(tmp_path, editor):
    data = images.encoded(Image.new("1", (8000, 6000)), "PNG")
    assert len(data) < LIMIT
    with pytest.raises(BadUserInput, match="million pixels"):
        await store(data, tmp_path, editor)
    assert await Media.all().count() == 0 and files_under(tmp_path) == set()


@pytest.mark.parametrize("alt", [None, "", "   \n ", "x" * 301])
async def test_alt_text_is_required_and_limited(tmp_path, editor, alt):
    with pytest.raises(BadUserInput) as refused:
        await store(images.jpeg(400, 300), tmp_path, editor, alt=alt)
    assert refused.value.extensions["field"] == "alt"
    assert await Media.all().count() == 0 and files_under(tmp_path) == set()


async def test_alt_text_of_300_characters_is_accepted(tmp_path, editor):
    row = (await store(images.jpeg(400, 300), tmp_path, editor, alt="é" * 300)).media
    assert row.alt_text == "é" * 300


async def test_a_file_over_the_byte_limit_is_refused_with_its_own_code(tmp_path, editor):
    data = images.jpeg(400, 300)
    with pytest.raises(media.ImageTooLarge) as refused:
        await store(data, tmp_path, editor, max_bytes=len(data) - 1)
    assert refused.value.extensions == {
        "code": "PAYLOAD_TOO_LARGE",
        "field": "file",
        "maxBytes": len(data) - 1,
    }
    assert await Media.all().count() == 0 and files_under(tmp_path) == set()


async def test_the_same_upload_twice_is_stored_once_but_another_alt_text_is_another_image(tmp_path, editor):
    data = images.jpeg(900, 600)
    first = await store(data, tmp_path, editor, alt="Un atelier CV")
    again = await store(data, tmp_path, editor, alt="Un atelier CV")
    other = await store(data, tmp_path, editor, alt="Un atelier pour refaire son CV")

    assert again.media.id == first.media.id and not again.created
    assert other.created and other.media.id != first.media.id
    assert other.media.variants == first.media.variants  # the same bytes share their files
    assert await Media.all().count() == 2
    assert await AuditLogEntry.filter(action="media.upload").count() == 2


async def test_when_the_database_write_fails_no_file_is_left(tmp_path, editor, monkeypatch):
    async def broken(*args, **kwargs):
        raise RuntimeError("database went away")

    monkeypatch.setattr(media.audit, "record", broken)
    with pytest.raises(RuntimeError):
        await store(images.jpeg(1700, 900), tmp_path, editor)
    assert await Media.all().count() == 0  # rolled back
    assert files_under(tmp_path) == set()


def test_file_names_keep_only_a_printable_base_name():
    assert media.clean_file_name("../../etc/passwd") == "passwd"
    assert media.clean_file_name("C:\\Users\\moi\\photo\x00.jpg") == "photo.jpg"
    assert media.clean_file_name(None) == "upload"
    assert len(media.clean_file_name("a" * 400 + ".jpg")) == 255


async def test_the_library_lists_newest_first_and_caps_its_pages(tmp_path, editor):
    ids = [(await store(images.jpeg(300 + i, 200), tmp_path, editor)).media.id for i in range(3)]
    assert [m.id for m in await media.library(2, 0)] == [ids[2], ids[1]]
    assert [m.id for m in await media.library(50, 2)] == [ids[0]]
    for first, offset in ((101, 0), (-1, 0), (10, -1)):
        with pytest.raises(BadUserInput):
            await media.library(first, offset)
