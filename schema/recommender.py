"""The anonymous questionnaire and the ten services that fit the answers best."""

from __future__ import annotations

import datetime as dt

import strawberry

from models.errors import BadUserInput
from recommender.questionnaire_schema import Question as QuestionModel
from resolvers import recommender as resolve
from schema.catalogue import Service
from schema.context import Info

MAX_OPTIONS_PER_ANSWER = 12


@strawberry.type
class QuestionOption:
    key: str
    label: str


@strawberry.type
class Question:
    key: str
    text: str
    help: str | None
    multiple: bool
    required: bool
    max_choices: int
    options: list[QuestionOption]

    @classmethod
    def of(cls, question: QuestionModel) -> Question:
        return cls(
            key=question.key,
            text=question.text,
            help=question.help,
            multiple=question.kind == "multiple",
            required=question.required,
            max_choices=question.max_choices or 1,
            options=[QuestionOption(key=o.key, label=o.label) for o in question.options],
        )


@strawberry.type(description="The questionnaire in force; a recommendation records its version.")
class Questionnaire:
    version: int
    label: str
    questions: list[Question]


@strawberry.input
class Answer:
    question: str = strawberry.field(description="A question key.")
    options: list[str] = strawberry.field(description="The chosen option keys.")


@strawberry.type
class RecommendedService:
    rank: int
    score: float
    reason: str = strawberry.field(description='Why it fits, tied to an answer ("Vous préparez…").')
    service: Service


@strawberry.type(description="Ten services for one set of answers; pass `id` as ?from= in /go/ links.")
class Recommendation:
    id: strawberry.ID
    questionnaire_version: int
    model_version: str
    created_at: dt.datetime
    items: list[RecommendedService]


@strawberry.type
class RecommenderQuery:
    @strawberry.field(description="The anonymous questionnaire, in French.")
    async def questionnaire(self) -> Questionnaire:
        current = await resolve.questionnaire()
        return Questionnaire(
            version=current.version,
            label=current.questionnaire.version_label,
            questions=[Question.of(q) for q in current.questionnaire.questions],
        )


@strawberry.type
class RecommenderMutation:
    @strawberry.mutation(description="The ten published services that fit these answers best (no sign-in).")
    async def recommend(self, info: Info, answers: list[Answer]) -> Recommendation:
        if any(len(a.options) > MAX_OPTIONS_PER_ANSWER for a in answers):
            raise BadUserInput("too many options in one answer", field="answers")
        visitor = info.context.visitor
        result = await resolve.recommend(
            [(a.question, a.options) for a in answers], None if visitor.rejected else visitor.current()
        )
        loaded = await info.context.loaders.services_by_id.load_many([i.service_id for i in result.items])
        services = {s.id: s for s in loaded if s is not None}
        return Recommendation(
            id=strawberry.ID(result.recommendation.id),
            questionnaire_version=result.recommendation.questionnaire_version.version,
            model_version=result.recommendation.model_version,
            created_at=result.recommendation.created_at,
            items=[
                RecommendedService(
                    rank=item.rank,
                    score=item.score,
                    reason=item.reason,
                    service=services[item.service_id],  # type: ignore[arg-type]
                )
                for item in result.items
                if item.service_id in services
            ],
        )
