"""Train, evaluate and save: what `emploi-store recommender train|evaluate` and `seed` run.

Training reads the catalogue (published, free services) and the questionnaire in force from the
database, plus every recommendation's feedback. With `simulate=N`, N simulated jobseekers are
also shown the cold-start model's recommendations and their clicks and ratings join the
feedback (a demo of learning from use, and the evaluation's set-up). Figures are measured on
the simulator's held-out people, who never appear in training.
"""

from __future__ import annotations

import pathlib
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from recommender import evaluation
from recommender.artifact import Artifact, save
from recommender.evaluation import Metrics, World
from recommender.feedback import load_feedback
from recommender.model import Ranker
from recommender.questionnaires import CurrentQuestionnaire, current_questionnaire
from recommender.snapshot import load_contents
from recommender.training import Trainer, TrainingConfig, TrainingReport, deterministic, total_steps

DEFAULT_WORLD_SEED = 7
DEFAULT_EVAL_PEOPLE = 2000

ProgressFactory = Callable[[int, str], Callable[[int], None]]  # (total steps, label) -> advance


@dataclass
class Trained:
    artifact: Artifact
    report: TrainingReport
    results: dict[str, Metrics]
    path: pathlib.Path | None = None


async def build_world(
    world_seed: int = DEFAULT_WORLD_SEED, current: CurrentQuestionnaire | None = None
) -> World:
    contents = await load_contents()
    if not contents:
        raise ValueError("the catalogue has no published free service to recommend")
    current = current or await current_questionnaire()
    return World(contents, current.questionnaire, seed=world_seed)


async def train_model(
    *,
    seed: int = 0,
    simulate: int = 0,
    world_seed: int = DEFAULT_WORLD_SEED,
    eval_people: int = DEFAULT_EVAL_PEOPLE,
    config: TrainingConfig | None = None,
    progress: ProgressFactory | None = None,
) -> Trained:
    started = time.monotonic()
    config = replace(config or TrainingConfig(), seed=seed)
    current = await current_questionnaire()
    world = await build_world(world_seed, current)
    spec = world.spec()
    arrays = world.arrays(spec)
    rows = {int(service_id): row for row, service_id in enumerate(arrays.service_ids)}
    recorded = await load_feedback(spec, rows)
    with deterministic():
        trainer = Trainer(spec, arrays, world.questionnaire, config)
        trainer.cold_start(progress(config.cold_start_steps, "cold start") if progress else None)
        cold = Ranker(trainer.model, arrays)  # a copy of the cold-start weights
        policy = evaluation.model_policy(world, cold, spec)
        simulated = world.feedback(policy, simulate, spec) if simulate else []
        sessions = [*recorded, *simulated]
        steps = total_steps(config, len(sessions)) - config.cold_start_steps
        trainer.learn_from_feedback(sessions, progress(steps, "feedback") if progress and steps else None)
    model = trainer.model.eval()
    policies = {
        "popularity": evaluation.popularity_policy(world),
        "content": evaluation.content_policy(world),
        "cold start": evaluation.model_policy(world, cold, spec),
        "model": evaluation.model_policy(world, Ranker(model, arrays), spec),
    }
    results = evaluation.evaluate(world, policies, eval_people)
    report = trainer.report
    artifact = Artifact.of(
        model,
        spec,
        config.dims,
        seed,
        metrics={
            "held_out": evaluation.summary(results),
            "world_seed": world_seed,
            "people": eval_people,
        },
        training={
            "seed": seed,
            "catalogue": len(arrays),
            "questionnaire_version": current.version,
            "recorded_sessions": len(recorded),
            "simulated_sessions": len(simulated),
            "cold_start_steps": report.cold_start_steps,
            "feedback_steps": report.feedback_steps,
            "final_loss": round(report.final_loss, 5),
            "examination": report.examination,
            "popularity_pull": report.popularity_pull,
            "seconds": round(time.monotonic() - started, 1),
        },
    )
    return Trained(artifact=artifact, report=report, results=results)


async def train_and_save(directory: pathlib.Path, **options: Any) -> Trained:
    trained = await train_model(**options)
    trained.path = save(trained.artifact, directory)
    return trained


async def evaluate_model(
    loaded: Artifact | None,
    *,
    world_seed: int = DEFAULT_WORLD_SEED,
    people: int = DEFAULT_EVAL_PEOPLE,
) -> dict[str, Metrics]:
    """The model (when given) against popularity and content on held-out simulated people."""
    world = await build_world(world_seed)
    policies = {
        "popularity": evaluation.popularity_policy(world),
        "content": evaluation.content_policy(world),
    }
    if loaded is not None:
        spec = loaded.spec
        policies["model"] = evaluation.model_policy(world, Ranker(loaded.build(), world.arrays(spec)), spec)
    return evaluation.evaluate(world, policies, people)
