"""Anonymous visitors: a random id signed by the server, carried in a cookie or a header."""

from __future__ import annotations

import uuid

from itsdangerous import BadSignature, Signer
from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE_NAME = "es_visitor"
HEADER_NAME = "x-visitor-token"


class VisitorIdentity:
    """Who the request comes from; a token is only issued when something needs one."""

    def __init__(self, signer: Signer, token: str | None, *, from_header: bool) -> None:
        self._signer = signer
        self._id: str | None = None
        self.issued_token: str | None = None
        self.rejected = False
        if token:
            try:
                self._id = signer.unsign(token).decode("ascii")
            except (BadSignature, UnicodeDecodeError):
                # A bad cookie is replaced quietly; a bad header is an app's bug, and it is told so.
                self.rejected = from_header

    def current(self) -> str:
        if self._id is None:
            self._id = f"v:{uuid.uuid4().hex}"
            self.issued_token = self._signer.sign(self._id.encode("ascii")).decode("ascii")
        return self._id


class VisitorMiddleware:
    """Reads the visitor token, and sends back (cookie and header) any token issued on the way."""

    def __init__(self, app: ASGIApp, *, secret: str, max_age: int, secure_cookie: bool = False) -> None:
        self.app = app
        self.signer = Signer(secret, salt="emploi-store.visitor")
        self.max_age = max_age
        self.secure_cookie = secure_cookie

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        connection = HTTPConnection(scope)
        header_token = connection.headers.get(HEADER_NAME)
        identity = VisitorIdentity(
            self.signer,
            header_token or connection.cookies.get(COOKIE_NAME),
            from_header=header_token is not None,
        )
        scope.setdefault("state", {})["visitor"] = identity

        async def send_with_token(message: Message) -> None:
            if message["type"] == "http.response.start" and identity.issued_token:
                headers = MutableHeaders(scope=message)
                headers.append("X-Visitor-Token", identity.issued_token)
                cookie = (
                    f"{COOKIE_NAME}={identity.issued_token}; Max-Age={self.max_age}; Path=/; "
                    "HttpOnly; SameSite=Lax"
                )
                headers.append("Set-Cookie", cookie + ("; Secure" if self.secure_cookie else ""))
            await send(message)

        await self.app(scope, receive, send_with_token)
