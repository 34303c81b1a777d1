"""What people did with their recommendations, read back from the database for training.

- shown: every Recommendation and its items (rank order), written by `recommend`;
- clicked: redirects through /go/…?from=<recommendation id> (RedirectEvent.source_ref);
- rated: ratings the same visitor gave a shown service after the recommendation.

Answers are encoded with the questionnaire version they answered, so a later edit of the
questionnaire does not change what old answers meant.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Mapping, Sequence

from models.enums import RedirectSource
from models.events import RedirectEvent
from models.ratings import Rating
from models.recommender import QuestionnaireVersion, Recommendation, RecommendationItem
from recommender.features import FeatureSpec, encode_answers
from recommender.questionnaire_schema import Questionnaire
from recommender.training import FeedbackSession

CHUNK = 500


async def load_feedback(
    spec: FeatureSpec,
    rows: Mapping[int, int],
    since: dt.datetime | None = None,
    limit: int = 200_000,
) -> list[FeedbackSession]:
    """The newest `limit` recommendations since `since`; `rows` maps service ids to catalogue rows."""
    query = Recommendation.all().order_by("-created_at")
    if since is not None:
        query = query.filter(created_at__gte=since)
    recommendations = await query.limit(limit).only(
        "id", "questionnaire_version_id", "answers", "visitor", "created_at"
    )
    versions = {row.id: Questionnaire.model_validate(row.content) for row in await QuestionnaireVersion.all()}
    sessions: list[FeedbackSession] = []
    for start in range(0, len(recommendations), CHUNK):
        sessions.extend(await _chunk(spec, rows, versions, recommendations[start : start + CHUNK]))
    return sessions


async def _chunk(
    spec: FeatureSpec,
    rows: Mapping[int, int],
    versions: Mapping[int, Questionnaire],
    recommendations: Sequence[Recommendation],
) -> list[FeedbackSession]:
    ids = [r.id for r in recommendations]
    shown: dict[str, list[tuple[int, int]]] = defaultdict(list)
    for recommendation_id, service_id, rank in await RecommendationItem.filter(
        recommendation_id__in=ids
    ).values_list("recommendation_id", "service_id", "rank"):
        shown[str(recommendation_id)].append((int(rank), int(service_id)))
    clicks: dict[str, set[int]] = defaultdict(set)
    for source_ref, service_id in await RedirectEvent.filter(
        source=RedirectSource.RECOMMENDATION, source_ref__in=ids
    ).values_list("source_ref", "service_id"):
        clicks[str(source_ref)].add(int(service_id))
    visitors = {r.visitor for r in recommendations if r.visitor}
    ratings: dict[str, list[tuple[int, int, dt.datetime]]] = defaultdict(list)
    if visitors:
        for voter, service_id, stars, updated_at in await Rating.filter(voter__in=list(visitors)).values_list(
            "voter", "service_id", "stars", "updated_at"
        ):
            ratings[str(voter)].append((int(service_id), int(stars), updated_at))
    sessions = []
    for recommendation in recommendations:
        questionnaire = versions.get(recommendation.questionnaire_version_id)
        items = sorted(shown.get(recommendation.id, []))
        if questionnaire is None or not items:
            continue
        try:
            answers = encode_answers(spec, questionnaire, recommendation.answers)
        except KeyError:
            continue  # answers that their own version does not know: not usable
        kept = [(rank, service_id) for rank, service_id in items if service_id in rows]
        shown_ids = {service_id for _, service_id in kept}
        given = {
            rows[service_id]: stars
            for service_id, stars, when in ratings.get(recommendation.visitor or "", [])
            if service_id in shown_ids and when >= recommendation.created_at
        }
        sessions.append(
            FeedbackSession(
                answers=answers,
                shown=tuple(rows[service_id] for _, service_id in kept),
                ranks=tuple(rank for rank, _ in kept),
                clicked=frozenset(rows[s] for s in clicks.get(recommendation.id, set()) if s in shown_ids),
                ratings=given,
            )
        )
    return sessions
