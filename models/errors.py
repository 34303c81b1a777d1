"""Errors a user can cause. Every layer raises these; the GraphQL layer shows their code and message."""

from __future__ import annotations

from typing import Any


class UserError(Exception):
    """Something the caller sent is wrong; nothing was written."""

    code = "BAD_USER_INPUT"

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.extensions: dict[str, Any] = {"code": self.code, **details}


class BadUserInput(UserError):
    code = "BAD_USER_INPUT"


class NotFound(UserError):
    code = "NOT_FOUND"


class Unauthenticated(UserError):
    code = "UNAUTHENTICATED"


class Forbidden(UserError):
    code = "FORBIDDEN"


class RateLimited(UserError):
    code = "RATE_LIMITED"
