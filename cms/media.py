"""Uploaded images: checked by their content, re-encoded without metadata, stored in several widths.

Files are named after the SHA-256 of their own bytes, so a URL never changes meaning and can be
cached for ever. A Media row's key is the hash of the upload and its alt text: sending the same
image with the same alt text again returns the stored one instead of a copy.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import pathlib
import re
import tempfile
import unicodedata
from dataclasses import dataclass
from typing import Any

import anyio
import anyio.to_thread
from PIL import Image, ImageCms, ImageOps
from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from cms import audit
from cms.paging import check_offset, page_size
from models.accounts import User
from models.cms import Media
from models.errors import BadUserInput

OBJECT_TYPE = "media"
MAX_PIXELS = 40_000_000
MAX_ALT_TEXT = 300
MAX_SIDE = 2560  # the "full" variant fits in a square of this side
WIDTHS = (320, 800, 1600)
LIBRARY_PAGE_MAX = 100

# What Pillow may open, and what each becomes: GIF keeps only its first frame, as a PNG.
_OUTPUT = {
    "JPEG": ("JPEG", "image/jpeg", "jpg"),
    "PNG": ("PNG", "image/png", "png"),
    "GIF": ("PNG", "image/png", "png"),
    "WEBP": ("WEBP", "image/webp", "webp"),
}
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {
    "JPEG": {"quality": 85, "optimize": True, "progressive": True},
    "PNG": {"compress_level": 6},
    "WEBP": {"quality": 82, "method": 4},
}
# Decoding takes up to ~200 MB per image at the pixel limit: a few at once per process, waiting
# outside the shared thread pool so file serving never queues behind uploads.
_DECODERS = anyio.CapacityLimiter(2)
_SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))
_WHITESPACE = re.compile(r"\s+")


class ImageTooLarge(BadUserInput):
    """The file is over the byte limit (HTTP 413)."""

    code = "PAYLOAD_TOO_LARGE"


@dataclass(frozen=True)
class EncodedVariant:
    name: str
    file: str  # relative to the media root
    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class PreparedImage:
    content_type: str
    variants: tuple[EncodedVariant, ...]

    @property
    def full(self) -> EncodedVariant:
        return self.variants[-1]


@dataclass(frozen=True)
class StoredImage:
    media: Media
    created: bool  # False when the same image with the same alt text was stored already


def clean_alt_text(alt_text: str | None) -> str:
    text = _WHITESPACE.sub(" ", alt_text or "").strip()
    if not text:
        raise BadUserInput("describe the image in its alt text", field="alt")
    if len(text) > MAX_ALT_TEXT:
        raise BadUserInput(f"the alt text is limited to {MAX_ALT_TEXT} characters", field="alt")
    return text


def clean_file_name(name: str | None) -> str:
    base = pathlib.PurePosixPath((name or "").replace("\\", "/")).name
    base = "".join(c for c in base if unicodedata.category(c)[0] != "C").strip()
    return base[:255] or "upload"


def _open(data: bytes, max_pixels: int) -> Image.Image:
    """Decodes the first frame, refusing anything but JPEG, PNG, WebP and GIF, and oversized images."""
    too_many_pixels = BadUserInput(
        f"the image has more than {max_pixels // 1_000_000} million pixels",
        field="file",
        maxPixels=max_pixels,
    )
    try:
        image = Image.open(io.BytesIO(data), formats=list(_OUTPUT))
    except Image.DecompressionBombError as exc:
        raise too_many_pixels from exc
    except MemoryError:
        raise
    except Exception as exc:  # Pillow reports unknown and damaged files with many exception types
        raise BadUserInput("the file is not a JPEG, PNG, WebP or GIF image", field="file") from exc
    width, height = image.size
    # Only the header has been read so far: refuse bombs before decoding a single pixel.
    if width * height > max_pixels:
        raise too_many_pixels
    if width < 1 or height < 1:
        raise BadUserInput("the image has no pixels", field="file")
    try:
        image.load()
    except MemoryError:
        raise
    except Exception as exc:
        raise BadUserInput("the image is damaged or truncated", field="file") from exc
    return image


def _has_alpha(image: Image.Image) -> bool:
    return image.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in image.info


def _to_srgb(image: Image.Image) -> Image.Image:
    """Turns the image upright, into sRGB (RGB or RGBA), and drops every piece of metadata."""
    upright = ImageOps.exif_transpose(image) or image
    mode = "RGBA" if _has_alpha(upright) else "RGB"
    icc = upright.info.get("icc_profile")
    converted: Image.Image | None = None
    if icc and upright.mode in ("RGB", "RGBA", "CMYK"):
        # Phone photos are often Display P3; without converting, their colours shift once the profile goes.
        try:
            source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
            converted = ImageCms.profileToProfile(upright, source, _SRGB, outputMode=mode)
        except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
            converted = None
    result = converted if converted is not None else upright.convert(mode)
    result.info = {}
    return result


def _encode(image: Image.Image, name: str, pillow_format: str, extension: str) -> EncodedVariant:
    buffer = io.BytesIO()
    image.save(buffer, pillow_format, **_SAVE_OPTIONS[pillow_format])
    data = buffer.getvalue()
    digest = hashlib.sha256(data).hexdigest()
    return EncodedVariant(
        name=name,
        file=f"{digest[:2]}/{digest[:32]}.{extension}",
        width=image.width,
        height=image.height,
        data=data,
    )


def _resized(image: Image.Image, width: int, height: int) -> Image.Image:
    if (width, height) == image.size:
        return image
    return image.resize((width, height), Image.Resampling.LANCZOS, reducing_gap=3.0)


def prepare_image(data: bytes, max_pixels: int = MAX_PIXELS) -> PreparedImage:
    """Checks and re-encodes an upload in every width (CPU-bound: call it from a thread)."""
    image = _open(data, max_pixels)
    pillow_format, content_type, extension = _OUTPUT[image.format or ""]
    clean = _to_srgb(image)
    scale = min(1.0, MAX_SIDE / max(clean.size))
    full_width = max(1, round(clean.width * scale))
    full_height = max(1, round(clean.height * scale))
    full = _resized(clean, full_width, full_height)
    variants = [
        _encode(
            _resized(full, width, max(1, round(full_height * width / full_width))),
            f"w{width}",
            pillow_format,
            extension,
        )
        for width in WIDTHS
        if width < full_width  # never upscaled
    ]
    variants.append(_encode(full, "full", pillow_format, extension))
    return PreparedImage(content_type=content_type, variants=tuple(variants))


def _write_files(
    media_root: pathlib.Path, variants: tuple[EncodedVariant, ...], created: list[pathlib.Path]
) -> None:
    """Writes each file under a temporary name, then renames it; lists in `created` what it added."""
    for variant in variants:
        target = media_root / variant.file
        if target.exists():
            continue  # same bytes, same name: stored already
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
        try:
            with os.fdopen(handle, "wb") as stream:
                stream.write(variant.data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temporary, 0o644)
            os.replace(temporary, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(temporary)
            raise
        created.append(target)


def _remove_files(paths: list[pathlib.Path]) -> None:
    for path in paths:
        with contextlib.suppress(OSError):
            path.unlink(missing_ok=True)


def upload_key(data: bytes, alt_text: str) -> str:
    return hashlib.sha256(data + b"\0" + alt_text.encode()).hexdigest()


async def store_upload(
    data: bytes,
    *,
    original_name: str | None,
    alt_text: str | None,
    uploader: User | None,
    media_root: pathlib.Path,
    max_bytes: int,
    max_pixels: int = MAX_PIXELS,
) -> StoredImage:
    """Checks an uploaded image, writes its variants under `media_root` and records it.

    Raises BadUserInput (ImageTooLarge over `max_bytes`); on any failure nothing is left behind.
    """
    alt = clean_alt_text(alt_text)
    if len(data) > max_bytes:
        raise ImageTooLarge(
            f"the file is over the limit of {max_bytes} bytes", field="file", maxBytes=max_bytes
        )
    if not data:
        raise BadUserInput("the file is empty", field="file")
    key = upload_key(data, alt)
    existing = await Media.get_or_none(key=key)
    if existing is not None:
        return StoredImage(existing, created=False)

    prepared = await anyio.to_thread.run_sync(prepare_image, data, max_pixels, limiter=_DECODERS)
    created: list[pathlib.Path] = []
    try:
        # Not abandoned on cancellation, so `created` always lists every file written.
        await anyio.to_thread.run_sync(_write_files, media_root, prepared.variants, created)
        async with in_transaction():
            media = await Media.create(
                key=key,
                original_name=clean_file_name(original_name),
                content_type=prepared.content_type,
                width=prepared.full.width,
                height=prepared.full.height,
                size=len(data),
                alt_text=alt,
                variants={
                    v.name: {"file": v.file, "width": v.width, "height": v.height} for v in prepared.variants
                },
                uploaded_by=uploader,
            )
            await audit.record(
                uploader, "media.upload", OBJECT_TYPE, media.id, key=key, contentType=prepared.content_type
            )
    except IntegrityError:
        existing = await Media.get_or_none(key=key)
        if existing is None:
            _remove_files(created)
            raise
        # The same upload sent twice at once: the other one won, and its files are these same files.
        return StoredImage(existing, created=False)
    except BaseException:
        _remove_files(created)
        raise
    return StoredImage(media, created=True)


async def library(first: int, offset: int) -> list[Media]:
    """Uploaded images, newest first."""
    first = page_size(first, LIBRARY_PAGE_MAX)
    return await Media.all().order_by("-created_at", "-id").offset(check_offset(offset)).limit(first)
