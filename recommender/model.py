"""The two-tower recommender (PyTorch).

- The answers tower reads the need profile the editors' option→need mapping gives, plus a
  learned embedding of every chosen option ("question=option", hashed).
- The service tower reads the service's content (content needs, categories, kind, platforms, a
  bag of hashed tags, a bag of hashed stems of its name and summary) plus a learned id embedding.
- score(answers, service) = <answers tower, service tower> + alpha * (need profile . content needs).
  The second, "wide" term keeps the editors' mapping as an explicit path: cold-start training
  tunes alpha and the towers learn what the mapping misses.

Training also uses a click model around the score (examination per position, a popularity
pull); those parameters only explain the logs and never enter serving.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from recommender.features import Bags, FeatureSpec, ServiceArrays

SHOWN = 10


@dataclass(frozen=True)
class ModelDims:
    embedding: int = 32  # size of both towers' outputs
    hidden: int = 64
    option: int = 16
    tag: int = 16
    text: int = 16
    service_id: int = 16

    def to_dict(self) -> dict[str, int]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ModelDims:
        return cls(**{name: int(value) for name, value in data.items()})


def _bag(bags: Bags) -> tuple[torch.Tensor, torch.Tensor]:
    return torch.from_numpy(bags.values), torch.from_numpy(bags.offsets)


class TwoTower(nn.Module):
    def __init__(self, spec: FeatureSpec, dims: ModelDims) -> None:
        super().__init__()
        n_needs = len(spec.needs)
        self.options = nn.EmbeddingBag(spec.option_buckets, dims.option, mode="sum")
        self.answers = nn.Sequential(
            nn.Linear(n_needs + dims.option, dims.hidden), nn.ReLU(), nn.Linear(dims.hidden, dims.embedding)
        )
        self.tags = nn.EmbeddingBag(spec.tag_buckets, dims.tag, mode="mean")
        self.text = nn.EmbeddingBag(spec.text_buckets, dims.text, mode="mean")
        self.service_id = nn.Embedding(spec.id_rows, dims.service_id)
        self.services = nn.Sequential(
            nn.Linear(spec.dense_size + dims.tag + dims.text + dims.service_id, dims.hidden),
            nn.ReLU(),
            nn.Linear(dims.hidden, dims.embedding),
        )
        self.alpha = nn.Parameter(torch.tensor(1.0))
        # Click model (training only): examination logit per shown position, popularity pull,
        # and the affine map from score to the logit of "attractive once examined".
        self.examination = nn.Parameter(torch.zeros(SHOWN))
        self.popularity_pull = nn.Parameter(torch.tensor(0.0))
        self.click_scale = nn.Parameter(torch.tensor(1.0))
        self.click_bias = nn.Parameter(torch.tensor(-1.0))
        for embedding in (self.options, self.tags, self.text):
            nn.init.normal_(embedding.weight, std=0.01)
        nn.init.normal_(self.service_id.weight, std=0.01)
        with torch.no_grad():
            self.service_id.weight[0].zero_()  # the unknown-service row carries nothing

    def encode_answers(self, needs: torch.Tensor, options: Bags) -> torch.Tensor:
        values, offsets = _bag(options)
        return self.answers(torch.cat([needs, self.options(values, offsets)], dim=1))

    def encode_services(self, services: ServiceArrays) -> torch.Tensor:
        tags, text = _bag(services.tags), _bag(services.text)
        parts = [
            torch.from_numpy(services.dense),
            self.tags(*tags),
            self.text(*text),
            self.service_id(torch.from_numpy(services.id_rows)),
        ]
        return self.services(torch.cat(parts, dim=1))

    def scores(
        self,
        answer_vectors: torch.Tensor,
        answer_needs: torch.Tensor,
        service_vectors: torch.Tensor,
        service_needs: torch.Tensor,
    ) -> torch.Tensor:
        """(answers × services) scores."""
        return answer_vectors @ service_vectors.T + self.alpha * (answer_needs @ service_needs.T)


class Ranker:
    """A trained model ready to serve one catalogue: service vectors computed once."""

    def __init__(self, model: TwoTower, services: ServiceArrays) -> None:
        self.model = model.eval()
        self.services = services
        with torch.inference_mode():
            vectors = model.encode_services(services)
        # Serving is one small MLP and a matrix product: numpy avoids torch's per-call overhead.
        self._service_matrix = np.ascontiguousarray(
            np.concatenate([vectors.numpy(), float(model.alpha.detach()) * services.needs], axis=1),
            dtype=np.float32,
        )
        layers = [m for m in model.answers if isinstance(m, nn.Linear)]
        self._w1 = layers[0].weight.detach().numpy().T.copy()
        self._b1 = layers[0].bias.detach().numpy().copy()
        self._w2 = layers[1].weight.detach().numpy().T.copy()
        self._b2 = layers[1].bias.detach().numpy().copy()
        self._options = model.options.weight.detach().numpy().copy()

    def score(self, needs: np.ndarray, options: list[int]) -> np.ndarray:
        """Scores of every service for one visitor's answers."""
        option_sum = self._options[options].sum(axis=0) if options else np.zeros(self._options.shape[1])
        hidden = np.maximum(np.concatenate([needs, option_sum]) @ self._w1 + self._b1, 0.0)
        query = np.concatenate([hidden @ self._w2 + self._b2, needs]).astype(np.float32)
        return np.asarray(self._service_matrix @ query)
