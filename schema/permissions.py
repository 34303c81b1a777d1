"""Who may call what, declared on each field and mutation with Strawberry permission classes."""

from __future__ import annotations

from typing import Any

from graphql import OperationType
from strawberry.extensions import FieldExtension
from strawberry.permission import BasePermission, PermissionExtension

from models.enums import Role
from models.errors import Forbidden, Unauthenticated
from schema.context import Info


class IsAuthenticated(BasePermission):
    message = "sign in first"

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        user = await info.context.auth.user()
        if user is None:
            raise Unauthenticated("sign in first")
        if info.operation.operation is OperationType.MUTATION and not await info.context.auth.csrf_ok():
            raise Forbidden("this mutation needs the session's X-CSRF-Token header", reason="csrf")
        return True


class HasRole(IsAuthenticated):
    """Signed in with one of the roles; `reviewers` also lets in editors marked as reviewers."""

    def __init__(self, *roles: Role, reviewers: bool = False) -> None:
        self.roles = frozenset(roles)
        self.reviewers = reviewers

    async def has_permission(self, source: Any, info: Info, **kwargs: Any) -> bool:
        await super().has_permission(source, info, **kwargs)
        user = await info.context.auth.user()
        assert user is not None
        if user.role in self.roles or (self.reviewers and user.role is Role.EDITOR and user.is_reviewer):
            return True
        raise Forbidden("your role does not allow this", role=user.role.value)


def allow(*permissions: BasePermission) -> list[FieldExtension]:
    """`extensions=allow(HasRole(Role.ADMIN))` on a field or mutation."""
    return [PermissionExtension(permissions=list(permissions), use_directives=False)]


EDITORIAL = (Role.ADMIN, Role.EDITOR)
