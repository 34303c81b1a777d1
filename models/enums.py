"""Closed vocabularies of the catalogue, shared by the models and the GraphQL schema."""

from __future__ import annotations

from enum import StrEnum


class ServiceKind(StrEnum):
    WEBSITE = "website"
    MOBILE_APP = "mobile_app"
    MOOC = "mooc"
    ELEARNING_GAME = "elearning_game"
    INTERVIEW_SIMULATOR = "interview_simulator"
    QUIZ = "quiz"
    JOB_BOARD = "job_board"
    CV_BUILDER = "cv_builder"
    JOB_FAIR = "job_fair"
    COMPANY_SEARCH = "company_search"
    TOOL = "tool"


class Platform(StrEnum):
    WEB = "web"
    APP_STORE = "app_store"
    GOOGLE_PLAY = "google_play"
    MICROSOFT_STORE = "microsoft_store"
    BLACKBERRY_WORLD = "blackberry_world"


class ServiceStatus(StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class PartnerKind(StrEnum):
    PUBLIC_EMPLOYMENT_SERVICE = "public_employment_service"
    STARTUP = "startup"
    LARGE_COMPANY = "large_company"
    TRAINING_BODY = "training_body"
    PUBLIC_ORGANISATION = "public_organisation"
    ASSOCIATION = "association"
    INDEPENDENT = "independent"


class RedirectSource(StrEnum):
    CATALOGUE = "catalogue"
    SEARCH = "search"
    RECOMMENDATION = "recommendation"
    ARTICLE = "article"
    DIRECT = "direct"


class Role(StrEnum):
    ADMIN = "admin"
    EDITOR = "editor"
    PARTNER = "partner"
    DEVELOPER = "developer"


class SessionKind(StrEnum):
    COOKIE = "cookie"
    BEARER = "bearer"


class ArticleKind(StrEnum):
    STORY = "story"
    ARTICLE = "article"
    NEWS = "news"


class ArticleStatus(StrEnum):
    """Where the latest revision stands in the workflow; `live` says separately what the public sees."""

    DRAFT = "draft"
    IN_REVIEW = "in_review"
    SCHEDULED = "scheduled"
    PUBLISHED = "published"
    ARCHIVED = "archived"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class ProposalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
