"""The /graphql endpoint, answering as the GraphQL-over-HTTP specification asks.

Before anything runs, the request's client is identified (server/clients.py: its X-Api-Key, else
its address; a bad key is a 401). After validation, the QueryCost schema extension prices the
operation and charges the client's budget (server/cost.py, server/ratelimit.py): an operation over
the maximum cost is a 400 COST_LIMIT_EXCEEDED, one over the budget a 429 RATE_LIMITED with
Retry-After; neither runs. Answered operations carry X-RateLimit-Limit, X-RateLimit-Remaining and
X-RateLimit-Reset (seconds until the budget is whole again); answers to API-key clients' POST
requests also carry `extensions.cost` in the body (an answer that may be cached and shared, anonymous
or over GET, stays the same for everyone). A layer that answers without running the operation (a
response cache) calls `admit` first, so such answers are budgeted too.

Batched requests (a JSON array of operations) are not enabled: they get a 400.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from cross_web import HTTPException
from graphql import ExecutionResult as GraphQLExecutionResult
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send
from strawberry.asgi import GraphQL
from strawberry.extensions import SchemaExtension
from strawberry.http import GraphQLHTTPResponse
from strawberry.schema.exceptions import InvalidOperationTypeError
from strawberry.types import ExecutionResult

from models.errors import Unauthenticated
from resolvers.auth import CSRF_HEADER, SESSION_COOKIE, Auth
from schema.catalogue_planned import RULES as CATALOGUE_RULES
from schema.context import Context, RuntimeConfig
from schema.planned import Abandon, NotPlannable, Planner
from server import ratelimit
from server.clients import identify, unauthenticated_response
from server.cost import CACHE_HIT_COST, CostRules, QueryCost
from server.metrics import PLANNED
from server.settings import Settings

GRAPHQL_RESPONSE_JSON = "application/graphql-response+json"

log = logging.getLogger("emploi_store.graphql")
_PLANNED = PLANNED.labels(outcome="planned")
_UNPLANNABLE = PLANNED.labels(outcome="unplannable")
_ABANDONED = PLANNED.labels(outcome="abandoned")


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


class PlannedExecution(SchemaExtension):
    """Answers the operations schema/planned.py has a plan for, after QueryCost has charged them.

    Anything without a plan, or that a plan abandons (errors, nulls), is executed normally."""

    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    async def on_execute(self) -> AsyncIterator[None]:
        context = self.execution_context
        if context.result is None and context.graphql_document is not None:
            plan = self.planner.plan(context.graphql_document, context.operation_name)
            if plan is None:
                _UNPLANNABLE.inc()
            else:
                try:
                    data = await plan.run(context.schema, context.variables, context.context)
                except Abandon as exc:
                    _ABANDONED.inc()
                    log.debug("planned execution abandoned: %s", exc)
                except NotPlannable:
                    _UNPLANNABLE.inc()
                    self.planner.drop(context.graphql_document, context.operation_name)
                else:
                    _PLANNED.inc()
                    context.result = GraphQLExecutionResult(data=data, errors=None)
        yield


class _PlannedExecutionFactory:
    def __init__(self, planner: Planner) -> None:
        self.planner = planner

    def __call__(self) -> PlannedExecution:
        return PlannedExecution(self.planner)


def _with_server_extensions(schema: Any, planned: bool) -> None:
    """Registers QueryCost, then planned execution, on the schema once, whatever number of views
    serve it (in that order: an operation is charged before anything answers it)."""
    if QueryCost not in schema.extensions:
        schema.extensions = (*schema.extensions, QueryCost)
    if planned and not any(isinstance(e, _PlannedExecutionFactory) for e in schema.extensions):
        planner = Planner(schema._schema, CATALOGUE_RULES)
        schema.extensions = (*schema.extensions, _PlannedExecutionFactory(planner))


class GraphQLView(GraphQL[Context, None]):
    def __init__(self, *args: Any, config: RuntimeConfig, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config = config
        self.cost_rules = CostRules(max_cost=settings.max_query_cost)
        self.rate_limits = ratelimit.RateLimits(
            anonymous_per_minute=settings.rate_limit_anonymous_per_minute,
            key_per_minute=settings.rate_limit_key_per_minute,
            prefix=settings.redis_prefix,
        )
        _with_server_extensions(self.schema, planned=settings.planned_execution)

    def encode_json(self, data: object) -> str | bytes:
        # orjson: UTF-8 as is, a tenth of the json module's time on a catalogue page.
        try:
            return orjson.dumps(data)
        except TypeError:
            return super().encode_json(data)

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
        decision = getattr(request.state, "rate_limit", None) if isinstance(request, Request) else None
        if isinstance(decision, ratelimit.Decision):
            if not decision.allowed:
                return ratelimit.rate_limited_response(
                    decision, graphql_response_json=wants_graphql_response_json(request)
                )
            response.headers.update(ratelimit.rate_limit_headers(decision))
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
        with ratelimit.in_force(self.rate_limits):
            response = await self._answer(request, scope)
        await response(scope, receive, send)

    async def admit(self, scope: Scope, cost: int = CACHE_HIT_COST) -> Response | ratelimit.Decision:
        """For an answer given without running the operation (a response-cache hit): identifies the
        client and charges `cost`. A Response (401 for a refused key, 429 over budget) refuses it;
        otherwise the budget's decision, whose X-RateLimit-* headers go on the answer."""
        request = Request(scope)
        graphql_response_json = wants_graphql_response_json(request)
        with ratelimit.in_force(self.rate_limits):
            try:
                client = await identify(request.headers, request.client.host if request.client else None)
            except Unauthenticated as exc:
                return unauthenticated_response(exc, graphql_response_json=graphql_response_json)
            decision = await ratelimit.charge(client, cost)
        if not decision.allowed:
            return ratelimit.rate_limited_response(decision, graphql_response_json=graphql_response_json)
        return decision

    async def _answer(self, request: Request, scope: Scope) -> Response:
        try:
            request.state.client = await identify(
                request.headers, request.client.host if request.client else None
            )
        except Unauthenticated as exc:
            return unauthenticated_response(exc, graphql_response_json=wants_graphql_response_json(request))
        request.state.cost_rules = self.cost_rules
        try:
            response = await self.run(request)
        except HTTPException as exc:
            # Transport errors come back as GraphQL errors too, so clients parse one shape.
            body = {"errors": [{"message": exc.reason, "extensions": {"code": "BAD_REQUEST"}}]}
            media_type = GRAPHQL_RESPONSE_JSON if wants_graphql_response_json(request) else "application/json"
            response = Response(json.dumps(body), status_code=exc.status_code, media_type=media_type)
            if exc.status_code == 405:
                response.headers["Allow"] = "GET, POST" if scope["method"] not in ("GET", "POST") else "POST"
        return response
