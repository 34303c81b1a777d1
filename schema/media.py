"""Uploaded images as GraphQL sees them."""

from __future__ import annotations

from typing import Any

import strawberry

from models import cms as m
from resolvers import media as resolve
from schema.context import Info
from schema.permissions import EDITORIAL, HasRole, allow


@strawberry.type(description="One stored size of an image.")
class ImageVariant:
    name: str
    width: int
    height: int
    url: str


def _variants(media: m.Media, info: Info) -> list[ImageVariant]:
    variants: dict[str, Any] = media.variants or {}
    return [
        ImageVariant(
            name=name,
            width=int(v["width"]),
            height=int(v["height"]),
            url=info.context.url_for_path(f"/media/{v['file']}"),
        )
        for name, v in sorted(variants.items(), key=lambda item: int(item[1]["width"]))
    ]


@strawberry.type(description="An uploaded image, with its alt text and resized variants.")
class Image:
    id: strawberry.ID
    alt_text: str
    width: int
    height: int
    content_type: str

    @strawberry.field(description="The largest stored size.")
    def url(self: m.Media, info: Info) -> str:  # type: ignore[misc]
        variants = _variants(self, info)
        return variants[-1].url if variants else ""

    @strawberry.field(description="Every stored size, smallest first (for srcset).")
    def variants(self: m.Media, info: Info) -> list[ImageVariant]:  # type: ignore[misc]
        return _variants(self, info)


@strawberry.type
class MediaQuery:
    @strawberry.field(
        description="Uploaded images, newest first; `first` at most 100 (upload with POST /media).",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def media_library(self, first: int = 50, offset: int = 0) -> list[Image]:
        return await resolve.media_library(first, offset)  # type: ignore[return-value]
