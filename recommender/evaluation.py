"""Offline evaluation on the jobseeker simulator: the model against popularity and content baselines.

A `World` is a catalogue, a questionnaire and a simulator over them. Held-out simulated people
answer the questionnaire; each policy ranks the catalogue from their answers; the ranking is
scored against the simulator's ground truth (how well each service serves the person's latent
needs, which popularity does not enter):

- NDCG@10 with the true relevance (0..1) as gain, ideal DCG from the person's ten best services;
- Recall@10: share of the person's relevant services (relevance ≥ 0.5) in the ten, out of at most
  ten (so 1.0 is reachable when more than ten are relevant);
- MRR: 1 / rank of the first relevant service in the ten (0 when none is).

`clicks per session` is measured online: each held-out person is shown the policy's ten and
clicks as the simulator's click model says (position bias and brand pull included).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from recommender import content
from recommender.features import FeatureSpec, ServiceArrays, ServiceContent, encode_answers, encode_services
from recommender.model import Ranker
from recommender.questionnaire_schema import Questionnaire
from recommender.simulator import Person, Simulator, SimulatorConfig
from recommender.training import FeedbackSession

K = 10
RELEVANT = 0.5
POPULARITY_VISITS = 100_000  # visits spread by the simulator's popularity shares

Policy = Callable[[Mapping[str, list[str]]], list[int]]  # answers -> catalogue rows, best first


@dataclass(frozen=True)
class _Link:
    platform: str


@dataclass(frozen=True)
class _SimService:
    slug: str
    categories: Sequence[str]
    kind: str
    tags: Sequence[str]
    links: Sequence[_Link]


class World:
    """A catalogue (published, free services), a questionnaire and simulated jobseekers."""

    def __init__(
        self,
        services: Sequence[ServiceContent],
        questionnaire: Questionnaire,
        seed: int = 7,
        config: SimulatorConfig | None = None,
    ) -> None:
        self.questionnaire = questionnaire
        self.simulator = Simulator(
            [
                _SimService(s.slug, s.categories, s.kind, s.tags, [_Link(p) for p in s.platforms])
                for s in services
            ],
            questionnaire.model_dump(mode="json"),
            seed=seed,
            config=config,
        )
        shares = self.simulator.popularity
        # The catalogue as the store would hold it: visits follow the world's popularity.
        self.services = [
            ServiceContent(
                service_id=s.service_id,
                slug=s.slug,
                name=s.name,
                short_description=s.short_description,
                categories=s.categories,
                kind=s.kind,
                platforms=s.platforms,
                tags=s.tags,
                popularity=round(shares[s.slug] * POPULARITY_VISITS),
            )
            for s in services
        ]
        self.row = {s.slug: i for i, s in enumerate(self.services)}

    def spec(self) -> FeatureSpec:
        return FeatureSpec(slugs=tuple(s.slug for s in self.services))

    def arrays(self, spec: FeatureSpec) -> ServiceArrays:
        return encode_services(spec, self.services)

    def feedback(self, policy: Policy, n: int, spec: FeatureSpec) -> list[FeedbackSession]:
        """`n` new training people are shown `policy`'s ten; what they click and rate, as feedback."""
        sessions = self.simulator.logs(n, lambda answers: [self.services[r].slug for r in policy(answers)])
        return [
            FeedbackSession(
                answers=encode_answers(spec, self.questionnaire, session.answers),
                shown=tuple(self.row[slug] for slug in session.shown),
                clicked=frozenset(self.row[slug] for slug in session.clicks),
                ratings={self.row[slug]: stars for slug, stars in session.ratings.items()},
            )
            for session in sessions
        ]


def _top(scores: np.ndarray, k: int = K) -> list[int]:
    k = min(k, len(scores))
    candidates = np.argpartition(-scores, k - 1)[:k] if k < len(scores) else np.arange(len(scores))
    return [int(i) for i in sorted(candidates, key=lambda i: (-scores[i], i))]


