"""Who is signed in behind a request: a bearer token, or the session cookie of the web UI."""

from __future__ import annotations

import hmac

from cms.accounts import session_for_token
from models.accounts import Session, User

SESSION_COOKIE = "es_session"
CSRF_HEADER = "x-csrf-token"


class Auth:
    """Resolves the session once per request, on first use."""

    def __init__(self, *, authorization: str | None, cookie: str | None, csrf_header: str | None) -> None:
        bearer = None
        if authorization and authorization[:7].lower() == "bearer ":
            bearer = authorization[7:].strip()
        self._token = bearer or cookie
        self.via_cookie = bearer is None and cookie is not None
        self._csrf_header = csrf_header
        self._session: Session | None = None
        self._resolved = False

    async def session(self) -> Session | None:
        if not self._resolved:
            self._session = await session_for_token(self._token) if self._token else None
            self._resolved = True
        return self._session

    async def user(self) -> User | None:
        session = await self.session()
        return session.user if session else None

    async def csrf_ok(self) -> bool:
        """A cookie session's mutations must echo its CSRF token in a header (bearer calls need not)."""
        session = await self.session()
        if session is None or not self.via_cookie:
            return True
        header = self._csrf_header or ""
        return bool(header) and hmac.compare_digest(header.encode(), session.csrf_token.encode())

    def forget(self) -> None:
        self._session, self._resolved = None, True
