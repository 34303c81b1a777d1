"""The /graphql endpoint, answering as the GraphQL-over-HTTP specification asks."""

from __future__ import annotations

import json
from typing import Any

from cross_web import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from resolvers.auth import CSRF_HEADER, SESSION_COOKIE, Auth
from schema.context import Context, RuntimeConfig

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"


def wants_graphql_response_json(request: Request) -> bool:
    accept = request.headers.get("accept", "")
    for part in accept.split(","):
        media_type, *params = [p.strip() for p in part.split(";")]
        if media_type == GRAPHQL_RESPONSE_JSON:
            return not any(p.replace(" ", "") in ("q=0", "q=0.0", "q=0.00", "q=0.000") for p in params)
    return False


def _is_request_error(result: ExecutionResult) -> bool:
    """The document did not parse or validate: no field ran, so no error has a path."""
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, *args: Any, config: RuntimeConfig, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        auth = Auth(
            authorization=request.headers.get("authorization"),
            cookie=request.cookies.get(SESSION_COOKIE),
            csrf_header=request.headers.get(CSRF_HEADER),
        )
        return Context(
            request=request, response=response, visitor=request.state.visitor, auth=auth, config=self.config
        )

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        if _is_request_error(result):
            # Nothing was executed, so the response carries no "data" entry at all.
            request.state.graphql_request_error = True
            processed.pop("data", None)  # type: ignore[misc]
        return processed

    async def execute_single(self, request: Request, request_adapter: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return await super().execute_single(request, request_adapter, *args, **kwargs)
        except HTTPException as exc:
            if request_adapter.method == "GET" and isinstance(exc.__cause__, InvalidOperationTypeError):
                raise HTTPException(405, "mutations are only accepted over POST") from exc
            raise

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:  # type: ignore[override]
        from strawberry.types.unset import UNSET

        response = await super().run(
            request, UNSET if context is None else context, UNSET if root_value is None else root_value
        )
        if isinstance(request, Request) and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            if getattr(request.state, "graphql_request_error", False):
                response.status_code = 400
            if wants_graphql_response_json(request):
                response.headers["content-type"] = f"{GRAPHQL_RESPONSE_JSON}; charset=utf-8"
        return response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        request = Request(scope, receive)
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Transport errors come back as GraphQL errors too, so clients parse one shape.
            body = {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]}
            media_type = GRAPHQL_RESPONSE_JSON if wants_graphql_response_json(request) else "application/json"
            response = Response(json.dumps(body), status_code=exc.status_code, media_type=media_type)
            if exc.status_code == 405:
                response.headers["Allow"] = "GET, POST" if scope["method"] not in ("GET", "POST") else "POST"
        await response(scope, receive, send)
