"""Signing in and out, and who is signed in."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

import strawberry

from models import accounts as m
from models.enums import Role, SessionKind
from resolvers import accounts as resolve
from resolvers.auth import SESSION_COOKIE
from schema.context import Info
from schema.permissions import HasRole, IsAuthenticated, allow

RoleType = strawberry.enum(Role, name="Role")
SessionKindType = strawberry.enum(
    SessionKind, name="SessionKind", description="COOKIE for the web UI, BEARER for API clients."
)


@strawberry.type(description="Someone who signs in: admin, editor, partner or developer.")
class User:
    id: strawberry.ID
    email: str
    display_name: str
    role: RoleType  # type: ignore[valid-type]
    is_reviewer: bool

    @strawberry.field(description="The partner a partner account speaks for.")
    async def partner_slug(self: m.User) -> str | None:  # type: ignore[misc]
        if self.partner_id is None:
            return None
        await self.fetch_related("partner")
        return self.partner.slug if self.partner else None


@strawberry.type
class SignInPayload:
    user: User
    csrf_token: str = strawberry.field(
        description="Send it back as X-CSRF-Token with cookie-authenticated mutations."
    )
    expires_at: dt.datetime
    token: str | None = strawberry.field(description="The bearer token (BEARER sessions only); shown once.")


@strawberry.type
class SessionInfo:
    kind: SessionKindType  # type: ignore[valid-type]
    csrf_token: str
    expires_at: dt.datetime


@strawberry.type
class AccountsQuery:
    @strawberry.field(description="The signed-in user, or null.")
    async def me(self, info: Info) -> User | None:
        return await info.context.auth.user()  # type: ignore[return-value]

    @strawberry.field(
        description="The current session (for the web UI's CSRF token).", extensions=allow(IsAuthenticated())
    )
    async def current_session(self, info: Info) -> SessionInfo:
        session = await info.context.auth.session()
        assert session is not None
        return SessionInfo(kind=session.kind, csrf_token=session.csrf_token, expires_at=session.expires_at)


@strawberry.type
class AccountsMutation:
    @strawberry.mutation(
        description="Sign in; a wrong email or password gets one answer, and repeated failures wait."
    )
    async def sign_in(
        self,
        info: Info,
        email: str,
        password: str,
        kind: Annotated[
            SessionKindType,  # type: ignore[valid-type]
            strawberry.argument(description="COOKIE (default) or BEARER"),
        ] = SessionKind.COOKIE,
    ) -> SignInPayload:
        config = info.context.config
        lifetime = (
            config.session_cookie_lifetime if kind is SessionKind.COOKIE else config.bearer_token_lifetime
        )
        signed = await resolve.sign_in(email, password, kind, lifetime)
        if kind is SessionKind.COOKIE:
            info.context.response.set_cookie(
                SESSION_COOKIE,
                signed.token,
                max_age=int(lifetime.total_seconds()),
                httponly=True,
                samesite="strict",
                secure=config.secure_cookies,
                path="/",
            )
        return SignInPayload(
            user=signed.user,  # type: ignore[arg-type]
            csrf_token=signed.session.csrf_token,
            expires_at=signed.session.expires_at,
            token=signed.token if kind is SessionKind.BEARER else None,
        )

    @strawberry.mutation(description="End the current session.", extensions=allow(IsAuthenticated()))
    async def sign_out(self, info: Info) -> bool:
        session = await info.context.auth.session()
        assert session is not None
        await resolve.sign_out(session)
        info.context.auth.forget()
        info.context.response.delete_cookie(SESSION_COOKIE, path="/")
        return True

    @strawberry.mutation(
        description="Create an account (admins only).", extensions=allow(HasRole(Role.ADMIN))
    )
    async def create_user(
        self,
        email: str,
        password: str,
        role: RoleType,  # type: ignore[valid-type]
        display_name: str | None = None,
        is_reviewer: bool = False,
        partner_slug: str | None = None,
    ) -> User:
        return await resolve.create_user(  # type: ignore[return-value]
            email,
            password,
            role,
            display_name=display_name,
            is_reviewer=is_reviewer,
            partner_slug=partner_slug,
        )
