"""The anonymous questionnaire and the ten services that fit the answers best, and editors
publishing new versions of the questionnaire (with the needs behind every option)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import strawberry

from models.errors import BadUserInput
from models.recommender import QuestionnaireVersion
from recommender.needs import Need
from recommender.questionnaire_schema import Option as OptionModel
from recommender.questionnaire_schema import Question as QuestionModel
from recommender.questionnaires import content_of, refusal
from resolvers import recommender as resolve
from schema.arguments import signed_in_user
from schema.catalogue import Service
from schema.context import Info
from schema.permissions import EDITORIAL, HasRole, allow

MAX_OPTIONS_PER_ANSWER = 12
DEFAULT_VERSIONS_PAGE = 20

NeedType = strawberry.enum(
    Need, name="Need", description="A need a jobseeker can have; questionnaire options signal them."
)


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


@strawberry.type(description="A need an option signals, and how strongly (0 excluded to 1).")
class NeedWeight:
    need: NeedType  # type: ignore[valid-type]
    weight: float


@strawberry.type(description="An option as editors see it: the needs it signals and why.")
class EditorOption:
    key: str
    label: str
    needs: list[NeedWeight]
    reason: str | None = strawberry.field(description="Shown to the jobseeker next to a recommendation.")

    @classmethod
    def of(cls, option: OptionModel) -> EditorOption:
        return cls(
            key=option.key,
            label=option.label,
            needs=[NeedWeight(need=need, weight=weight) for need, weight in option.needs.items()],
            reason=option.reason,
        )


@strawberry.type(description="A question as editors see it; it reads back as a QuestionInput.")
class EditorQuestion:
    key: str
    text: str
    help: str | None
    multiple: bool
    required: bool
    max_choices: int | None = strawberry.field(description="Null for single-choice questions.")
    options: list[EditorOption]

    @classmethod
    def of(cls, question: QuestionModel) -> EditorQuestion:
        return cls(
            key=question.key,
            text=question.text,
            help=question.help,
            multiple=question.kind == "multiple",
            required=question.required,
            max_choices=question.max_choices,
            options=[EditorOption.of(o) for o in question.options],
        )


@strawberry.type(description="One published version of the questionnaire, with the needs behind it.")
class QuestionnaireVersionInfo:
    version: int
    label: str
    created_at: dt.datetime
    uncovered_needs: list[NeedType] = strawberry.field(  # type: ignore[valid-type]
        description="Needs no option signals: the recommender can never learn them from answers."
    )
    questions: list[EditorQuestion]
    created_by_id: strawberry.Private[int | None]

    @strawberry.field(description="The email of the editor who published it; null for the shipped default.")
    async def created_by(self, info: Info) -> str | None:
        if self.created_by_id is None:
            return None
        user = await info.context.loaders.user.load(self.created_by_id)
        return user.email if user is not None else None

    @classmethod
    def of(cls, row: QuestionnaireVersion) -> QuestionnaireVersionInfo:
        content = content_of(row)
        return cls(
            version=row.version,
            label=content.version_label,
            created_at=row.created_at,
            uncovered_needs=content.uncovered_needs(),
            questions=[EditorQuestion.of(q) for q in content.questions],
            created_by_id=row.created_by_id,  # type: ignore[attr-defined]
        )


@strawberry.type(description="A need, with its French label.")
class NeedInfo:
    need: NeedType  # type: ignore[valid-type]
    label: str


@strawberry.input
class NeedWeightInput:
    need: NeedType  # type: ignore[valid-type]
    weight: float = strawberry.field(description="Greater than 0, at most 1.")


@strawberry.input
class OptionInput:
    key: str = strawberry.field(description="Lowercase snake_case, unique within its question.")
    label: str
    needs: list[NeedWeightInput] = strawberry.field(default_factory=list)
    reason: str | None = strawberry.field(
        default=None, description="Required when the option signals needs (at most 120 characters)."
    )


@strawberry.input
class QuestionInput:
    key: str = strawberry.field(description="Lowercase snake_case, unique within the questionnaire.")
    text: str
    help: str | None = None
    multiple: bool
    required: bool = True
    max_choices: int | None = strawberry.field(
        default=None, description="Multiple-choice only: 2 to the number of options. Null otherwise."
    )
    options: list[OptionInput] = strawberry.field(description="3 to 8 options.")


@strawberry.input(description="A whole questionnaire, 8 to 12 questions: it replaces the one in force.")
class QuestionnaireInput:
    label: str
    questions: list[QuestionInput]

    def content(self) -> dict[str, Any]:
        """As stored; a need given twice in one option is refused (a mapping would keep one silently)."""
        problems: list[dict[str, Any]] = []
        for q, question in enumerate(self.questions):
            for o, option in enumerate(question.options):
                seen: set[Need] = set()
                for n, weight in enumerate(option.needs):
                    need = Need(weight.need)
                    if need in seen:
                        problems.append(
                            {
                                "path": ["questions", q, "options", o, "needs", n, "need"],
                                "message": f"need {need.name} is given twice in option {option.key!r}",
                            }
                        )
                    seen.add(need)
        if problems:
            raise refusal(problems)
        return {
            "version_label": self.label,
            "questions": [
                {
                    "key": question.key,
                    "text": question.text,
                    "help": question.help,
                    "kind": "multiple" if question.multiple else "single",
                    "required": question.required,
                    "max_choices": question.max_choices,
                    "options": [
                        {
                            "key": option.key,
                            "label": option.label,
                            "needs": {Need(w.need).value: w.weight for w in option.needs},
                            "reason": option.reason,
                        }
                        for option in question.options
                    ],
                }
                for question in self.questions
            ],
        }


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

    @strawberry.field(
        description="Every version of the questionnaire, newest first: the first is in force. "
        "`first` capped at 100.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def questionnaire_versions(
        self, first: int = DEFAULT_VERSIONS_PAGE
    ) -> list[QuestionnaireVersionInfo]:
        return [QuestionnaireVersionInfo.of(row) for row in await resolve.questionnaire_versions(first)]

    @strawberry.field(
        description="One version of the questionnaire, with the needs behind its options.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def questionnaire_version(self, version: int) -> QuestionnaireVersionInfo:
        return QuestionnaireVersionInfo.of(await resolve.questionnaire_version(version))

    @strawberry.field(
        description="Every need an option can signal, with its French label.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    def needs(self) -> list[NeedInfo]:
        return [NeedInfo(need=need, label=label) for need, label in resolve.needs()]


@strawberry.type
class RecommenderMutation:
    @strawberry.mutation(
        description="Publish a new version of the questionnaire, in force at once. `basedOn` is the "
        "version the editor started from: if someone published since, nothing is written.",
        extensions=allow(HasRole(*EDITORIAL)),
    )
    async def publish_questionnaire(
        self, info: Info, questionnaire: QuestionnaireInput, based_on: int
    ) -> QuestionnaireVersionInfo:
        row = await resolve.publish_questionnaire(
            await signed_in_user(info), questionnaire.content(), based_on
        )
        return QuestionnaireVersionInfo.of(row)

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
