"""Resolvers of uploaded images: read arguments, call one domain function."""

from __future__ import annotations

import pathlib

from cms import media
from models.accounts import User
from models.cms import Media


async def upload_image(
    data: bytes,
    *,
    original_name: str | None,
    alt_text: str | None,
    uploader: User,
    media_root: pathlib.Path,
    max_bytes: int,
) -> media.StoredImage:
    return await media.store_upload(
        data,
        original_name=original_name,
        alt_text=alt_text,
        uploader=uploader,
        media_root=media_root,
        max_bytes=max_bytes,
    )


async def media_library(first: int, offset: int) -> list[Media]:
    return await media.library(first, offset)
