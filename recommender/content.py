"""The content scorer: answers' needs against what each service's content serves.

It recommends from day one, before any model is trained, and stays the fallback whenever no
trained model is loaded. It is also the content-only baseline of the evaluation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from recommender.features import FeatureSpec, ServiceArrays
from recommender.needs import Need
from recommender.questionnaire_schema import Questionnaire

MODEL_VERSION = "content-v1"
POPULARITY_WEIGHT = 0.05
GENERIC_REASON = "Un service très utilisé par les personnes en recherche d'emploi"


def content_scores(profile: np.ndarray, services: ServiceArrays) -> np.ndarray:
    """Need overlap, plus a popularity prior worth at most POPULARITY_WEIGHT."""
    most = float(services.log_popularity.max()) if len(services) else 0.0
    prior = services.log_popularity / most if most > 0 else np.zeros(len(services), np.float32)
    return np.asarray(services.needs @ profile + POPULARITY_WEIGHT * prior)


def reasons_by_need(
    questionnaire: Questionnaire, chosen: Mapping[str, Sequence[str]]
) -> dict[Need, tuple[float, str]]:
    """For each need the answers signal, the strongest option's sentence ("Vous préparez…")."""
    best: dict[Need, tuple[float, str]] = {}
    for question_key, option_keys in chosen.items():
        question = questionnaire.question(question_key)
        for option_key in option_keys:
            option = question.option(option_key)
            for need, weight in option.needs.items():
                if option.reason and weight > best.get(need, (0.0, ""))[0]:
                    best[need] = (weight, option.reason)
    return best


class Explainer:
    """Why a service fits these answers: the answer behind the need that contributes most."""

    def __init__(
        self,
        spec: FeatureSpec,
        questionnaire: Questionnaire,
        chosen: Mapping[str, Sequence[str]],
        profile: np.ndarray,  # encode_answers(spec, questionnaire, chosen).needs
    ):
        self.reasons = reasons_by_need(questionnaire, chosen)
        self.needs = [Need(name) for name in spec.needs]
        self.profile = profile
        strongest = max(self.reasons.values(), default=None)
        self.fallback = strongest[1] if strongest else GENERIC_REASON

    def reason(self, services: ServiceArrays, row: int) -> str:
        contributions = self.profile * services.needs[row]
        for column in np.argsort(-contributions, kind="stable"):
            if contributions[column] <= 0:
                break
            need = self.needs[int(column)]
            if need in self.reasons:
                return self.reasons[need][1]
        return self.fallback