def popularity_policy(world: World) -> Policy:
    order = sorted(range(len(world.services)), key=lambda r: (-world.services[r].popularity, r))[:K]
    return lambda answers: order


def content_policy(world: World, spec: FeatureSpec | None = None) -> Policy:
    spec = spec or world.spec()
    services = world.arrays(spec)

    def rank(answers: Mapping[str, list[str]]) -> list[int]:
        profile = encode_answers(spec, world.questionnaire, answers).needs
        return _top(content.content_scores(profile, services))

    return rank


def model_policy(world: World, ranker: Ranker, spec: FeatureSpec) -> Policy:
    def rank(answers: Mapping[str, list[str]]) -> list[int]:
        features = encode_answers(spec, world.questionnaire, answers)
        return _top(ranker.score(features.needs, features.options))

    return rank


@dataclass(frozen=True)
class Metrics:
    ndcg: float
    recall: float
    mrr: float
    clicks_per_session: float
    people: int

    def as_dict(self) -> dict[str, float]:
        return {
            "ndcg@10": round(self.ndcg, 4),
            "recall@10": round(self.recall, 4),
            "mrr": round(self.mrr, 4),
            "clicks_per_session": round(self.clicks_per_session, 4),
            "people": self.people,
        }


_DISCOUNT = 1.0 / np.log2(np.arange(2, K + 2))


def ranking_metrics(ranking: Sequence[int], relevance: np.ndarray) -> tuple[float, float, float]:
    gains = relevance[list(ranking)]
    ideal = np.sort(relevance)[::-1][: len(gains)]
    idcg = float(ideal @ _DISCOUNT[: len(ideal)])
    ndcg = float(gains @ _DISCOUNT[: len(gains)]) / idcg if idcg > 0 else 0.0
    relevant = relevance >= RELEVANT
    total = int(relevant.sum())
    hits = relevant[list(ranking)]
    recall = float(hits.sum()) / min(total, K) if total else math.nan
    first = np.flatnonzero(hits)
    mrr = 1.0 / (int(first[0]) + 1) if len(first) else 0.0
    return ndcg, recall, (mrr if total else math.nan)


def evaluate(world: World, policies: Mapping[str, Policy], people: int = 2000) -> dict[str, Metrics]:
    """Every policy on the same held-out people (the simulator's evaluation stream)."""
    held_out: list[Person] = world.simulator.held_out(people)
    truth = [world.simulator.relevance_array(p) for p in held_out]  # rows in world.services order
    answers = [world.simulator.answers(p) for p in held_out]
    results: dict[str, Metrics] = {}
    for name, policy in policies.items():
        scores = []
        clicks = 0
        for person, relevance, chosen in zip(held_out, truth, answers, strict=True):
            ranking = policy(chosen)
            scores.append(ranking_metrics(ranking, relevance))
            session = world.simulator.session(person, [world.services[r].slug for r in ranking], chosen)
            clicks += len(session.clicks)
        table = np.array(scores, dtype=float)
        results[name] = Metrics(
            ndcg=float(np.nanmean(table[:, 0])),
            recall=float(np.nanmean(table[:, 1])),
            mrr=float(np.nanmean(table[:, 2])),
            clicks_per_session=clicks / len(held_out),
            people=len(held_out),
        )
    return results


def table(results: Mapping[str, Metrics], reference: str = "popularity") -> str:
    """A Markdown table, with NDCG@10 as a ratio to `reference`."""
    base = results[reference].ndcg if reference in results else math.nan
    lines = [
        f"| system | NDCG@10 | × {reference} | Recall@10 | MRR | clicks/session |",
        "|---|---|---|---|---|---|",
    ]
    for name, m in results.items():
        ratio = m.ndcg / base if base else math.nan
        lines.append(
            f"| {name} | {m.ndcg:.3f} | {ratio:.2f} | {m.recall:.3f} | {m.mrr:.3f} | {m.clicks_per_session:.2f} |"
        )
    return "\n".join(lines)


def summary(results: Mapping[str, Metrics]) -> dict[str, Any]:
    return {name: m.as_dict() for name, m in results.items()}
