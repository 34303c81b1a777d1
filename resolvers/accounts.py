"""Resolvers of the accounts' root fields."""

from __future__ import annotations

import datetime as dt

from cms import accounts
from models.accounts import Session, User
from models.enums import Role, SessionKind


async def sign_in(email: str, password: str, kind: SessionKind, lifetime: dt.timedelta) -> accounts.SignedIn:
    return await accounts.sign_in(email, password, kind, lifetime)


async def sign_out(session: Session) -> None:
    await accounts.sign_out(session)


async def create_user(
    email: str,
    password: str,
    role: Role,
    *,
    display_name: str | None,
    is_reviewer: bool,
    partner_slug: str | None,
) -> User:
    return await accounts.create_user(
        email, password, role, display_name=display_name, is_reviewer=is_reviewer, partner_slug=partner_slug
    )
