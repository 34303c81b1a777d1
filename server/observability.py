"""Operations: request ids, JSON log lines and Prometheus metrics (/metrics).

Two pure ASGI middlewares sit outside everything else, in this order:

- `RequestIdMiddleware` takes a sane incoming `X-Request-Id` or makes one, sends it back, puts it
  in a context variable that every log line of the request carries, and writes the access log.
- `MetricsMiddleware` counts requests by method, route template and status, times them, and counts
  the GraphQL errors of /graphql responses by `extensions.code` (`record_graphql_result`).

With several uvicorn workers, each writes its figures into PROMETHEUS_MULTIPROC_DIR and /metrics
adds them up (`emploi-store serve --workers N` prepares that folder).
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import re
import sys
import time
import uuid
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import Any, ClassVar, Literal

import orjson
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client import multiprocess as prometheus_multiprocess
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from server.metrics import GRAPHQL_ERRORS, LATENCY, REQUESTS
from server.settings import Settings

REQUEST_ID_HEADER = b"x-request-id"
_SANE_REQUEST_ID = re.compile(rb"[A-Za-z0-9._-]{1,128}")
# prometheus_client reads this variable itself, at import, to choose where values live.
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
METRICS_PATH = "/metrics"
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ERROR_CODE = re.compile(r"[A-Z][A-Z0-9_]{0,63}")

request_id_var: ContextVar[str | None] = ContextVar("emploi_store_request_id", default=None)
access_log = logging.getLogger("emploi_store.access")
log = logging.getLogger("emploi_store.server")


def current_request_id() -> str | None:
    """The id of the request being answered, or None outside a request (scheduler, CLI)."""
    return request_id_var.get()


# --- Logs -------------------------------------------------------------------------------------------

# What every LogRecord has; anything else on a record came in through `extra=` and is logged too
# (but not uvicorn's copy of its message with terminal colours).
_RECORD_ATTRIBUTES = frozenset(logging.makeLogRecord({}).__dict__) | {
    "message",
    "asctime",
    "request_id",
    "color_message",
}
_HANDLER_MARK = "_emploi_store_handler"
# Libraries that log every outgoing HTTP request at INFO; their warnings still show.
_CHATTY_LOGGERS = ("httpx", "httpcore", "elastic_transport")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the current request id (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, request_id, extras, exc_info."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None),
        }
        for key, value in record.__dict__.items():
            if key not in _RECORD_ATTRIBUTES and not key.startswith("_"):
                entry[key] = value
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return orjson.dumps(entry, default=str).decode()


TEXT_FORMAT = "%(asctime)s %(levelname)-7s %(name)s [%(request_id)s] %(message)s"


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever sys.stderr is at the time (test runners swap it)."""

    def __init__(self, level: int = logging.NOTSET) -> None:
        logging.Handler.__init__(self, level)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stderr


def log_handler(log_format: Literal["json", "text"], stream: Any = None) -> logging.Handler:
    handler: logging.Handler = StderrHandler() if stream is None else logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter() if log_format == "json" else logging.Formatter(TEXT_FORMAT))
    handler.addFilter(RequestIdFilter())
    return handler


def configure_logging(settings: Settings) -> None:
    """Sends every log line (uvicorn's, the recommender's, ours) through one handler on stderr.

    Safe to call again: it replaces the handler it added before and leaves others (pytest's) alone.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if getattr(handler, _HANDLER_MARK, False):
            root.removeHandler(handler)
    handler = log_handler(settings.log_format)
    setattr(handler, _HANDLER_MARK, True)
    root.addHandler(handler)
    root.setLevel(settings.log_level)  # a level name, checked by Settings
    for name in _CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING if root.level >= logging.INFO else logging.NOTSET)


# --- Request ids and the access log -----------------------------------------------------------------


def _request_id(scope: Scope) -> str:
    for name, value in scope["headers"]:
        if name == REQUEST_ID_HEADER:
            if _SANE_REQUEST_ID.fullmatch(value):
                return value.decode("ascii")
            break
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """X-Request-Id in and out, in every log line of the request, and one access log line."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = _request_id(scope)
        scope.setdefault("state", {})["request_id"] = request_id
        header = (REQUEST_ID_HEADER, request_id.encode("ascii"))
        status = 500  # what the client gets when the app fails before answering

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), header]
            await send(message)

        token = request_id_var.set(request_id)
        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            self._log(scope, 500, start, failed=True)
            raise
        else:
            self._log(scope, status, start, failed=False)
        finally:
            request_id_var.reset(token)

    @staticmethod
    def _log(scope: Scope, status: int, start: float, *, failed: bool) -> None:
        if not access_log.isEnabledFor(logging.INFO):
            return
        duration_ms = round((time.perf_counter() - start) * 1000, 3)
        method, path = scope["method"], scope["path"]
        access_log.log(
            logging.ERROR if failed else logging.INFO,
            "%s %s %s %.1fms",
            method,
            path,
            status,
            duration_ms,
            extra={"method": method, "path": path, "status": status, "duration_ms": duration_ms},
            exc_info=failed,
        )


