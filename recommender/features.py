"""What the model reads: the answers of one visitor and the content of each service, as arrays.

Both sides are encoded against a `FeatureSpec` saved inside the model file, so a model trained on
one catalogue and one questionnaire version keeps reading later ones: unknown tags, words and
answers fall into hashed buckets, and a service added after training gets the shared "unknown"
id row (its content still speaks for it).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cms.seed_schema import CATEGORY_SLUGS
from models.enums import Platform, ServiceKind
from recommender.needs import Need, service_needs
from recommender.questionnaire_schema import Questionnaire
from search.text import stems

CATEGORIES: tuple[str, ...] = CATEGORY_SLUGS
NEEDS: tuple[Need, ...] = tuple(Need)
UNKNOWN_ID = 0  # id-embedding row shared by every service the model has not seen


@dataclass(frozen=True)
class ServiceContent:
    """One published, free service as the recommender sees it."""

    service_id: int
    slug: str
    name: str
    short_description: str
    categories: tuple[str, ...]
    kind: str
    platforms: tuple[str, ...]
    tags: tuple[str, ...]
    popularity: int = 0  # redirects so far

    @property
    def needs(self) -> dict[Need, float]:
        return service_needs(self.categories, self.kind, self.tags, self.platforms)


@dataclass(frozen=True)
class FeatureSpec:
    """Vocabularies and bucket counts; stored in the model file and checked at load."""

    needs: tuple[str, ...] = tuple(n.value for n in NEEDS)
    categories: tuple[str, ...] = CATEGORIES
    kinds: tuple[str, ...] = tuple(k.value for k in ServiceKind)
    platforms: tuple[str, ...] = tuple(p.value for p in Platform)
    slugs: tuple[str, ...] = ()  # id-embedding rows 1..n, in this order
    option_buckets: int = 1024
    tag_buckets: int = 512
    text_buckets: int = 2048

    @property
    def dense_size(self) -> int:
        return len(self.needs) + len(self.categories) + len(self.kinds) + len(self.platforms)

    @property
    def id_rows(self) -> int:
        return len(self.slugs) + 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "needs": list(self.needs),
            "categories": list(self.categories),
            "kinds": list(self.kinds),
            "platforms": list(self.platforms),
            "slugs": list(self.slugs),
            "option_buckets": self.option_buckets,
            "tag_buckets": self.tag_buckets,
            "text_buckets": self.text_buckets,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FeatureSpec:
        return cls(
            needs=tuple(str(n) for n in data["needs"]),
            categories=tuple(str(c) for c in data["categories"]),
            kinds=tuple(str(k) for k in data["kinds"]),
            platforms=tuple(str(p) for p in data["platforms"]),
            slugs=tuple(str(s) for s in data["slugs"]),
            option_buckets=int(data["option_buckets"]),
            tag_buckets=int(data["tag_buckets"]),
            text_buckets=int(data["text_buckets"]),
        )

    def compatible(self) -> str | None:
        """Why this build cannot read the spec (None when it can)."""
        if self.needs != tuple(n.value for n in NEEDS):
            return "the model was trained on a different list of needs"
        return None


def bucket(token: str, buckets: int) -> int:
    """A stable hash (the same in every process, unlike hash())."""
    return zlib.crc32(token.encode("utf-8")) % buckets


@dataclass
class Bags:
    """Variable-length lists of bucket ids in the (flat values, offsets) layout of EmbeddingBag."""

    values: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    offsets: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @classmethod
    def of(cls, rows: Iterable[Sequence[int]]) -> Bags:
        values: list[int] = []
        offsets: list[int] = []
        for row in rows:
            offsets.append(len(values))
            values.extend(row)
        return cls(np.asarray(values, dtype=np.int64), np.asarray(offsets, dtype=np.int64))


@dataclass
class ServiceArrays:
    """The catalogue, encoded: one row per service."""

    service_ids: np.ndarray  # database ids, int64
    slugs: list[str]
    dense: np.ndarray  # float32 (n, dense_size): needs, categories, kind, platforms
    needs: np.ndarray  # float32 (n, len(needs)): the content needs alone
    tags: Bags
    text: Bags
    id_rows: np.ndarray  # int64 (n,)
    log_popularity: np.ndarray  # float32 (n,)

    def __len__(self) -> int:
        return len(self.slugs)


def need_vector(needs: Mapping[Need, float] | Mapping[str, float], spec: FeatureSpec) -> np.ndarray:
    index = {name: i for i, name in enumerate(spec.needs)}
    vector = np.zeros(len(spec.needs), dtype=np.float32)
    for need, weight in needs.items():
        vector[index[str(getattr(need, "value", need))]] = weight
    return vector


def encode_services(spec: FeatureSpec, services: Sequence[ServiceContent]) -> ServiceArrays:
    n_needs = len(spec.needs)
    category_at = {c: n_needs + i for i, c in enumerate(spec.categories)}
    kind_at = {k: n_needs + len(spec.categories) + i for i, k in enumerate(spec.kinds)}
    platform_base = n_needs + len(spec.categories) + len(spec.kinds)
    platform_at = {p: platform_base + i for i, p in enumerate(spec.platforms)}
    slug_row = {slug: i + 1 for i, slug in enumerate(spec.slugs)}
    dense = np.zeros((len(services), spec.dense_size), dtype=np.float32)
    for row, service in enumerate(services):
        dense[row, :n_needs] = need_vector(service.needs, spec)
        for position, category in enumerate(service.categories):
            if category in category_at:
                dense[row, category_at[category]] = 1.0 if position == 0 else 0.7
        if service.kind in kind_at:
            dense[row, kind_at[service.kind]] = 1.0
        for platform in service.platforms:
            if platform in platform_at:
                dense[row, platform_at[platform]] = 1.0
    return ServiceArrays(
        service_ids=np.asarray([s.service_id for s in services], dtype=np.int64),
        slugs=[s.slug for s in services],
        dense=dense,
        needs=dense[:, :n_needs].copy(),
        tags=Bags.of([bucket(f"tag:{t}", spec.tag_buckets) for t in s.tags] for s in services),
        text=Bags.of(
            sorted({bucket(w, spec.text_buckets) for w in stems(f"{s.name} {s.short_description}")})
            for s in services
        ),
        id_rows=np.asarray([slug_row.get(s.slug, UNKNOWN_ID) for s in services], dtype=np.int64),
        log_popularity=np.log1p(np.asarray([max(s.popularity, 0) for s in services], dtype=np.float32)),
    )


@dataclass(frozen=True)
class AnswerFeatures:
    needs: np.ndarray  # float32 (len(needs),): the need profile from the editors' mapping
    options: list[int]  # hashed "question=option" buckets


def encode_answers(
    spec: FeatureSpec, questionnaire: Questionnaire, chosen: Mapping[str, Sequence[str]]
) -> AnswerFeatures:
    profile: dict[str, float] = {}
    options: list[int] = []
    for question_key, option_keys in chosen.items():
        question = questionnaire.question(question_key)
        for option_key in option_keys:
            for need, weight in question.option(option_key).needs.items():
                profile[need.value] = profile.get(need.value, 0.0) + weight
            options.append(bucket(f"{question_key}={option_key}", spec.option_buckets))
    return AnswerFeatures(needs=need_vector(profile, spec), options=options)


def stack_answers(answers: Sequence[AnswerFeatures]) -> tuple[np.ndarray, Bags]:
    needs = np.stack([a.needs for a in answers]) if answers else np.zeros((0, len(NEEDS)), np.float32)
    return needs.astype(np.float32), Bags.of(a.options for a in answers)
