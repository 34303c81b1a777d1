"""Accounts: argon2 password hashing, sign-in with slow-down on failures, sessions and tokens."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from tortoise.transactions import in_transaction

from models.accounts import Session, SignInFailure, User
from models.catalogue import Partner
from models.enums import Role, SessionKind
from models.errors import BadUserInput, NotFound, RateLimited, Unauthenticated

_hasher = PasswordHasher()
# Verified against when the email is unknown, so both refusals take the same time.
_DUMMY_HASH = _hasher.hash("not-a-real-password")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,189}\.[^@\s]{2,}$")
MIN_PASSWORD_LENGTH = 10
FREE_FAILURES = 5
FAILURE_WINDOW = dt.timedelta(minutes=15)
MAX_BLOCK = dt.timedelta(minutes=15)
WRONG_CREDENTIALS = "wrong email or password"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def normalise_email(email: str) -> str:
    return email.strip().lower()


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise BadUserInput(f"a password needs at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > 1024:
        raise BadUserInput("a password is limited to 1024 characters", field="password")


async def create_user(
    email: str,
    password: str,
    role: Role,
    *,
    display_name: str | None = None,
    is_reviewer: bool = False,
    partner_slug: str | None = None,
) -> User:
    email = normalise_email(email)
    if not _EMAIL.match(email):
        raise BadUserInput("that is not an email address", field="email")
    check_password_strength(password)
    partner = None
    if role is Role.PARTNER:
        if not partner_slug:
            raise BadUserInput("a partner account names the partner it speaks for", field="partner")
        partner = await Partner.get_or_none(slug=partner_slug)
        if partner is None:
            raise NotFound(f"no partner with slug {partner_slug!r}", field="partner")
    if await User.filter(email=email).exists():
        raise BadUserInput("an account with that email exists already", field="email")
    return await User.create(
        email=email,
        display_name=(display_name or email.split("@")[0]).strip()[:120],
        password_hash=_hasher.hash(password),
        role=role,
        is_reviewer=is_reviewer,
        partner=partner,
    )


@dataclass(frozen=True)
class SignedIn:
    user: User
    session: Session
    token: str


async def _check_not_blocked(key: str, now: dt.datetime) -> None:
    failure = await SignInFailure.get_or_none(key=key)
    if failure and failure.blocked_until and failure.blocked_until > now:
        wait = int((failure.blocked_until - now).total_seconds()) + 1
        raise RateLimited(f"too many failed sign-ins: try again in {wait} s", retry_after=wait)


async def _record_failure(key: str, now: dt.datetime) -> None:
    async with in_transaction():
        failure = await SignInFailure.select_for_update().get_or_none(key=key)
        if failure is None:
            await SignInFailure.create(key=key, failures=1, first_failure_at=now)
            return
        if now - failure.first_failure_at > FAILURE_WINDOW and not failure.blocked_until:
            failure.failures, failure.first_failure_at = 0, now
        failure.failures += 1
        if failure.failures >= FREE_FAILURES:
            # 2 s after the fifth failure, doubling each time, up to MAX_BLOCK.
            delay = min(dt.timedelta(seconds=2 ** (failure.failures - FREE_FAILURES + 1)), MAX_BLOCK)
            failure.blocked_until = now + delay
        await failure.save()


async def sign_in(email: str, password: str, kind: SessionKind, lifetime: dt.timedelta) -> SignedIn:
    """Checks the password; refuses without saying which part was wrong, and slows down guessing."""
    email = normalise_email(email)
    key = f"email:{email}"[:300]
    now = _now()
    await _check_not_blocked(key, now)
    user = await User.get_or_none(email=email) if len(password) <= 1024 else None
    try:
        _hasher.verify(user.password_hash if user else _DUMMY_HASH, password[:1024])
        valid = user is not None and user.is_active
    except (VerificationError, InvalidHashError):
        valid = False
    if not valid or user is None:
        await _record_failure(key, now)
        raise Unauthenticated(WRONG_CREDENTIALS)
    await SignInFailure.filter(key=key).delete()
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = _hasher.hash(password)
    user.last_sign_in_at = now
    await user.save(update_fields=["password_hash", "last_sign_in_at"])
    token = secrets.token_urlsafe(32)
    session = await Session.create(
        token_hash=hash_token(token),
        csrf_token=secrets.token_urlsafe(24),
        user=user,
        kind=kind,
        expires_at=now + lifetime,
    )
    return SignedIn(user=user, session=session, token=token)


async def session_for_token(token: str) -> Session | None:
    """The live session a token opens, with its user loaded, or None."""
    if not token or len(token) > 200:
        return None
    session = await Session.get_or_none(token_hash=hash_token(token)).select_related("user")
    if session is None or session.revoked_at is not None or session.expires_at <= _now():
        return None
    if not session.user.is_active:
        return None
    return session


async def sign_out(session: Session) -> None:
    session.revoked_at = _now()
    await session.save(update_fields=["revoked_at"])