# --- Metrics ----------------------------------------------------------------------------------------


def _error_code(error: Any) -> str:
    extensions = error.get("extensions") if isinstance(error, Mapping) else None
    code = extensions.get("code") if isinstance(extensions, Mapping) else None
    if code is None:
        return "NONE"  # e.g. a document that does not parse or validate
    # Codes come from the server, but the label set must stay bounded whatever happens.
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else "OTHER"


def record_graphql_result(body: Mapping[str, Any]) -> None:
    """Counts the errors of one GraphQL response body by `extensions.code` (errors without: NONE).

    MetricsMiddleware already calls it for every JSON answer of /graphql, whoever produced it (the
    view, a cache, a rate limit), so code behind /graphql must not call it again; it is public for
    GraphQL answered elsewhere (another transport, a batch).
    """
    errors = body.get("errors")
    if isinstance(errors, list):
        for error in errors:
            GRAPHQL_ERRORS.labels(_error_code(error)).inc()


def _is_json(headers: Iterable[tuple[bytes, bytes]]) -> bool:
    for name, value in headers:
        if name == b"content-type":
            return b"json" in value
    return False


def route_template(scope: Scope) -> str:
    """The matched route's path ("/go/{slug}/{platform}"), never the raw path: labels stay bounded."""
    route = scope.get("route")  # set by Starlette's router, also for a 405's partial match
    path = getattr(route, "path", None)
    return path if isinstance(path, str) and path else UNMATCHED_ROUTE


class MetricsMiddleware:
    """Requests by method, route template and status; their latency; GraphQL errors by code."""

    # One labelled child per (method, route[, status]): a dict lookup instead of a lock per request.
    _children: ClassVar[dict[tuple[str, str, int], tuple[Any, Any]]] = {}

    def __init__(self, app: ASGIApp, *, graphql_path: str = "/graphql") -> None:
        self.app = app
        self.graphql_path = graphql_path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        status = 500
        # GraphQL answers are read back for their errors; cheap: only when the body mentions them.
        body: list[bytes] | None = [] if scope["path"] == self.graphql_path else None

        async def send_observed(message: Message) -> None:
            nonlocal status, body
            if message["type"] == "http.response.start":
                status = message["status"]
                if body is not None and not _is_json(message.get("headers", ())):
                    body = None
            elif body is not None and message["type"] == "http.response.body":
                body.append(message.get("body", b""))
            await send(message)

        start = time.perf_counter()
        try:
            await self.app(scope, receive, send_observed)
        finally:
            self._observe(scope, status, time.perf_counter() - start)
            if body:
                _record_graphql_body(b"".join(body))

    def _observe(self, scope: Scope, status: int, seconds: float) -> None:
        method = scope["method"] if scope["method"] in _METHODS else "OTHER"
        key = (method, route_template(scope), status)
        children = self._children.get(key)
        if children is None:
            children = (REQUESTS.labels(key[0], key[1], str(status)), LATENCY.labels(key[0], key[1]))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)


def _record_graphql_body(body: bytes) -> None:
    if b'"errors"' not in body:
        return
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError:
        return
    if isinstance(parsed, dict):
        record_graphql_result(parsed)


# Read when prometheus_client reads it (at import), so both agree on where the values live.
MULTIPROCESS = bool(os.environ.get(MULTIPROC_ENV))


def _scrape_registry() -> CollectorRegistry:
    if not MULTIPROCESS:
        return REGISTRY
    # Every worker writes its own files; a fresh registry per scrape adds them all up.
    registry = CollectorRegistry()
    prometheus_multiprocess.MultiProcessCollector(registry)
    return registry


async def metrics(request: Request) -> Response:
    """GET /metrics: Prometheus text format, every worker's figures added up."""
    return Response(generate_latest(_scrape_registry()), media_type=CONTENT_TYPE_LATEST)


# --- Wiring -----------------------------------------------------------------------------------------


def middleware(settings: Settings) -> list[Middleware]:
    """Outermost first: the request id (so every later log line has it), then the metrics."""
    stack = [Middleware(RequestIdMiddleware)]
    if settings.metrics_enabled:
        stack.append(Middleware(MetricsMiddleware))
    return stack


def routes(settings: Settings) -> list[Route]:
    return [Route(METRICS_PATH, metrics, methods=["GET"])] if settings.metrics_enabled else []
