"""Ratings: one per voter and service, and a summary on the service that always matches them."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tortoise.functions import Count
from tortoise.transactions import in_transaction

from cms.catalogue import published_services
from models.catalogue import Service
from models.errors import BadUserInput, NotFound
from models.ratings import Rating
from search import sync as search_sync

MAX_COMMENT_LENGTH = 1000
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class RatingOutcome:
    service: Service
    rating: Rating
    replaced: bool


def clean_comment(comment: str | None) -> str | None:
    if comment is None:
        return None
    comment = comment.strip()
    if not comment:
        return None
    if len(comment) > MAX_COMMENT_LENGTH:
        raise BadUserInput(f"comment is limited to {MAX_COMMENT_LENGTH} characters", field="comment")
    if _CONTROL.search(comment):
        raise BadUserInput("comment must be plain text without control characters", field="comment")
    return comment


async def rate_service(
    service_slug: str, voter: str, stars: int, comment: str | None = None
) -> RatingOutcome:
    """Record (or replace) a voter's rating and rewrite the service's summary in the same transaction."""
    if not 1 <= stars <= 5:
        raise BadUserInput("stars must be a whole number from 1 to 5", field="stars")
    comment = clean_comment(comment)
    async with in_transaction():
        # Locking the service row serialises concurrent ratings of one service, so the
        # summary below is computed from every committed rating (SQLite serialises anyway).
        service = await published_services().select_for_update().get_or_none(slug=service_slug)
        if service is None:
            raise NotFound(f"no published service with slug {service_slug!r}", slug=service_slug)
        rating = await Rating.get_or_none(service_id=service.id, voter=voter)
        replaced = rating is not None
        if rating is None:
            rating = await Rating.create(service_id=service.id, voter=voter, stars=stars, comment=comment)
        else:
            rating.stars = stars
            rating.comment = comment
            await rating.save(update_fields=["stars", "comment", "updated_at"])
        await rewrite_summary(service)
        # The rating boosts the service in search.
        await search_sync.services_changed([service.id])
    return RatingOutcome(service=service, rating=rating, replaced=replaced)


async def rewrite_summary(service: Service) -> None:
    counts = dict(
        await Rating.filter(service_id=service.id)
        .group_by("stars")
        .annotate(n=Count("id"))
        .values_list("stars", "n")
    )
    distribution = [int(counts.get(stars, 0)) for stars in range(1, 6)]
    total = sum(distribution)
    service.rating_1, service.rating_2, service.rating_3, service.rating_4, service.rating_5 = distribution
    service.rating_count = total
    service.rating_average = (
        round(sum(stars * n for stars, n in zip(range(1, 6), distribution, strict=True)) / total, 4)
        if total
        else 0.0
    )
    await service.save(
        update_fields=[
            "rating_1",
            "rating_2",
            "rating_3",
            "rating_4",
            "rating_5",
            "rating_count",
            "rating_average",
        ]
    )
