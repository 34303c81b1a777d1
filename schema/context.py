"""What every resolver gets in `info.context`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

from resolvers.auth import Auth
from resolvers.dataloaders import Loaders


class Visitor(Protocol):
    """The anonymous visitor behind a request, identified by a token the server signed."""

    def current(self) -> str:
        """The visitor's id, issuing a new token if the request carried none."""
        ...

    @property
    def rejected(self) -> bool:
        """True when the client sent a token header that does not verify."""
        ...


@dataclass(frozen=True)
class RuntimeConfig:
    """The settings resolvers need, handed down by the server (the schema does not read settings)."""

    secret: str
    secure_cookies: bool = False
    session_cookie_lifetime: dt.timedelta = dt.timedelta(hours=12)
    bearer_token_lifetime: dt.timedelta = dt.timedelta(days=30)
    preview_lifetime: dt.timedelta = dt.timedelta(hours=48)


@dataclass
class Context:
    request: Request
    response: Response
    visitor: Visitor
    auth: Auth
    config: RuntimeConfig
    loaders: Loaders = field(default_factory=Loaders)

    def url_for_path(self, path: str) -> str:
        return str(self.request.base_url).rstrip("/") + path


Info = StrawberryInfo[Context, None]
