"""`emploi-store recommender train|evaluate` and `seed`'s first model, as an operator runs them."""

from __future__ import annotations

import json
import os
import pathlib
import re

from server.settings import Settings
from tests.conftest import run_cli

SYSTEMS = ("popularity", "content", "cold start", "model")


def cli(settings: Settings, var_dir: pathlib.Path, *args: str, **env: str):
    return run_cli(*args, database_url=settings.database_url or "", var_dir=var_dir, extra_env=env)


def table_rows(stdout: str) -> dict[str, list[str]]:
    """The Markdown table's rows by system name."""
    rows = {}
    for line in stdout.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] not in ("system", "---"):
            rows[cells[0]] = cells[1:]
    return rows


def seed_catalogue(settings: Settings, var_dir: pathlib.Path) -> int:
    """The demo catalogue, without a model; returns how many services it has."""
    result = cli(settings, var_dir, "seed", "--no-model")
    assert result.returncode == 0, result.stderr
    assert not (var_dir / "models").exists()  # --no-model trains nothing
    found = re.match(r"(\d+) services \(\1 new", result.stdout)
    assert found, result.stdout
    return int(found.group(1))


def test_train_writes_a_model_file_and_its_figures_then_evaluate_reads_it(settings, db, tmp_path):
    var_dir, out = tmp_path / "var", tmp_path / "models"
    services = seed_catalogue(settings, var_dir)

    result = cli(
        settings,
        var_dir,
        *("recommender", "train", "--seed", "3", "--simulate", "400", "--eval-people", "150"),
        *("--out", str(out), "--no-progress"),
    )

    assert result.returncode == 0, result.stderr
    (model,) = out.glob("*.pt")
    (sidecar,) = out.glob("*.json")
    assert sidecar.stem == model.stem and model.stem.endswith("-s3")
    assert f"Model {model.stem} written to {model}" in result.stdout
    metadata = json.loads(sidecar.read_text(encoding="utf-8"))
    assert metadata["version"] == model.stem
    held_out = metadata["metrics"]["held_out"]
    assert set(held_out) == set(SYSTEMS)
    for system in SYSTEMS:
        assert {"ndcg@10", "recall@10", "mrr"} <= set(held_out[system])
        assert all(0 <= held_out[system][name] <= 1 for name in ("ndcg@10", "recall@10", "mrr"))
        assert held_out[system]["people"] == 150
    assert metadata["training"]["simulated_sessions"] == 400
    assert metadata["training"]["catalogue"] == services and metadata["training"]["seed"] == 3
    rows = table_rows(result.stdout)
    assert list(rows) == list(SYSTEMS)
    assert rows["model"][0] == f"{held_out['model']['ndcg@10']:.3f}"

    evaluated = cli(settings, var_dir, "recommender", "evaluate", "--model", str(model), "--people", "150")

    assert evaluated.returncode == 0, evaluated.stderr
    assert f"Model {model.stem} ({model})" in evaluated.stdout
    assert set(table_rows(evaluated.stdout)) == {"model", "popularity", "content"}
    # Same world, same people, same model: the same figures as at training time.
    assert table_rows(evaluated.stdout)["model"][0] == rows["model"][0]

    empty = tmp_path / "no-models"
    empty.mkdir()
    baselines = cli(
        settings, var_dir, "recommender", "evaluate", "--people", "150", RECOMMENDER_MODEL_DIR=str(empty)
    )

    assert baselines.returncode == 0, baselines.stderr
    assert "No model file: evaluating the baselines only" in baselines.stdout
    assert set(table_rows(baselines.stdout)) == {"popularity", "content"}


def test_evaluate_refuses_a_corrupt_model_file(settings, tmp_path):
    corrupt = tmp_path / "two-tower-20990101T000000000000-s0.pt"
    corrupt.write_bytes(os.urandom(4096))

    result = cli(settings, tmp_path / "var", "recommender", "evaluate", "--model", str(corrupt))

    assert result.returncode == 2
    assert "Model refused" in result.stderr and corrupt.name in result.stderr
    assert "Held-out" not in result.stdout


def test_seed_trains_a_first_model_once(settings, db, tmp_path):
    var_dir = tmp_path / "var"

    first = cli(settings, var_dir, "seed")

    assert first.returncode == 0, first.stderr
    (model,) = (var_dir / "models").glob("*.pt")
    assert (var_dir / "models" / f"{model.stem}.json").is_file()
    assert f"Recommender: cold-start model {model.stem} trained" in first.stdout

    again = cli(settings, var_dir, "seed")

    assert again.returncode == 0, again.stderr
    assert "Recommender" not in again.stdout
    assert list((var_dir / "models").glob("*.pt")) == [model]
