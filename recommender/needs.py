"""The needs a jobseeker can have, and what a service offers for each, read from its content.

The questionnaire's options signal needs (editors map them); services are described by the
same vocabulary, derived from their categories, kinds and tags. Both the cold-start model and
the simulator start from here.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Need(StrEnum):
    UNSURE_OCCUPATION = "unsure_occupation"  # ne sait pas quel métier viser
    CAREER_CHANGE = "career_change"  # veut se reconvertir
    WANTS_TRAINING = "wants_training"  # veut se former
    FUNDING_TRAINING = "funding_training"  # cherche à financer une formation (CPF…)
    APPRENTICESHIP = "apprenticeship"  # alternance, apprentissage
    NO_CV = "no_cv"  # pas de CV, ou un CV faible
    COVER_LETTER = "cover_letter"  # lettre de motivation
    PREPARING_INTERVIEW = "preparing_interview"  # des entretiens qui échouent
    NO_OFFERS = "no_offers"  # pas d'offres dans son domaine
    HIDDEN_MARKET = "hidden_market"  # candidatures spontanées, entreprises qui recrutent
    LACKS_NETWORK = "lacks_network"  # manque de réseau
    LACKS_MOTIVATION = "lacks_motivation"  # baisse de motivation
    DISCRIMINATION = "discrimination"  # âge, handicap ou autre discrimination
    DISABILITY = "disability"  # travailleur handicapé
    SENIOR = "senior"  # 50 ans et plus
    YOUNG = "young"  # moins de 26 ans
    WANTS_BUSINESS = "wants_business"  # créer ou reprendre une entreprise
    WANTS_ABROAD = "wants_abroad"  # travailler à l'étranger
    LANGUAGES = "languages"  # améliorer une langue étrangère
    MOBILITY_LIMITS = "mobility_limits"  # se déplacer est difficile
    LOW_DIGITAL_CONFIDENCE = "low_digital_confidence"  # peu à l'aise avec le numérique
    MOBILE_ONLY = "mobile_only"  # n'a qu'un smartphone


# Short French labels, as editors see them when they map options to needs.
NEED_LABELS: dict[Need, str] = {
    Need.UNSURE_OCCUPATION: "Ne sait pas quel métier viser",
    Need.CAREER_CHANGE: "Veut se reconvertir",
    Need.WANTS_TRAINING: "Veut se former",
    Need.FUNDING_TRAINING: "Cherche à financer une formation",
    Need.APPRENTICESHIP: "Alternance, apprentissage",
    Need.NO_CV: "Pas de CV, ou un CV faible",
    Need.COVER_LETTER: "Lettre de motivation",
    Need.PREPARING_INTERVIEW: "Préparer ses entretiens",
    Need.NO_OFFERS: "Peu d'offres dans son domaine",
    Need.HIDDEN_MARKET: "Marché caché, candidatures spontanées",
    Need.LACKS_NETWORK: "Manque de réseau",
    Need.LACKS_MOTIVATION: "Baisse de motivation",
    Need.DISCRIMINATION: "Discrimination (âge, handicap…)",
    Need.DISABILITY: "Travailleur handicapé",
    Need.SENIOR: "50 ans et plus",
    Need.YOUNG: "Moins de 26 ans",
    Need.WANTS_BUSINESS: "Créer ou reprendre une entreprise",
    Need.WANTS_ABROAD: "Travailler à l'étranger",
    Need.LANGUAGES: "Améliorer une langue étrangère",
    Need.MOBILITY_LIMITS: "Difficultés à se déplacer",
    Need.LOW_DIGITAL_CONFIDENCE: "Peu à l'aise avec le numérique",
    Need.MOBILE_ONLY: "N'a qu'un smartphone",
}

# What a service's content says about the needs it serves (weights in 0..1).
CATEGORY_NEEDS: dict[str, dict[Need, float]] = {
    "choisir-un-metier": {Need.UNSURE_OCCUPATION: 1.0, Need.CAREER_CHANGE: 0.6},
    "trouver-une-formation": {Need.WANTS_TRAINING: 1.0, Need.CAREER_CHANGE: 0.5},
    "preparer-sa-candidature": {Need.NO_CV: 0.6, Need.COVER_LETTER: 0.5, Need.PREPARING_INTERVIEW: 0.6},
    "trouver-un-emploi": {Need.NO_OFFERS: 1.0, Need.HIDDEN_MARKET: 0.4},
    "creer-une-entreprise": {Need.WANTS_BUSINESS: 1.0},
    "travailler-a-l-etranger": {Need.WANTS_ABROAD: 1.0},
}
TAG_NEEDS: dict[str, dict[Need, float]] = {
    "orientation": {Need.UNSURE_OCCUPATION: 1.0},
    "metier": {Need.UNSURE_OCCUPATION: 0.6},
    "test": {Need.UNSURE_OCCUPATION: 0.4},
    "reconversion": {Need.CAREER_CHANGE: 1.0},
    "competences": {Need.CAREER_CHANGE: 0.4, Need.UNSURE_OCCUPATION: 0.3},
    "vae": {Need.CAREER_CHANGE: 0.5, Need.WANTS_TRAINING: 0.5},
    "formation": {Need.WANTS_TRAINING: 1.0},
    "mooc": {Need.WANTS_TRAINING: 0.7},
    "financement": {Need.FUNDING_TRAINING: 0.8, Need.WANTS_BUSINESS: 0.2},
    "cpf": {Need.FUNDING_TRAINING: 1.0},
    "alternance": {Need.APPRENTICESHIP: 1.0, Need.YOUNG: 0.4},
    "cv": {Need.NO_CV: 1.0},
    "cv-video": {Need.NO_CV: 0.7},
    "lettre-de-motivation": {Need.COVER_LETTER: 1.0},
    "entretien": {Need.PREPARING_INTERVIEW: 1.0},
    "simulation": {Need.PREPARING_INTERVIEW: 0.5},
    "visio": {Need.PREPARING_INTERVIEW: 0.4},
    "offres": {Need.NO_OFFERS: 1.0},
    "alertes": {Need.NO_OFFERS: 0.6},
    "recrutement": {Need.NO_OFFERS: 0.5},
    "salon": {Need.NO_OFFERS: 0.5, Need.LACKS_NETWORK: 0.5},
    "interim": {Need.NO_OFFERS: 0.6},
    "saisonnier": {Need.NO_OFFERS: 0.5, Need.YOUNG: 0.3},
    "candidature-spontanee": {Need.HIDDEN_MARKET: 1.0},
    "marche-cache": {Need.HIDDEN_MARKET: 1.0},
    "entreprises": {Need.HIDDEN_MARKET: 0.6},
    "reseau": {Need.LACKS_NETWORK: 1.0},
    "reseaux-sociaux": {Need.LACKS_NETWORK: 0.7},
    "motivation": {Need.LACKS_MOTIVATION: 1.0},
    "jeu": {Need.LACKS_MOTIVATION: 0.3},
    "discrimination": {Need.DISCRIMINATION: 1.0},
    "handicap": {Need.DISABILITY: 1.0, Need.DISCRIMINATION: 0.4},
    "seniors": {Need.SENIOR: 1.0, Need.DISCRIMINATION: 0.3},
    "jeunes": {Need.YOUNG: 1.0},
    "creation-entreprise": {Need.WANTS_BUSINESS: 1.0},
    "micro-entreprise": {Need.WANTS_BUSINESS: 0.8},
    "business-plan": {Need.WANTS_BUSINESS: 0.7},
    "statut-juridique": {Need.WANTS_BUSINESS: 0.6},
    "reprise": {Need.WANTS_BUSINESS: 0.6},
    "international": {Need.WANTS_ABROAD: 1.0},
    "expatriation": {Need.WANTS_ABROAD: 0.8},
    "europe": {Need.WANTS_ABROAD: 0.6},
    "frontalier": {Need.WANTS_ABROAD: 0.6, Need.MOBILITY_LIMITS: 0.2},
    "pvt": {Need.WANTS_ABROAD: 0.7, Need.YOUNG: 0.4},
    "langues": {Need.LANGUAGES: 1.0},
    "anglais": {Need.LANGUAGES: 1.0},
    "mobilite": {Need.MOBILITY_LIMITS: 0.8},
    "debutant-numerique": {Need.LOW_DIGITAL_CONFIDENCE: 1.0},
    "numerique": {Need.LOW_DIGITAL_CONFIDENCE: 0.3},
    "mobile": {Need.MOBILE_ONLY: 0.8},
}
KIND_NEEDS: dict[str, dict[Need, float]] = {
    "interview_simulator": {Need.PREPARING_INTERVIEW: 1.0},
    "cv_builder": {Need.NO_CV: 1.0},
    "job_board": {Need.NO_OFFERS: 1.0},
    "job_fair": {Need.NO_OFFERS: 0.6, Need.LACKS_NETWORK: 0.6},
    "company_search": {Need.HIDDEN_MARKET: 1.0},
    "mooc": {Need.WANTS_TRAINING: 0.6},
    "elearning_game": {Need.LACKS_MOTIVATION: 0.3},
    "quiz": {Need.UNSURE_OCCUPATION: 0.3},
    "mobile_app": {Need.MOBILE_ONLY: 1.0},
}
APP_PLATFORMS = frozenset({"app_store", "google_play", "microsoft_store", "blackberry_world"})


def service_needs(
    categories: Iterable[str], kind: str, tags: Iterable[str], platforms: Iterable[str] = ()
) -> dict[Need, float]:
    """How well a service serves each need, from its content alone (max of the signals, 0..1)."""
    scores: dict[Need, float] = {}

    def add(weights: dict[Need, float], factor: float = 1.0) -> None:
        for need, weight in weights.items():
            scores[need] = max(scores.get(need, 0.0), weight * factor)

    for position, category in enumerate(categories):
        add(CATEGORY_NEEDS.get(category, {}), 1.0 if position == 0 else 0.7)
    add(KIND_NEEDS.get(kind, {}))
    for tag in tags:
        add(TAG_NEEDS.get(tag, {}))
    if APP_PLATFORMS & set(platforms):
        add({Need.MOBILE_ONLY: 0.8})
    return scores
