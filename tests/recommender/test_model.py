"""The two-tower model: cold start, learning from simulated feedback, determinism, model files."""

from __future__ import annotations

import pathlib
from dataclasses import replace

import numpy as np
import pytest
import torch

from cms.seed_schema import load_catalogue
from recommender import evaluation
from recommender.artifact import FORMAT, Artifact, ModelLoadError, load, model_files, save
from recommender.evaluation import World
from recommender.features import FeatureSpec, ServiceContent, encode_answers
from recommender.model import Ranker
from recommender.questionnaire_schema import load_default_questionnaire
from recommender.training import (
    FeedbackSession,
    Trainer,
    TrainingConfig,
    deterministic,
    random_answers,
    train,
)

FAST = TrainingConfig(seed=0, cold_start_steps=400, feedback_epochs=5)


@pytest.fixture(scope="module")
def world() -> World:
    services = [
        ServiceContent(
            service_id=i + 1,
            slug=s.slug,
            name=s.name,
            short_description=s.short_description,
            categories=tuple(s.categories),
            kind=s.kind,
            platforms=tuple(link.platform for link in s.links),
            tags=tuple(s.tags),
        )
        for i, s in enumerate(load_catalogue().services)
        if s.free
    ]
    return World(services, load_default_questionnaire(), seed=7)


@pytest.fixture(scope="module")
def learned(world: World) -> dict[str, evaluation.Metrics]:
    """Cold start, then 6,000 simulated people shown the cold-start model; all on 1,000 held-out people."""
    spec = world.spec()
    arrays = world.arrays(spec)
    with deterministic():
        trainer = Trainer(spec, arrays, world.questionnaire, FAST)
        trainer.cold_start()
        cold = Ranker(trainer.model, arrays)
        sessions = world.feedback(evaluation.model_policy(world, cold, spec), 6000, spec)
        trainer.learn_from_feedback(sessions)
    policies = {
        "popularity": evaluation.popularity_policy(world),
        "content": evaluation.content_policy(world),
        "cold start": evaluation.model_policy(world, cold, spec),
        "model": evaluation.model_policy(world, Ranker(trainer.model, arrays), spec),
    }
    return evaluation.evaluate(world, policies, 1000)


def test_cold_start_ranks_like_the_editors_mapping_before_any_click(learned) -> None:
    cold, content, popularity = learned["cold start"], learned["content"], learned["popularity"]
    assert cold.ndcg > 0.95 * content.ndcg
    assert cold.ndcg >= 1.25 * popularity.ndcg


def test_learning_from_simulated_feedback_beats_the_cold_start_on_held_out_people(learned) -> None:
    model, cold = learned["model"], learned["cold start"]
    assert model.ndcg > cold.ndcg + 0.03, (model, cold)
    assert model.recall > cold.recall
    assert model.mrr > cold.mrr
    assert model.ndcg >= 1.25 * learned["popularity"].ndcg
    assert model.ndcg > learned["content"].ndcg


def test_position_bias_is_learned_from_the_clicks(world: World) -> None:
    """A click model that could not tell positions apart would learn a flat examination curve."""
    spec = world.spec()
    arrays = world.arrays(spec)
    with deterministic():
        trainer = Trainer(spec, arrays, world.questionnaire, TrainingConfig(seed=1, cold_start_steps=150))
        trainer.cold_start()
        cold = Ranker(trainer.model, arrays)
        trainer.learn_from_feedback(world.feedback(evaluation.model_policy(world, cold, spec), 3000, spec))
    curve = trainer.report.examination
    assert curve[0] == 1.0
    assert max(curve[3:]) < 0.9, curve


def _sessions(world: World, spec: FeatureSpec, n: int) -> list[FeedbackSession]:
    return world.feedback(evaluation.popularity_policy(world), n, spec)


def test_training_is_deterministic_for_a_seed(world: World) -> None:
    spec = world.spec()
    arrays = world.arrays(spec)
    sessions = _sessions(world, spec, 300)
    config = TrainingConfig(seed=5, cold_start_steps=40, feedback_epochs=1)
    first, _ = train(spec, arrays, world.questionnaire, sessions, config)
    second, _ = train(spec, arrays, world.questionnaire, sessions, config)
    other, _ = train(spec, arrays, world.questionnaire, sessions, TrainingConfig(seed=6, cold_start_steps=40))
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, second.state_dict()[name]), name
    assert not torch.equal(first.state_dict()["alpha"], other.state_dict()["alpha"]) or not all(
        torch.equal(t, other.state_dict()[n]) for n, t in first.state_dict().items()
    )


