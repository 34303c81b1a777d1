"""A seeded simulator of jobseekers: latent needs, questionnaire answers, clicks and ratings.

It produces logs for tests and offline evaluation of the recommender. Everything random comes
from numpy Generators derived from one seed, so the same seed and the same calls give the same
people, answers and sessions. Assumptions are written down in recommender/SIMULATOR.md.

The questionnaire is plain data: a list of questions (or ``{"questions": [...]}``), each a mapping
or object with ``key``, ``kind`` ("single" | "multiple"), ``options`` (each with ``key`` and
``needs``: {need name: weight}), and optionally ``required`` / ``optional`` and ``max_choices``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

import numpy as np

from recommender.needs import Need, service_needs

# Ranking shown to a person: slugs, best first (only the first ``shown`` are displayed).
Recommend = Callable[[Mapping[str, list[str]]], Sequence[str]]

# Flagships used when the catalogue has them: the job offers, La Bonne Boîte, an occupations
# explorer, a cover-letter tool and an interview app — one per frequent need.
DEFAULT_FLAGSHIPS: tuple[str, ...] = (
    "mes-offres-pole-emploi",
    "la-bonne-boite",
    "metierscope",
    "ma-lettre-de-motivation",
    "mon-entretien-d-embauche",
)

# How often each need is someone's concern (relative weights, normalised when drawn).
DEFAULT_NEED_PRIOR: dict[Need, float] = {
    Need.NO_OFFERS: 16.0,
    Need.NO_CV: 11.0,
    Need.PREPARING_INTERVIEW: 10.0,
    Need.COVER_LETTER: 6.0,
    Need.UNSURE_OCCUPATION: 8.0,
    Need.CAREER_CHANGE: 7.0,
    Need.WANTS_TRAINING: 8.0,
    Need.FUNDING_TRAINING: 4.0,
    Need.APPRENTICESHIP: 3.0,
    Need.HIDDEN_MARKET: 4.0,
    Need.LACKS_NETWORK: 5.0,
    Need.LACKS_MOTIVATION: 4.0,
    Need.DISCRIMINATION: 2.0,
    Need.DISABILITY: 2.0,
    Need.SENIOR: 3.0,
    Need.YOUNG: 4.0,
    Need.MOBILITY_LIMITS: 2.0,
    Need.WANTS_BUSINESS: 1.5,
    Need.WANTS_ABROAD: 1.0,
    Need.LANGUAGES: 1.0,
}

# Random-stream identifiers, so each purpose has its own reproducible stream.
_STREAM_SETUP, _STREAM_PEOPLE, _STREAM_HELD_OUT, _STREAM_ANSWERS, _STREAM_SESSIONS, _STREAM_WORLD = range(6)


class DigitalProfile(StrEnum):
    CONFIDENT = "confident"  # computer and smartphone, at ease
    MOBILE_ONLY = "mobile_only"  # a smartphone only
    LOW_CONFIDENCE = "low_confidence"  # unsure with digital tools


DIGITAL_NEED: dict[DigitalProfile, Need | None] = {
    DigitalProfile.CONFIDENT: None,
    DigitalProfile.MOBILE_ONLY: Need.MOBILE_ONLY,
    DigitalProfile.LOW_CONFIDENCE: Need.LOW_DIGITAL_CONFIDENCE,
}


@dataclass(frozen=True)
class SimulatorConfig:
    """Every knob of the simulated world; the defaults are the documented assumptions."""

    need_prior: Mapping[Need, float] = field(default_factory=lambda: dict(DEFAULT_NEED_PRIOR))
    need_count_probs: tuple[float, float, float] = (0.45, 0.4, 0.15)  # 1, 2 or 3 latent needs
    secondary_need_weight: tuple[float, float] = (0.4, 0.9)  # uniform range; the first need is 1.0
    digital_probs: Mapping[DigitalProfile, float] = field(
        default_factory=lambda: {
            DigitalProfile.CONFIDENT: 0.65,
            DigitalProfile.MOBILE_ONLY: 0.22,
            DigitalProfile.LOW_CONFIDENCE: 0.13,
        }
    )
    digital_need_weight: float = 0.4
    # Answers.
    answer_noise: float = 0.15  # chance a question gets a uniformly random option instead
    skip_optional: float = 0.2  # chance an optional question is left blank
    miss_matching: float = 0.1  # chance a matching option of a multiple-choice question is overlooked
    # Popularity: the flagships share ``flagship_share`` of the popularity mass; the rest follows a
    # Zipf law of exponent ``tail_exponent`` over the other services in a seeded random order.
    flagships: tuple[str, ...] | None = DEFAULT_FLAGSHIPS
    n_flagships: int = 5
    flagship_share: float = 0.75
    tail_exponent: float = 1.0
    # Clicks: attraction = 1 - (1 - relevance_pull * relevance) * (1 - popularity_pull * pop), where
    # pop is popularity relative to the most popular service, raised to ``popularity_sharpness``.
    relevance_pull: float = 0.5
    popularity_pull: float = 0.08
    popularity_sharpness: float = 1.0
    base_attraction: float = 0.01
    low_confidence_attention: float = 0.75  # examination multiplier for low digital confidence
    shown: int = 10
    max_clicks: int = 3
    # What the content does not say: each service serves its catalogue needs only to a degree
    # drawn from ``quality_range``, and with ``hidden_need_probability`` it also serves one need
    # its content does not mention, with a weight drawn from ``hidden_need_weight``. Only clicks
    # and ratings reveal these.
    quality_range: tuple[float, float] = (0.5, 1.0)
    hidden_need_probability: float = 0.35
    hidden_need_weight: tuple[float, float] = (0.4, 0.9)
    # Ratings: given to a clicked service with this chance; mean 1.3 + 3.7 * relevance, noise sd.
    rating_probability: float = 0.35
    rating_noise: float = 0.6


@dataclass(frozen=True)
class Option:
    key: str
    needs: Mapping[Need, float]


@dataclass(frozen=True)
class Question:
    key: str
    kind: str  # "single" | "multiple"
    options: tuple[Option, ...]
    required: bool = True
    max_choices: int | None = None


@dataclass(frozen=True)
class Person:
    id: int
    cohort: str  # "train" or "held_out"
    needs: Mapping[Need, float]  # latent needs (including a digital one) with their weights
    digital: DigitalProfile

    @property
    def primary_need(self) -> Need:
        return max(self.needs, key=lambda need: self.needs[need])


@dataclass(frozen=True)
class Session:
    shown: tuple[str, ...]
    clicks: tuple[str, ...]  # in click order, at most ``max_clicks``
    ratings: Mapping[str, int]  # slug -> 1..5, only for some clicked services
    person_id: int = -1
    answers: Mapping[str, list[str]] = field(default_factory=dict)

    @property
    def click_ranks(self) -> list[int]:
        """1-based positions of the clicked services."""
        return [self.shown.index(slug) + 1 for slug in self.clicks]


class _LinkLike(Protocol):
    @property
    def platform(self) -> str: ...


class ServiceLike(Protocol):
    """What the simulator reads from a service (cms.seed_schema.SeedService fits)."""

    @property
    def slug(self) -> str: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def kind(self) -> str: ...
    @property
    def tags(self) -> Sequence[str]: ...
    @property
    def links(self) -> Sequence[_LinkLike]: ...


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, Mapping):
        return item.get(name, default)
    return getattr(item, name, default)


def _need_weights(raw: Any) -> dict[Need, float]:
    weights: dict[Need, float] = {}
    for name, weight in dict(raw or {}).items():
        try:
            need = Need(str(name))
        except ValueError as exc:
            raise ValueError(f"unknown need {name!r} in questionnaire") from exc
        weights[need] = float(weight)
    return weights


def parse_questionnaire(data: Any) -> list[Question]:
    """Questions from plain data (mappings or objects); ``{"questions": [...]}`` is accepted too."""
    if isinstance(data, Mapping) or hasattr(data, "questions"):
        data = _field(data, "questions", [])
    questions: list[Question] = []
    for raw in data:
        if isinstance(raw, Question):
            questions.append(raw)
            continue
        kind = str(_field(raw, "kind", "single"))
        if kind not in ("single", "multiple"):
            raise ValueError(f"question {_field(raw, 'key')!r}: kind must be single or multiple")
        options = tuple(
            Option(key=str(_field(o, "key")), needs=_need_weights(_field(o, "needs")))
            for o in _field(raw, "options", [])
        )
        if not options:
            raise ValueError(f"question {_field(raw, 'key')!r} has no options")
        required = bool(_field(raw, "required", not bool(_field(raw, "optional", False))))
        max_choices = _field(raw, "max_choices")
        questions.append(
            Question(
                key=str(_field(raw, "key")),
                kind=kind,
                options=options,
                required=required,
                max_choices=int(max_choices) if max_choices is not None else None,
            )
        )
    return questions


def position_bias(rank: int) -> float:
    """Chance the service at 1-based ``rank`` is examined: 1 / log2(rank + 1)."""
    return 1.0 / math.log2(rank + 1)


class Simulator:
    """Simulated jobseekers over a catalogue and a questionnaire, reproducible from ``seed``."""

    def __init__(
        self,
        services: Iterable[ServiceLike],
        questionnaire: Any,
        seed: int = 0,
        config: SimulatorConfig | None = None,
    ) -> None:
        self.config = config or SimulatorConfig()
        self.seed = seed
        self.questions = parse_questionnaire(questionnaire)
        service_list = list(services)
        if not service_list:
            raise ValueError("the simulator needs services")
        self.slugs: list[str] = [s.slug for s in service_list]
        self._needs = list(Need)
        self._need_index = {need: i for i, need in enumerate(self._needs)}
        # Service-by-need matrix from content alone.
        self._items = np.zeros((len(service_list), len(self._needs)))
        for row, service in enumerate(service_list):
            weights = service_needs(
                service.categories, service.kind, service.tags, [link.platform for link in service.links]
            )
            for need, weight in weights.items():
                self._items[row, self._need_index[need]] = weight
        self._slug_index = {slug: i for i, slug in enumerate(self.slugs)}
        self._true_items = self._draw_true_items()
        self.flagships, self._popularity = self._draw_popularity()
        self._people_rng = self._rng(_STREAM_PEOPLE)
        self._sessions_rng = self._rng(_STREAM_SESSIONS)
        self._next_id = 0

    # -- randomness -------------------------------------------------------------------------
    def _rng(self, *key: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, *key])

    # -- what services really do ------------------------------------------------------------
    def _draw_true_items(self) -> np.ndarray:
        """The catalogue's needs, scaled by each service's hidden quality, plus hidden needs."""
        cfg = self.config
        rng = self._rng(_STREAM_WORLD)
        low, high = cfg.quality_range
        true_items = self._items * rng.uniform(low, high, size=(len(self.slugs), 1))
        prior = np.array([cfg.need_prior.get(need, 0.0) for need in self._needs], dtype=float)
        for row in range(len(self.slugs)):
            if rng.random() >= cfg.hidden_need_probability:
                continue
            candidates = prior * (self._items[row] == 0)
            if candidates.sum() <= 0:
                continue
            column = int(rng.choice(len(self._needs), p=candidates / candidates.sum()))
            true_items[row, column] = rng.uniform(*cfg.hidden_need_weight)
        return np.asarray(true_items)

    def content_needs(self, slug: str) -> dict[Need, float]:
        """What the catalogue says the service serves (what a content scorer can see)."""
        row = self._items[self._slug_index[slug]]
        return {need: float(row[i]) for i, need in enumerate(self._needs) if row[i] > 0}

    def true_needs(self, slug: str) -> dict[Need, float]:
        """What the service really serves in this world (hidden from recommenders)."""
        row = self._true_items[self._slug_index[slug]]
        return {need: float(row[i]) for i, need in enumerate(self._needs) if row[i] > 0}

    # -- popularity -------------------------------------------------------------------------
    def _draw_popularity(self) -> tuple[tuple[str, ...], np.ndarray]:
        cfg = self.config
        rng = self._rng(_STREAM_SETUP)
        wanted = [slug for slug in (cfg.flagships or ()) if slug in self._slug_index][: cfg.n_flagships]
        others = [slug for slug in self.slugs if slug not in wanted]
        order = [others[i] for i in rng.permutation(len(others))]
        flagships = tuple(wanted + order[: cfg.n_flagships - len(wanted)])
        tail = [slug for slug in order if slug not in flagships]
        popularity = np.zeros(len(self.slugs))
        for slug in flagships:
            popularity[self._slug_index[slug]] = cfg.flagship_share / len(flagships)
        if tail:
            zipf = 1.0 / np.arange(1, len(tail) + 1) ** cfg.tail_exponent
            zipf *= (1.0 - cfg.flagship_share) / zipf.sum()
            for slug, share in zip(tail, zipf, strict=True):
                popularity[self._slug_index[slug]] = share
        return flagships, popularity / popularity.sum()

    @property
    def popularity(self) -> dict[str, float]:
        """Share of visits each service gets in a popularity-driven world (sums to 1)."""
        return {slug: float(p) for slug, p in zip(self.slugs, self._popularity, strict=True)}

    def popularity_ranking(self) -> list[str]:
        """All slugs, most popular first (ties by slug)."""
        return sorted(self.slugs, key=lambda slug: (-self._popularity[self._slug_index[slug]], slug))

    # -- people -----------------------------------------------------------------------------
    def _draw_person(self, rng: np.random.Generator, person_id: int, cohort: str) -> Person:
        cfg = self.config
        prior_needs = list(cfg.need_prior)
        prior = np.array([cfg.need_prior[n] for n in prior_needs], dtype=float)
        prior /= prior.sum()
        count = 1 + int(rng.choice(len(cfg.need_count_probs), p=np.asarray(cfg.need_count_probs)))
        drawn = rng.choice(len(prior_needs), size=min(count, len(prior_needs)), replace=False, p=prior)
        needs: dict[Need, float] = {}
        for position, index in enumerate(drawn):
            low, high = cfg.secondary_need_weight
            needs[prior_needs[int(index)]] = 1.0 if position == 0 else float(rng.uniform(low, high))
        profiles = list(cfg.digital_probs)
        probs = np.array([cfg.digital_probs[p] for p in profiles], dtype=float)
        digital = profiles[int(rng.choice(len(profiles), p=probs / probs.sum()))]
        digital_need = DIGITAL_NEED[digital]
        if digital_need is not None:
            needs[digital_need] = max(needs.get(digital_need, 0.0), cfg.digital_need_weight)
        return Person(id=person_id, cohort=cohort, needs=needs, digital=digital)

    def people(self, n: int) -> list[Person]:
        """The next ``n`` people of the training stream (successive calls give new people)."""
        drawn = [self._draw_person(self._people_rng, self._next_id + i, "train") for i in range(n)]
        self._next_id += n
        return drawn

    def held_out(self, n: int) -> list[Person]:
        """The first ``n`` evaluation people: a separate stream, identical on every call."""
        rng = self._rng(_STREAM_HELD_OUT)
        return [self._draw_person(rng, i, "held_out") for i in range(n)]

    # -- answers ----------------------------------------------------------------------------
    def _option_score(self, person: Person, option: Option) -> float:
        return sum(person.needs.get(need, 0.0) * weight for need, weight in option.needs.items())

    def answers(self, person: Person) -> dict[str, list[str]]:
        """The person's questionnaire answers; the same person always answers the same way."""
        cfg = self.config
        cohort = _STREAM_HELD_OUT if person.cohort == "held_out" else _STREAM_PEOPLE
        rng = self._rng(_STREAM_ANSWERS, cohort, person.id)
        result: dict[str, list[str]] = {}
        for question in self.questions:
            if not question.required and rng.random() < cfg.skip_optional:
                continue
            options = question.options
            scores = np.array([self._option_score(person, o) for o in options])
            neutral = [i for i, o in enumerate(options) if not o.needs]
            if question.kind == "single":
                if rng.random() < cfg.answer_noise:
                    chosen = [int(rng.integers(len(options)))]
                elif scores.max() > 0:
                    best = np.flatnonzero(np.isclose(scores, scores.max()))
                    chosen = [int(rng.choice(best))]
                else:
                    pool = neutral or list(range(len(options)))
                    chosen = [int(rng.choice(pool))]
            else:
                limit = question.max_choices or len(options)
                matching = [
                    i
                    for i in np.argsort(-scores, kind="stable")
                    if scores[i] > 0 and rng.random() >= cfg.miss_matching
                ]
                chosen = [int(i) for i in matching]
                if rng.random() < cfg.answer_noise:
                    chosen.append(int(rng.integers(len(options))))
                if not chosen:
                    chosen = [int(rng.choice(neutral or list(range(len(options)))))]
                chosen = list(dict.fromkeys(chosen))  # no duplicates, order kept
                if len(chosen) > limit:  # keep the best-matching ones
                    chosen = sorted(chosen, key=lambda i: -scores[i])[:limit]
            result[question.key] = [options[i].key for i in chosen]
        return result

    # -- relevance and clicks ---------------------------------------------------------------
    def _relevance_vector(self, person: Person) -> np.ndarray:
        weights = np.zeros(len(self._needs))
        for need, weight in person.needs.items():
            weights[self._need_index[need]] = weight
        return np.clip(self._true_items @ weights / weights.sum(), 0.0, 1.0)

    def relevance_array(self, person: Person) -> np.ndarray:
        """`relevance` as an array, in the order the services were given."""
        return self._relevance_vector(person)

    def relevance(self, person: Person) -> dict[str, float]:
        """Ground truth: how well each service serves the person's latent needs (0..1).

        The dot product of the person's need weights with what the service really serves (its
        content needs scaled by its hidden quality, plus any hidden need), divided
        by the person's total need weight. Popularity is not part of it (see ``attraction``).
        """
        return {slug: float(r) for slug, r in zip(self.slugs, self._relevance_vector(person), strict=True)}

    def _attraction_vector(self, person: Person) -> np.ndarray:
        cfg = self.config
        relevance = self._relevance_vector(person)
        pop = (self._popularity / self._popularity.max()) ** cfg.popularity_sharpness
        miss = (
            (1 - cfg.relevance_pull * relevance) * (1 - cfg.popularity_pull * pop) * (1 - cfg.base_attraction)
        )
        return np.asarray(1.0 - miss)

    def attraction(self, person: Person) -> dict[str, float]:
        """Chance the person clicks each service once they have looked at it (relevance + popularity)."""
        return {slug: float(a) for slug, a in zip(self.slugs, self._attraction_vector(person), strict=True)}

    def session(
        self, person: Person, ranking: Sequence[str], answers: Mapping[str, list[str]] | None = None
    ) -> Session:
        """Show the first ``shown`` slugs of ``ranking``; position-biased examination, then clicks and ratings."""
        cfg = self.config
        shown = tuple(dict.fromkeys(ranking))[: cfg.shown]
        unknown = [slug for slug in shown if slug not in self._slug_index]
        if unknown:
            raise ValueError(f"unknown services in ranking: {unknown[:3]}")
        rng = self._sessions_rng
        attraction = self._attraction_vector(person)
        relevance = self._relevance_vector(person)
        attention = cfg.low_confidence_attention if person.digital is DigitalProfile.LOW_CONFIDENCE else 1.0
        clicks: list[str] = []
        ratings: dict[str, int] = {}
        for rank, slug in enumerate(shown, start=1):
            if len(clicks) >= cfg.max_clicks:
                break
            examined = rng.random() < attention * position_bias(rank)
            clicked = rng.random() < attraction[self._slug_index[slug]]
            if examined and clicked:
                clicks.append(slug)
        for slug in clicks:
            if rng.random() < cfg.rating_probability:
                mean = 1.3 + 3.7 * relevance[self._slug_index[slug]]
                ratings[slug] = int(np.clip(round(mean + rng.normal(0.0, cfg.rating_noise)), 1, 5))
        return Session(
            shown=shown,
            clicks=tuple(clicks),
            ratings=ratings,
            person_id=person.id,
            answers=dict(answers) if answers is not None else {},
        )

    def logs(self, n: int, recommend: Recommend) -> list[Session]:
        """``n`` new people answer, ``recommend(answers)`` ranks services, and each has one session."""
        sessions: list[Session] = []
        for person in self.people(n):
            answers = self.answers(person)
            sessions.append(self.session(person, list(recommend(answers)), answers))
        return sessions


def click_share(sessions: Iterable[Session], slugs: Iterable[str]) -> float:
    """Fraction of all clicks that went to ``slugs``."""
    wanted = set(slugs)
    total = hits = 0
    for session in sessions:
        total += len(session.clicks)
        hits += sum(slug in wanted for slug in session.clicks)
    return hits / total if total else 0.0
