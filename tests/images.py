"""Real image files made with Pillow for the upload tests, and a few things that only look like images."""

from __future__ import annotations

import io
import struct
import zlib
from typing import Any

from PIL import Image, ImageDraw

SVG = b'<svg xmlns="http://www.w3.org/2000/svg" width="100" height="100"><script>alert(1)</script></svg>'
HTML = b"<!doctype html><html><body><img src=x onerror=alert(1)></body></html>"
TEXT = b"Ceci n'est pas une image.\n" * 40

LEFT, RIGHT = (220, 40, 40), (40, 40, 220)


def picture(width: int, height: int, mode: str = "RGB") -> Image.Image:
    """Left half red, right half blue, with a few shapes so the encoders have something to do."""
    image = Image.new("RGB", (width, height), RIGHT)
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, width // 2 - 1, height - 1), fill=LEFT)
    for i in range(0, min(width, height) // 2, max(1, min(width, height) // 16)):
        draw.ellipse((i, i, width - 1 - i, height - 1 - i), outline=(30 + i % 200, 160, 90))
    if mode == "RGBA":
        image.putalpha(Image.new("L", (width, height), 128))
    elif mode != "RGB":
        image = image.convert(mode)
    return image


def encoded(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg(width: int, height: int, **options: Any) -> bytes:
    return encoded(picture(width, height), "JPEG", quality=90, **options)


def png(width: int, height: int, mode: str = "RGBA") -> bytes:
    return encoded(picture(width, height, mode), "PNG")


def gif_animation(width: int, height: int) -> bytes:
    first = Image.new("RGB", (width, height), LEFT)
    second = Image.new("RGB", (width, height), RIGHT)
    return encoded(first, "GIF", save_all=True, append_images=[second], duration=100, loop=0)


def exif_with(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation  # Orientation
    exif[0x010F] = "SecretCam"  # Make
    exif[0x0131] = "PhotoLeaker 1.0"  # Software
    return exif


def truncated_jpeg() -> bytes:
    data = jpeg(800, 600)
    return data[: len(data) // 2]


def forged_png(width: int, height: int) -> bytes:
    """A 1×1 PNG whose header claims another size: decoding it would be the bomb."""
    data = bytearray(encoded(Image.new("L", (1, 1)), "PNG"))
    header = bytes(data[12:16]) + struct.pack(">II", width, height) + bytes(data[24:29])
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(header))
    return bytes(data)