def test_random_answers_are_always_valid(world: World) -> None:
    from recommender.questionnaires import check_answers

    rng = np.random.default_rng(0)
    for _ in range(200):
        chosen = random_answers(world.questionnaire, rng, 0.2)
        assert check_answers(world.questionnaire, list(chosen.items())) == chosen


def test_a_service_added_after_training_is_scored_from_its_content(world: World) -> None:
    """Unknown to the model (no id row of its own), a twin of a known service scores like it."""
    spec = world.spec()
    model, _ = train(spec, world.arrays(spec), world.questionnaire, (), TrainingConfig(cold_start_steps=200))
    known = next(s for s in world.services if s.kind == "interview_simulator")
    twin = replace(known, service_id=10_000, slug=f"{known.slug}-nouvelle-version")
    services = [*world.services, twin]
    ranker = Ranker(model, evaluation.encode_services(spec, services))
    assert ranker.services.id_rows[-1] == 0  # the shared unknown row
    rng = np.random.default_rng(1)
    for _ in range(20):
        features = encode_answers(spec, world.questionnaire, random_answers(world.questionnaire, rng, 0.2))
        scores = ranker.score(features.needs, features.options)
        assert abs(scores[-1] - scores[services.index(known)]) < 0.5 * scores.std()


def _artifact(world: World) -> Artifact:
    spec = world.spec()
    config = TrainingConfig(cold_start_steps=20)
    model, _ = train(spec, world.arrays(spec), world.questionnaire, (), config)
    return Artifact.of(model, spec, config.dims, seed=0, metrics={"held_out": {}})


def test_a_model_file_loads_back_the_same_model(world: World, tmp_path: pathlib.Path) -> None:
    artifact = _artifact(world)
    path = save(artifact, tmp_path)
    assert path.exists() and path.with_suffix(".json").exists()
    assert model_files(tmp_path) == [path]
    loaded, model = load(path)
    assert loaded.version == artifact.version
    for name, tensor in artifact.state.items():
        assert torch.equal(model.state_dict()[name], tensor)


def _refusal(path: pathlib.Path) -> str:
    with pytest.raises(ModelLoadError) as refused:
        load(path)
    return str(refused.value)


def test_corrupt_or_incompatible_model_files_are_refused(world: World, tmp_path: pathlib.Path) -> None:
    artifact = _artifact(world)
    good = save(artifact, tmp_path / "good")
    data = good.read_bytes()

    truncated = tmp_path / "truncated.pt"
    truncated.write_bytes(data[: len(data) // 2])
    assert "cannot be read" in _refusal(truncated)

    noise = tmp_path / "noise.pt"
    noise.write_bytes(np.random.default_rng(0).bytes(4096))
    assert "cannot be read" in _refusal(noise)

    foreign = tmp_path / "foreign.pt"
    torch.save({"format": "someone-else", "state": {}}, foreign)
    assert "not an Emploi Store recommender model" in _refusal(foreign)

    payload = torch.load(good, weights_only=True)
    payload["format_version"] = 99
    future = tmp_path / "future.pt"
    torch.save(payload, future)
    assert "format version 99" in _refusal(future)

    payload = torch.load(good, weights_only=True)
    payload["state"]["answers.0.weight"] = torch.zeros(3, 3)
    reshaped = tmp_path / "reshaped.pt"
    torch.save(payload, reshaped)
    assert "does not fit" in _refusal(reshaped)

    payload = torch.load(good, weights_only=True)
    payload["spec"]["needs"] = payload["spec"]["needs"][:-1]
    fewer_needs = tmp_path / "fewer-needs.pt"
    torch.save(payload, fewer_needs)
    assert "incompatible" in _refusal(fewer_needs)

    payload = torch.load(good, weights_only=True)
    payload["state"]["services.0.bias"][0] = float("nan")
    nan = tmp_path / "nan.pt"
    torch.save(payload, nan)
    assert "non-finite" in _refusal(nan)

    pickled = tmp_path / "pickled.pt"
    torch.save({"format": FORMAT, "code": object()}, pickled)  # needs unpickling arbitrary objects
    assert "cannot be read" in _refusal(pickled)
