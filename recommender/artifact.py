"""Model files: one versioned file per trained model, refused at load unless whole and compatible.

A file holds only tensors and plain data, read with ``torch.load(weights_only=True)`` (no pickled
code runs). It is written under a temporary name and renamed, so a reader never sees half a file;
a JSON sidecar repeats the metadata and evaluation figures for people.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import pathlib
import tempfile
from dataclasses import dataclass, field
from typing import Any

import torch

from recommender.features import FeatureSpec
from recommender.model import ModelDims, TwoTower

FORMAT = "emploi-store-recommender"
FORMAT_VERSION = 1
SUFFIX = ".pt"


class ModelLoadError(Exception):
    """The file is not a model this build can serve; the message says why."""


@dataclass
class Artifact:
    version: str
    spec: FeatureSpec
    dims: ModelDims
    state: dict[str, torch.Tensor]
    created_at: str = field(default_factory=lambda: dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    metrics: dict[str, Any] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, model: TwoTower, spec: FeatureSpec, dims: ModelDims, seed: int, **extra: Any) -> Artifact:
        now = dt.datetime.now(dt.UTC)
        return cls(
            version=f"two-tower-{now:%Y%m%dT%H%M%S%f}-s{seed}",
            spec=spec,
            dims=dims,
            state={name: tensor.detach().clone() for name, tensor in model.state_dict().items()},
            created_at=now.isoformat(timespec="seconds"),
            **extra,
        )

    def metadata(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "version": self.version,
            "created_at": self.created_at,
            "metrics": self.metrics,
            "training": self.training,
        }

    def build(self) -> TwoTower:
        model = TwoTower(self.spec, self.dims)
        model.load_state_dict(self.state, strict=True)
        return model.eval()


def save(artifact: Artifact, directory: pathlib.Path) -> pathlib.Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{artifact.version}{SUFFIX}"
    payload = {
        **artifact.metadata(),
        "metadata_json": json.dumps(artifact.metadata(), ensure_ascii=False),
        "spec": artifact.spec.to_dict(),
        "dims": artifact.dims.to_dict(),
        "state": artifact.state,
    }
    handle, temporary = tempfile.mkstemp(dir=directory, prefix=".writing-", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            torch.save(payload, out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        pathlib.Path(temporary).unlink(missing_ok=True)
        raise
    sidecar = path.with_suffix(".json")
    sidecar.write_text(json.dumps(artifact.metadata(), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return path


def load(path: pathlib.Path) -> tuple[Artifact, TwoTower]:
    """The artifact and its model, or ModelLoadError saying what is wrong with the file."""
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated, not a zip, unpickling refused…: all mean "not a model"
        raise ModelLoadError(f"{path.name} cannot be read ({type(exc).__name__}: {str(exc)[:160]})") from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelLoadError(f"{path.name} is not an Emploi Store recommender model")
    if payload.get("format_version") != FORMAT_VERSION:
        raise ModelLoadError(
            f"{path.name} has format version {payload.get('format_version')!r}, this build reads {FORMAT_VERSION}"
        )
    try:
        spec = FeatureSpec.from_dict(payload["spec"])
        dims = ModelDims.from_dict(payload["dims"])
        metadata = json.loads(payload["metadata_json"])
        artifact = Artifact(
            version=str(payload["version"]),
            spec=spec,
            dims=dims,
            state=dict(payload["state"]),
            created_at=str(payload["created_at"]),
            metrics=dict(metadata.get("metrics", {})),
            training=dict(metadata.get("training", {})),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path.name} is incomplete ({type(exc).__name__}: {exc})") from exc
    problem = spec.compatible()
    if problem:
        raise ModelLoadError(f"{path.name} is incompatible: {problem}")
    try:
        model = artifact.build()
    except (RuntimeError, TypeError, ValueError) as exc:
        raise ModelLoadError(f"{path.name} does not fit this model's shape ({str(exc)[:200]})") from exc
    for name, tensor in model.state_dict().items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise ModelLoadError(f"{path.name} has non-finite weights in {name}")
    if not math.isfinite(float(model.alpha.detach())):
        raise ModelLoadError(f"{path.name} has a non-finite alpha")
    return artifact, model


def model_files(directory: pathlib.Path) -> list[pathlib.Path]:
    """Model files, newest version first (versions sort by their creation time)."""
    if not directory.is_dir():
        return []
    return sorted((p for p in directory.glob(f"*{SUFFIX}") if not p.name.startswith(".")), reverse=True)
