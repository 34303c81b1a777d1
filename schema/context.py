"""What every resolver gets in `info.context`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from starlette.requests import Request
from starlette.responses import Response
from strawberry.types import Info as StrawberryInfo

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


@dataclass
class Context:
    request: Request
    response: Response
    visitor: Visitor
    loaders: Loaders = field(default_factory=Loaders)

    def url_for_path(self, path: str) -> str:
        return str(self.request.base_url).rstrip("/") + path


Info = StrawberryInfo[Context, None]
