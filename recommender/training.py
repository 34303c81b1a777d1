"""Training the two-tower model: cold start from the editors' mapping, then from feedback.

Cold start (no clicks yet): random but valid sets of answers are drawn from the questionnaire;
for each, the editors' option→need mapping and the services' content needs give a target
ranking (the content scorer's), and the model learns it with a listwise softmax loss.

Feedback: every recommendation shown is a list of ten services, some clicked (redirects with
?from= the recommendation) and some later rated. Clicks are explained by a position-bias-aware
click model, P(click at rank r) = P(examined at r) × P(attractive), with the examination chances
and a popularity pull learned jointly (so a click at rank 9 counts for more than one at rank 1,
a service skipped at rank 9 counts for less than one skipped at rank 1, and a brand's pull is not
mistaken for fit). Ratings of 4–5 are positives, 1–2 negatives. The cold-start loss stays in
the objective so that services and answers nobody has clicked yet keep sensible scores.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from recommender.features import (
    AnswerFeatures,
    Bags,
    FeatureSpec,
    ServiceArrays,
    encode_answers,
    stack_answers,
)
from recommender.model import SHOWN, ModelDims, TwoTower
from recommender.questionnaire_schema import Questionnaire

Progress = Callable[[int], None]  # called with the number of steps just done


@dataclass(frozen=True)
class FeedbackSession:
    """One recommendation as the model learns from it (rows index the encoded catalogue)."""

    answers: AnswerFeatures
    shown: tuple[int, ...]  # catalogue rows, in the order shown (rank 1 first)
    clicked: frozenset[int]  # catalogue rows clicked
    ratings: Mapping[int, int] = field(default_factory=dict)  # catalogue row -> stars
    ranks: tuple[int, ...] | None = None  # 1-based rank of each shown row (default 1, 2, 3…)

    def positions(self) -> tuple[int, ...]:
        return self.ranks if self.ranks is not None else tuple(range(1, len(self.shown) + 1))


@dataclass(frozen=True)
class TrainingConfig:
    seed: int = 0
    dims: ModelDims = field(default_factory=ModelDims)
    cold_start_steps: int = 800
    feedback_epochs: int = 6
    batch_sessions: int = 256
    batch_queries: int = 64
    learning_rate: float = 3e-3
    weight_decay: float = 1e-5
    temperature: float = 0.1  # of the cold-start targets (scores scaled to a maximum of 1)
    cold_start_weight: float = 0.5  # of the cold-start loss while learning from feedback
    rating_weight: float = 1.0
    click_model_speed: float = 10.0  # learning-rate multiplier of the click model's parameters
    skip_optional: float = 0.2  # chance a random cold-start answer set skips an optional question


@dataclass
class TrainingReport:
    cold_start_steps: int = 0
    feedback_sessions: int = 0
    feedback_steps: int = 0
    final_loss: float = math.nan
    examination: list[float] = field(default_factory=list)  # learned, relative to rank 1
    popularity_pull: float = 0.0


def random_answers(
    questionnaire: Questionnaire, rng: np.random.Generator, skip: float
) -> dict[str, list[str]]:
    """A valid set of answers: every required question, some optional ones, random options."""
    chosen: dict[str, list[str]] = {}
    for question in questionnaire.questions:
        if not question.required and rng.random() < skip:
            continue
        keys = [o.key for o in question.options]
        if question.kind == "single":
            chosen[question.key] = [keys[int(rng.integers(len(keys)))]]
        else:
            count = 1 + int(rng.integers(question.max_choices or 1))
            picked = rng.choice(len(keys), size=min(count, len(keys)), replace=False)
            chosen[question.key] = [keys[int(i)] for i in sorted(picked)]
    return chosen


def cold_start_queries(
    spec: FeatureSpec, questionnaire: Questionnaire, n: int, rng: np.random.Generator, skip: float
) -> list[AnswerFeatures]:
    return [encode_answers(spec, questionnaire, random_answers(questionnaire, rng, skip)) for _ in range(n)]


def _select(bags: Bags, rows: np.ndarray) -> Bags:
    ends = np.append(bags.offsets[1:], len(bags.values))
    return Bags.of([bags.values[bags.offsets[r] : ends[r]].tolist() for r in rows])


class Trainer:
    def __init__(
        self,
        spec: FeatureSpec,
        services: ServiceArrays,
        questionnaire: Questionnaire,
        config: TrainingConfig,
        model: TwoTower | None = None,
    ) -> None:
        self.spec = spec
        self.services = services
        self.questionnaire = questionnaire
        self.config = config
        torch.manual_seed(config.seed)
        self.rng = np.random.default_rng(config.seed)
        self.model = model or TwoTower(spec, config.dims)
        # The click model's few scalars learn faster than the towers' weights.
        model = self.model
        click = [model.examination, model.popularity_pull, model.click_scale, model.click_bias]
        towers = [p for p in model.parameters() if all(p is not c for c in click)]
        groups: list[dict[str, Any]] = [
            {"params": towers},
            {"params": click, "lr": config.learning_rate * config.click_model_speed, "weight_decay": 0.0},
        ]
        self.optimizer = torch.optim.AdamW(
            groups,
            lr=config.learning_rate,
            weight_decay=config.weight_decay,
        )
        self.service_needs = torch.from_numpy(services.needs)
        self.log_popularity = torch.from_numpy(services.log_popularity)
        self.report = TrainingReport()
        # Cold-start queries: drawn once, so epochs see the same pool.
        self.pool = cold_start_queries(spec, questionnaire, 4096, self.rng, config.skip_optional)

    # -- losses -----------------------------------------------------------------------------
    def _cold_start_loss(self, service_vectors: torch.Tensor) -> torch.Tensor:
        picks = self.rng.integers(len(self.pool), size=self.config.batch_queries)
        needs, options = stack_answers([self.pool[int(i)] for i in picks])
        answer_needs = torch.from_numpy(needs)
        answers = self.model.encode_answers(answer_needs, options)
        scores = self.model.scores(answers, answer_needs, service_vectors, self.service_needs)
        teacher = answer_needs @ self.service_needs.T
        teacher = teacher / teacher.max(dim=1, keepdim=True).values.clamp_min(1e-6)
        target = F.softmax(teacher / self.config.temperature, dim=1)
        return -(target * F.log_softmax(scores, dim=1)).sum(dim=1).mean()

    def _feedback_loss(self, batch: Sequence[FeedbackSession], service_vectors: torch.Tensor) -> torch.Tensor:
        needs, options = stack_answers([s.answers for s in batch])
        answer_needs = torch.from_numpy(needs)
        answers = self.model.encode_answers(answer_needs, options)
        # One slot per position shown; a slot whose service left the catalogue stays masked.
        rows = torch.zeros((len(batch), SHOWN), dtype=torch.long)
        mask = torch.zeros((len(batch), SHOWN))
        clicked = torch.zeros((len(batch), SHOWN))
        rated: list[tuple[int, int, int]] = []
        for i, session in enumerate(batch):
            for row, rank in zip(session.shown, session.positions(), strict=True):
                if 1 <= rank <= SHOWN:
                    rows[i, rank - 1], mask[i, rank - 1] = row, 1.0
                    clicked[i, rank - 1] = float(row in session.clicked)
                    if stars := session.ratings.get(row):
                        rated.append((i, rank - 1, stars))
        # Scores of the shown services only: (batch, SHOWN).
        vectors = service_vectors[rows]  # (batch, SHOWN, dim)
        scores = (vectors @ answers.unsqueeze(2)).squeeze(2) + self.model.alpha * (
            self.service_needs[rows] @ answer_needs.unsqueeze(2)
        ).squeeze(2)
        model = self.model
        attractive = model.click_scale * scores + model.click_bias
        log_attractive = F.logsigmoid(attractive + model.popularity_pull * self.log_popularity[rows])
        log_examined = F.logsigmoid(model.examination).unsqueeze(0)
        log_click = (log_examined + log_attractive).clamp(max=-1e-6)
        log_no_click = torch.log1p(-torch.exp(log_click))
        nll = -(clicked * log_click + (1 - clicked) * log_no_click)
        loss = (nll * mask).sum() / mask.sum().clamp_min(1)
        useful = [(i, r, 1.0 if stars >= 4 else 0.0) for i, r, stars in rated if stars != 3]
        if useful:
            index_i = torch.tensor([u[0] for u in useful])
            index_r = torch.tensor([u[1] for u in useful])
            labels = torch.tensor([u[2] for u in useful])
            logits = attractive[index_i, index_r]
            loss = loss + self.config.rating_weight * F.binary_cross_entropy_with_logits(logits, labels)
        return loss

    def _step(self, loss: torch.Tensor) -> float:
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return float(loss.detach())

    # -- phases -----------------------------------------------------------------------------
    def cold_start(self, progress: Progress | None = None) -> None:
        self.model.train()
        for _ in range(self.config.cold_start_steps):
            loss = self._cold_start_loss(self.model.encode_services(self.services))
            self.report.final_loss = self._step(loss)
            self.report.cold_start_steps += 1
            if progress:
                progress(1)

    def feedback_steps(self, sessions: Sequence[FeedbackSession]) -> int:
        per_epoch = math.ceil(len(sessions) / self.config.batch_sessions) if sessions else 0
        return per_epoch * self.config.feedback_epochs

    def learn_from_feedback(
        self, sessions: Sequence[FeedbackSession], progress: Progress | None = None
    ) -> None:
        sessions = [s for s in sessions if s.shown]
        self.report.feedback_sessions = len(sessions)
        if not sessions:
            return
        self.model.train()
        size = self.config.batch_sessions
        for _ in range(self.config.feedback_epochs):
            order = self.rng.permutation(len(sessions))
            for start in range(0, len(order), size):
                batch = [sessions[int(i)] for i in order[start : start + size]]
                vectors = self.model.encode_services(self.services)
                loss = self._feedback_loss(batch, vectors)
                loss = loss + self.config.cold_start_weight * self._cold_start_loss(vectors)
                self.report.final_loss = self._step(loss)
                self.report.feedback_steps += 1
                if progress:
                    progress(1)
        examined = torch.sigmoid(self.model.examination.detach())
        self.report.examination = [round(float(e / examined[0]), 3) for e in examined]
        self.report.popularity_pull = round(float(self.model.popularity_pull.detach()), 4)


def train(
    spec: FeatureSpec,
    services: ServiceArrays,
    questionnaire: Questionnaire,
    sessions: Sequence[FeedbackSession] = (),
    config: TrainingConfig | None = None,
    progress: Progress | None = None,
) -> tuple[TwoTower, TrainingReport]:
    """Cold start, then (when there is any) learning from feedback; deterministic for a seed."""
    with deterministic():
        trainer = Trainer(spec, services, questionnaire, config or TrainingConfig())
        trainer.cold_start(progress)
        trainer.learn_from_feedback(sessions, progress)
    return trainer.model.eval(), trainer.report


@contextlib.contextmanager
def deterministic() -> Iterator[None]:
    """Same seed, same data → the same weights.

    Kernels that accumulate in parallel (embedding-bag and index backward) add in a varying order
    on several threads; one thread makes them repeatable, and for a model this small it is also
    the fastest (measured: 0.006 s a step on one thread, several times slower on two).
    """
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def total_steps(config: TrainingConfig, sessions: int) -> int:
    per_epoch = math.ceil(sessions / config.batch_sessions) if sessions else 0
    return config.cold_start_steps + per_epoch * config.feedback_epochs
