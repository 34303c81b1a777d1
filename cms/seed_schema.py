"""Shape of the demo catalogue files in cms/data/catalogue/*.json, checked before anything is written.

Run `python -m cms.seed_schema` to validate every file and print counts.
"""

from __future__ import annotations

import datetime as dt
import json
import pathlib
import re
import sys
from collections import Counter
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, field_validator, model_validator

DATA_DIR = pathlib.Path(__file__).parent / "data" / "catalogue"

PUBLIC_EMPLOYMENT_SERVICE = "pole-emploi"

CATEGORY_SLUGS = (
    "choisir-un-metier",
    "trouver-une-formation",
    "preparer-sa-candidature",
    "trouver-un-emploi",
    "creer-une-entreprise",
    "travailler-a-l-etranger",
)

ServiceKindName = Literal[
    "website",
    "mobile_app",
    "mooc",
    "elearning_game",
    "interview_simulator",
    "quiz",
    "job_board",
    "cv_builder",
    "job_fair",
    "company_search",
    "tool",
]
PlatformName = Literal["web", "app_store", "google_play", "microsoft_store", "blackberry_world"]
PartnerKindName = Literal[
    "startup", "large_company", "training_body", "public_organisation", "independent", "association"
]

SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SeedPartner(_Strict):
    slug: str = Field(pattern=SLUG_RE.pattern, max_length=80)
    name: str = Field(min_length=2, max_length=120)
    kind: PartnerKindName
    website: HttpUrl


class SeedLink(_Strict):
    platform: PlatformName
    url: HttpUrl

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: HttpUrl) -> HttpUrl:
        if url.scheme not in ("http", "https"):
            raise ValueError("links must be http(s) URLs")
        return url


class SeedService(_Strict):
    slug: str = Field(pattern=SLUG_RE.pattern, max_length=80)
    name: str = Field(min_length=2, max_length=120)
    short_description: str = Field(min_length=30, max_length=300)
    long_description: str = Field(min_length=120, max_length=4000)
    kind: ServiceKindName
    categories: list[Literal[CATEGORY_SLUGS]] = Field(min_length=1, max_length=3)  # type: ignore[valid-type]
    provider: str = Field(pattern=SLUG_RE.pattern)
    tags: list[str] = Field(min_length=1, max_length=10)
    links: list[SeedLink] = Field(min_length=1, max_length=5)
    launched_on: dt.date
    free: bool = True

    @field_validator("tags")
    @classmethod
    def _tags_are_slugs(cls, tags: list[str]) -> list[str]:
        for tag in tags:
            if not SLUG_RE.match(tag):
                raise ValueError(f"tag {tag!r} must be a lowercase slug")
        return tags

    @model_validator(mode="after")
    def _one_link_per_platform(self) -> SeedService:
        platforms = [link.platform for link in self.links]
        if len(platforms) != len(set(platforms)):
            raise ValueError("one link per platform")
        return self


class SeedFile(_Strict):
    partners: list[SeedPartner] = Field(default_factory=list)
    services: list[SeedService]


class SeedCatalogue(_Strict):
    partners: dict[str, SeedPartner]
    services: list[SeedService]


def load_catalogue(directory: pathlib.Path = DATA_DIR) -> SeedCatalogue:
    """Read and cross-check every file; raises ValueError naming the first problem."""
    partners: dict[str, SeedPartner] = {}
    services: list[SeedService] = []
    for path in sorted(directory.glob("*.json")):
        try:
            data = SeedFile.model_validate(json.loads(path.read_text(encoding="utf-8")))
        except Exception as exc:  # pydantic and json errors both name the field
            raise ValueError(f"{path.name}: {exc}") from exc
        for partner in data.partners:
            known = partners.get(partner.slug)
            if known is not None and known.name != partner.name:
                raise ValueError(f"{path.name}: partner {partner.slug} named twice differently")
            partners.setdefault(partner.slug, partner)
        services.extend(data.services)

    seen: dict[str, str] = {}
    for service in services:
        if service.slug in seen:
            raise ValueError(f"service slug {service.slug} appears twice")
        seen[service.slug] = service.name
        if service.provider != PUBLIC_EMPLOYMENT_SERVICE and service.provider not in partners:
            raise ValueError(f"service {service.slug}: unknown provider {service.provider}")
    names = Counter(s.name.casefold() for s in services)
    twice = [n for n, c in names.items() if c > 1]
    if twice:
        raise ValueError(f"service names appear twice: {twice[:5]}")
    shorts = Counter(s.short_description for s in services)
    if any(c > 1 for c in shorts.values()):
        raise ValueError("two services share a short description")
    return SeedCatalogue(partners=partners, services=services)


def main() -> int:
    try:
        catalogue = load_catalogue(pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else DATA_DIR)
    except ValueError as exc:
        print(f"invalid: {exc}")
        return 1
    services = catalogue.services
    print(f"{len(services)} services, {len(catalogue.partners)} partners")
    print("public employment service:", sum(s.provider == PUBLIC_EMPLOYMENT_SERVICE for s in services))
    print("by kind:", dict(Counter(s.kind for s in services).most_common()))
    print("by first category:", dict(Counter(s.categories[0] for s in services).most_common()))
    print("platforms:", dict(Counter(link.platform for s in services for link in s.links).most_common()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
