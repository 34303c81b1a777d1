"""The jobseeker simulator: reproducible, answers follow needs, popularity skew, position bias."""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np
import pytest

from cms.seed_schema import SeedService, load_catalogue
from recommender.needs import Need
from recommender.simulator import (
    DigitalProfile,
    Person,
    Simulator,
    SimulatorConfig,
    click_share,
    parse_questionnaire,
)

# A small questionnaire of our own, in the plain-data shape of recommender/data/questionnaire.json.
QUESTIONNAIRE: list[dict[str, Any]] = [
    {
        "key": "projet",
        "kind": "single",
        "options": [
            {"key": "emploi", "label": "Trouver un emploi", "needs": {"no_offers": 1.0}},
            {"key": "metier", "label": "Choisir un métier", "needs": {"unsure_occupation": 1.0}},
            {"key": "reconversion", "label": "Changer de métier", "needs": {"career_change": 1.0}},
            {"key": "formation", "label": "Me former", "needs": {"wants_training": 1.0}},
            {"key": "creer", "label": "Créer mon entreprise", "needs": {"wants_business": 1.0}},
            {"key": "etranger", "label": "Partir à l'étranger", "needs": {"wants_abroad": 1.0}},
        ],
    },
    {
        "key": "blocages",
        "kind": "multiple",
        "max_choices": 2,
        "options": [
            {"key": "offres", "label": "Pas d'offres", "needs": {"no_offers": 1.0, "hidden_market": 0.4}},
            {"key": "cv", "label": "Mon CV", "needs": {"no_cv": 1.0}},
            {"key": "lettre", "label": "Ma lettre", "needs": {"cover_letter": 1.0}},
            {"key": "entretiens", "label": "Mes entretiens", "needs": {"preparing_interview": 1.0}},
            {"key": "reseau", "label": "Pas de réseau", "needs": {"lacks_network": 1.0}},
            {"key": "motivation", "label": "Ma motivation", "needs": {"lacks_motivation": 1.0}},
            {"key": "financement", "label": "Financer", "needs": {"funding_training": 1.0}},
            {"key": "rien", "label": "Rien de tout cela", "needs": {}},
        ],
    },
    {
        "key": "numerique",
        "kind": "single",
        "required": False,
        "options": [
            {"key": "a-l-aise", "label": "À l'aise", "needs": {}},
            {"key": "smartphone", "label": "Smartphone seulement", "needs": {"mobile_only": 1.0}},
            {"key": "debutant", "label": "Peu à l'aise", "needs": {"low_digital_confidence": 1.0}},
        ],
    },
]


@pytest.fixture(scope="module")
def services() -> list[SeedService]:
    return load_catalogue().services


@pytest.fixture(scope="module")
def sim(services: list[SeedService]) -> Simulator:
    return Simulator(services, QUESTIONNAIRE, seed=7)


def _relevance_sorted(sim: Simulator, person: Person) -> list[str]:
    relevance = sim.relevance(person)
    return sorted(relevance, key=lambda slug: (-relevance[slug], slug))


def test_same_seed_gives_same_logs(services: list[SeedService]) -> None:
    def run(seed: int) -> list[tuple[Any, ...]]:
        simulator = Simulator(services, QUESTIONNAIRE, seed=seed)
        ranking = simulator.popularity_ranking()
        people = simulator.people(5)
        return [
            (s.shown, s.clicks, dict(s.ratings), dict(s.answers))
            for s in simulator.logs(150, lambda answers: ranking)
        ] + [(dict(p.needs), p.digital) for p in people]

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_people_have_one_to_three_needs_with_common_ones_frequent(sim: Simulator) -> None:
    people = sim.held_out(3000)
    assert people == sim.held_out(3000)  # the evaluation cohort is fixed
    digital = {Need.MOBILE_ONLY, Need.LOW_DIGITAL_CONFIDENCE}
    counts = Counter(need for p in people for need in p.needs if need not in digital)
    assert all(1 <= len([n for n in p.needs if n not in digital]) <= 3 for p in people)
    assert counts[Need.NO_OFFERS] > 3 * counts[Need.WANTS_ABROAD]
    assert counts[Need.NO_CV] > 3 * counts[Need.WANTS_BUSINESS]
    assert {p.digital for p in people} == {"confident", "mobile_only", "low_confidence"}
    first, second = sim.people(5), sim.people(5)
    assert [p.id for p in first + second] == list(range(first[0].id, first[0].id + 10))


def test_answers_reflect_latent_needs_more_than_chance(sim: Simulator) -> None:
    questions = {q.key: q for q in parse_questionnaire(QUESTIONNAIRE)}
    hits = total = skipped = 0
    chance = 0.0
    for person in sim.held_out(1500):
        answers = sim.answers(person)
        assert answers == sim.answers(person)  # a person answers the same way twice
        assert len(answers.get("blocages", [])) <= 2
        assert len(answers["projet"]) == 1
        skipped += "numerique" not in answers
        for key in ("projet", "blocages"):
            options = {o.key: o for o in questions[key].options}
            matches = {k for k, o in options.items() if set(o.needs) & set(person.needs)}
            for chosen in answers[key]:
                total += 1
                hits += chosen in matches
                chance += len(matches) / len(options)
    assert hits / total > chance / total + 0.3, (hits / total, chance / total)
    assert 0.1 < skipped / 1500 < 0.3  # optional question skipped about 20 % of the time


