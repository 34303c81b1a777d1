"""`recommend` with a trained model: loading, hot swaps, refused files, and never a hidden service."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import os
import pathlib
import shutil
from collections.abc import AsyncIterator

import pytest
import torch

from models.catalogue import Category, Service
from models.enums import ServiceKind, ServiceStatus
from models.recommender import RecommendationItem
from recommender import content, pipeline
from recommender.artifact import SUFFIX
from recommender.registry import registry
from recommender.snapshot import cache
from recommender.training import TrainingConfig
from server.settings import Settings
from tests.factories import make_service
from tests.recommender.test_serving import QUESTIONNAIRE, RECOMMEND, answer, required_answers

SMALL = TrainingConfig(cold_start_steps=60, feedback_epochs=1)
REASON_STARTS = ("Vous", "Vos", content.GENERIC_REASON)


async def train(directory: pathlib.Path, seed: int = 0) -> pipeline.Trained:
    """A small model of the catalogue now in the database, written where the server looks."""
    return await pipeline.train_and_save(directory, seed=seed, eval_people=50, config=SMALL)


def _empty(directory: pathlib.Path) -> None:
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)


@pytest.fixture
async def model_dir(settings: Settings, db: None) -> AsyncIterator[pathlib.Path]:
    """The directory the test server's registry reads, empty before and after the test."""
    directory = settings.effective_model_dir
    assert registry.directory == directory
    _empty(directory)
    registry.configure(directory)
    yield directory
    _empty(directory)
    registry.configure(directory)  # the next test starts on the content scorer


def newer_name(label: str) -> str:
    """A model file name that sorts after every model trained so far."""
    return f"two-tower-{dt.datetime.now(dt.UTC):%Y%m%dT%H%M%S%f}-{label}{SUFFIX}"


async def catalogue(size: int = 14) -> None:
    await make_service("simulateur", categories=["preparer-sa-candidature"], tags=["entretien"])
    await make_service("cv-facile", categories=["preparer-sa-candidature"], tags=["cv"])
    await make_service("partir-au-canada", categories=["travailler-a-l-etranger"], tags=["international"])
    await make_service("creer-sa-boite", categories=["creer-une-entreprise"], tags=["creation-entreprise"])
    for n in range(size - 4):
        await make_service(f"offres-{n}", categories=["trouver-un-emploi"], tags=["offres"])


async def recommend(gql, answers: list[dict]) -> dict:
    response = await gql(RECOMMEND, {"answers": answers})
    assert not response.errors, response.errors
    return response.data["recommend"]


async def readiness(client) -> dict:
    response = await client.get("/readyz")
    assert response.status_code == 200
    return response.json()["recommender"]


def slugs_of(recommendation: dict) -> list[str]:
    return [item["service"]["slug"] for item in recommendation["items"]]


async def test_without_a_model_the_content_scorer_serves(gql, client, model_dir):
    await catalogue()
    recommendation = await recommend(gql, await required_answers(gql))
    assert recommendation["modelVersion"] == content.MODEL_VERSION == "content-v1"
    status = await readiness(client)
    assert status["scorer"] == "content" and status["model"] is None and status["refused"] == []


async def test_a_trained_model_serves_after_a_refresh(gql, client, model_dir):
    await catalogue()
    trained = await train(model_dir, seed=1)
    assert trained.path is not None and trained.path.parent == model_dir

    assert await registry.refresh() is True
    answers = answer(await required_answers(gql), "freins", "entretiens_sans_suite")
    recommendation = await recommend(gql, answers)

    assert recommendation["modelVersion"] == trained.artifact.version
    slugs = slugs_of(recommendation)
    assert len(slugs) == 10 and len(set(slugs)) == 10
    assert [item["rank"] for item in recommendation["items"]] == list(range(1, 11))
    assert all(item["reason"].startswith(REASON_STARTS) for item in recommendation["items"])
    status = await readiness(client)
    assert status["scorer"] == "model" and status["model"] == trained.artifact.version
    assert status["metrics"] == trained.artifact.metrics["held_out"]["model"]
    assert await registry.refresh() is False  # nothing newer
    # The model reads the categories the catalogue really has.
    assert set(trained.artifact.spec.categories) == set(await Category.all().values_list("slug", flat=True))


async def test_a_newer_model_replaces_the_one_serving_without_a_restart(gql, client, model_dir):
    await catalogue()
    first = await train(model_dir, seed=1)
    await registry.refresh()
    answers = await required_answers(gql)
    assert (await recommend(gql, answers))["modelVersion"] == first.artifact.version

    second = await train(model_dir, seed=2)
    assert await registry.refresh() is True

    assert (await recommend(gql, answers))["modelVersion"] == second.artifact.version
    assert (await readiness(client))["model"] == second.artifact.version


async def test_the_watcher_picks_up_a_newer_file_by_itself(gql, model_dir):
    await catalogue()
    first = await train(model_dir, seed=1)
    async with registry.watching(0.05):
        assert registry.current is not None and registry.current.version == first.artifact.version
        second = await train(model_dir, seed=2)
        for _ in range(100):
            if registry.current.version == second.artifact.version:
                break
            await asyncio.sleep(0.05)
        assert registry.current.version == second.artifact.version
    assert (await recommend(gql, await required_answers(gql)))["modelVersion"] == second.artifact.version


def corrupt_files(model: pathlib.Path) -> list[tuple[str, bytes | dict]]:
    """(label, bytes or a payload for torch.save) of files that must not be served."""
    whole = model.read_bytes()
    reshaped = torch.load(model, map_location="cpu", weights_only=True)
    name = next(n for n, t in reshaped["state"].items() if t.dim() == 2)
    reshaped["state"][name] = torch.zeros(3, 3)
    return [
        ("truncated", whole[: len(whole) // 2]),
        ("random", os.urandom(4096)),
        ("other-format", {"format": "something else"}),
        ("reshaped", reshaped),
    ]


def write(path: pathlib.Path, content: bytes | dict) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        torch.save(content, path)


REFUSALS = {
    "truncated": "cannot be read",
    "random": "cannot be read",
    "other-format": "is not an Emploi Store recommender model",
    "reshaped": "does not fit this model's shape",
}


async def test_a_corrupt_newer_file_is_refused_and_the_model_keeps_serving(gql, client, model_dir, caplog):
    await catalogue()
    trained = await train(model_dir, seed=1)
    assert trained.path is not None
    await registry.refresh()
    answers = await required_answers(gql)

    for label, content_ in corrupt_files(trained.path):
        path = model_dir / newer_name(label)
        write(path, content_)
        caplog.clear()
        with caplog.at_level(logging.ERROR, logger="emploi_store.recommender"):
            assert await registry.refresh() is False, label

        assert registry.current is not None and registry.current.version == trained.artifact.version
        assert (await recommend(gql, answers))["modelVersion"] == trained.artifact.version, label
        errors = [
            r for r in caplog.records if r.name == "emploi_store.recommender" and r.levelno == logging.ERROR
        ]
        assert len(errors) == 1 and path.name in errors[0].getMessage(), label
        assert REFUSALS[label] in errors[0].getMessage(), label
        assert trained.artifact.version in errors[0].getMessage()  # says what still serves
        status = await readiness(client)
        assert status["scorer"] == "model" and status["model"] == trained.artifact.version
        assert any(
            line.startswith(f"{path.name}: ") and REFUSALS[label] in line for line in status["refused"]
        )

    # A refused file is remembered: the next poll does not log it again.
    caplog.clear()
    with caplog.at_level(logging.ERROR, logger="emploi_store.recommender"):
        assert await registry.refresh() is False
    assert not [r for r in caplog.records if r.name == "emploi_store.recommender"]
    assert len((await readiness(client))["refused"]) == len(REFUSALS)


async def test_a_corrupt_file_and_no_model_leaves_the_content_scorer(gql, client, model_dir, caplog):
    await catalogue()
    path = model_dir / newer_name("random")
    path.write_bytes(os.urandom(2048))
    with caplog.at_level(logging.ERROR, logger="emploi_store.recommender"):
        assert await registry.refresh() is False

    assert registry.current is None
    assert (await recommend(gql, await required_answers(gql)))["modelVersion"] == "content-v1"
    status = await readiness(client)
    assert status["scorer"] == "content"
    assert [line.split(": ")[0] for line in status["refused"]] == [path.name]
    assert any(
        r.levelno == logging.ERROR and path.name in r.getMessage() and "content scorer" in r.getMessage()
        for r in caplog.records
        if r.name == "emploi_store.recommender"
    )


INTERVIEW = ["simulateur-entretien", "entretien-video", "questions-recruteur", "entretien-flash", "pitch"]
DRAFTED, PAID = INTERVIEW[:3], INTERVIEW[3:]


async def interview_catalogue() -> None:
    for slug in INTERVIEW:
        await make_service(
            slug,
            categories=["preparer-sa-candidature"],
            kind=ServiceKind.INTERVIEW_SIMULATOR,
            tags=["entretien", "simulation"],
        )
    await catalogue(size=14)


async def hide_behind_a_stale_snapshot() -> None:
    """Publish the interview services into a fresh snapshot, then hide them without any ORM signal."""
    await Service.filter(slug__in=INTERVIEW).update(status=ServiceStatus.PUBLISHED, free=True)
    cache.invalidate()
    snapshot = await cache.get()
    assert set(INTERVIEW) <= {service.slug for service in snapshot.services}
    await Service.filter(slug__in=DRAFTED).update(status=ServiceStatus.DRAFT)
    await Service.filter(slug__in=PAID).update(free=False)
    assert (await cache.get()) is snapshot  # nothing told the snapshot


async def answer_combinations(gql) -> list[list[dict]]:
    questions = {q["key"]: q for q in (await gql(QUESTIONNAIRE)).data["questionnaire"]["questions"]}
    base = await required_answers(gql)
    combinations = []
    for freins, candidatures in itertools.product(
        questions["freins"]["options"], questions["candidatures"]["options"]
    ):
        answers = answer(base, "freins", freins["key"])
        combinations.append(answer(answers, "candidatures", candidatures["key"]))
    for situation in questions["situation"]["options"]:
        combinations.append(answer(base, "situation", situation["key"]))
    return combinations


async def test_unpublished_or_paid_services_are_never_recommended(gql, model_dir):
    await interview_catalogue()
    trained = await train(model_dir, seed=4)
    await registry.refresh()
    interview = answer(await required_answers(gql), "freins", "entretiens_sans_suite")
    interview = answer(interview, "candidatures", "entretien_a_preparer")
    shown = slugs_of(await recommend(gql, interview))
    assert set(shown[:5]) == set(INTERVIEW)  # while published, they fit these answers best

    combinations = await answer_combinations(gql)
    for scorer in ("model", "content"):
        if scorer == "content":
            registry.configure(model_dir)
        for answers in [interview, *combinations]:
            await hide_behind_a_stale_snapshot()
            recommendation = await recommend(gql, answers)
            slugs = slugs_of(recommendation)
            assert not set(slugs) & set(INTERVIEW), (scorer, answers, slugs)
            stored = await RecommendationItem.filter(recommendation_id=recommendation["id"]).values_list(
                "service__slug", flat=True
            )
            assert sorted(stored) == sorted(slugs)  # what is recorded as shown is what was shown
            assert len(slugs) == 10 and len(set(slugs)) == 10, (scorer, answers)
            expected = trained.artifact.version if scorer == "model" else "content-v1"
            assert recommendation["modelVersion"] == expected


async def test_fewer_than_ten_published_services_are_all_recommended_once(gql, model_dir):
    for n in range(6):
        await make_service(f"publie-{n}", categories=["preparer-sa-candidature"], tags=["entretien"])
    await make_service("brouillon", categories=["preparer-sa-candidature"], status=ServiceStatus.DRAFT)
    await make_service("payant", categories=["preparer-sa-candidature"], free=False)
    trained = await train(model_dir, seed=5)
    await registry.refresh()

    recommendation = await recommend(gql, await required_answers(gql))

    assert recommendation["modelVersion"] == trained.artifact.version
    assert sorted(slugs_of(recommendation)) == [f"publie-{n}" for n in range(6)]
    assert [item["rank"] for item in recommendation["items"]] == list(range(1, 7))