def test_popularity_ranking_gives_flagships_most_clicks(sim: Simulator) -> None:
    ranking = sim.popularity_ranking()
    assert set(ranking[:5]) == set(sim.flagships)
    assert sum(sim.popularity[slug] for slug in sim.flagships) == pytest.approx(0.75)
    logs = sim.logs(3000, lambda answers: ranking)
    share = click_share(logs, ranking[:5])
    assert 0.6 <= share <= 0.85, share
    assert all(len(s.clicks) <= 3 and len(s.shown) == 10 for s in logs)
    assert any(not s.clicks for s in logs)


def test_clicks_concentrate_on_top_positions(sim: Simulator) -> None:
    rng = np.random.default_rng(0)
    by_rank: Counter[int] = Counter()
    for person in sim.held_out(3000):
        # A fresh random list each time: attraction is independent of position on average.
        ranking = [sim.slugs[i] for i in rng.permutation(len(sim.slugs))[:10]]
        by_rank.update(sim.session(person, ranking).click_ranks)
    assert by_rank[1] > 2 * by_rank[10], by_rank
    assert sum(by_rank[r] for r in (1, 2, 3)) > 1.5 * sum(by_rank[r] for r in (8, 9, 10)), by_rank


def test_relevance_sorted_rankings_get_more_clicks_than_random(sim: Simulator) -> None:
    rng = np.random.default_rng(1)
    relevant = random = 0
    for person in sim.held_out(1500):
        relevant += len(sim.session(person, _relevance_sorted(sim, person)).clicks)
        random += len(sim.session(person, list(rng.permutation(sim.slugs)[:10])).clicks)
    assert relevant > 2 * random, (relevant, random)


def test_ratings_are_higher_for_relevant_services(sim: Simulator) -> None:
    popular = sim.popularity_ranking()
    high: list[int] = []
    low: list[int] = []
    for index, person in enumerate(sim.held_out(3000)):
        relevance = sim.relevance(person)
        # Flagships get clicked whether or not they fit, which gives ratings of poor matches.
        ranking = popular if index % 2 else _relevance_sorted(sim, person)
        for slug, rating in sim.session(person, ranking).ratings.items():
            assert 1 <= rating <= 5
            if relevance[slug] >= 0.6:
                high.append(rating)
            elif relevance[slug] <= 0.3:
                low.append(rating)
    assert len(high) > 50 and len(low) > 50, (len(high), len(low))
    assert np.mean(high) > np.mean(low) + 1.0, (np.mean(high), np.mean(low))


def test_relevance_is_a_bounded_need_overlap(sim: Simulator) -> None:
    person = Person(id=0, cohort="train", needs={Need.WANTS_ABROAD: 1.0}, digital=DigitalProfile.CONFIDENT)
    relevance = sim.relevance(person)
    assert all(0.0 <= r <= 1.0 for r in relevance.values())
    abroad = "pole-emploi-international-offres-a-l-etranger"
    assert sim.content_needs(abroad)[Need.WANTS_ABROAD] == pytest.approx(1.0)
    assert relevance[abroad] == pytest.approx(sim.true_needs(abroad)[Need.WANTS_ABROAD])
    assert relevance[abroad] > 0.4
    assert relevance["mon-cv-en-ligne-pole-emploi"] == sim.true_needs("mon-cv-en-ligne-pole-emploi").get(
        Need.WANTS_ABROAD, 0.0
    )


def test_services_do_not_quite_do_what_their_content_says(services: list[SeedService]) -> None:
    """Hidden quality and hidden needs: what only clicks and ratings can reveal."""
    world = Simulator(services, QUESTIONNAIRE, seed=3)
    scaled = hidden = 0
    for service in services:
        content, true = world.content_needs(service.slug), world.true_needs(service.slug)
        scaled += any(true[need] < weight - 1e-9 for need, weight in content.items())
        hidden += any(need not in content for need in true)
    assert scaled > 0.8 * len(services)
    assert 0.2 * len(services) < hidden < 0.5 * len(services)
    plain = Simulator(
        services,
        QUESTIONNAIRE,
        seed=3,
        config=SimulatorConfig(quality_range=(1.0, 1.0), hidden_need_probability=0.0),
    )
    assert all(plain.true_needs(s.slug) == plain.content_needs(s.slug) for s in services)


def test_bad_inputs_are_refused(services: list[SeedService], sim: Simulator) -> None:
    with pytest.raises(ValueError, match="unknown need"):
        parse_questionnaire([{"key": "q", "kind": "single", "options": [{"key": "a", "needs": {"nope": 1}}]}])
    assert len(parse_questionnaire({"questions": QUESTIONNAIRE})) == 3
    with pytest.raises(ValueError, match="unknown services"):
        sim.session(sim.held_out(1)[0], ["not-a-service"])
