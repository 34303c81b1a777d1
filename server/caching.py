"""Automatic persisted queries, HTTP caching and the response cache of /graphql.

- Persisted queries speak Apollo's protocol (version 1, sha256): a client sends the hash alone, and
  the whole document only after the server answered PERSISTED_QUERY_NOT_FOUND.
- A GET query from an anonymous client whose execution read nothing personal (no visitor id, no
  session, no signing secret, no cookie set) and returned no errors is public: `Cache-Control:
  public`, a strong ETag, 304 for a matching If-None-Match, and a copy in the response cache.
- The response cache answers a repeated public GET before any parsing or database access. Each
  entry carries the content version it was made under; the version moves on when a mutation or the
  scheduler changes public content, and entries also expire after a TTL (for other processes'
  changes when there is no Redis to share the version).
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Protocol, cast
from urllib.parse import parse_qsl

import orjson
from cross_web import HTTPException
from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
    parse,
)
from redis.exceptions import RedisError
from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Message, Receive, Scope, Send
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData
from strawberry.types import ExecutionResult

from models.accounts import Session, User
from models.cms import AuditLogEntry
from resolvers.auth import SESSION_COOKIE, Auth
from schema.context import Context, RuntimeConfig, Visitor
from server import ratelimit
from server import redis as shared_redis
from server.clients import API_KEY_HEADER
from server.graphql import GRAPHQL_RESPONSE_JSON, GraphQLView, wants_graphql_response_json
from server.metrics import CACHE
from server.settings import Settings

log = logging.getLogger("emploi_store.caching")

# Root mutation fields after which public content is still what it was (visitor-only or account-only).
PUBLIC_CONTENT_UNCHANGED = frozenset(
    {"recommend", "trackRedirect", "signIn", "signOut", "createApiKey", "revokeApiKey"}
)
# Audit actions of the scheduler (any process, the CLI too) that change what the public sees.
SCHEDULED_ACTIONS = ("article.publish_scheduled", "article.expire")

PERSISTED_QUERY_NOT_FOUND = orjson.dumps(
    {"errors": [{"message": "PersistedQueryNotFound", "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"}}]}
)
MAX_PERSISTED_DOCUMENT = 100_000  # characters; longer documents run but are not kept
PERSISTED_QUERY_REDIS_TTL = 30 * 24 * 3600
VARY = b"Accept, Accept-Encoding"
_SHA256_HEX = re.compile(r"[0-9a-fA-F]{64}")
_SESSION_MARK = SESSION_COOKIE.encode("ascii") + b"="
_EXCHANGE = "caching.exchange"

_RESPONSE_HIT = CACHE.labels(cache="response", outcome="hit")
_RESPONSE_MISS = CACHE.labels(cache="response", outcome="miss")
_RESPONSE_STORE = CACHE.labels(cache="response", outcome="store")
_APQ_HIT = CACHE.labels(cache="apq", outcome="hit")
_APQ_MISS = CACHE.labels(cache="apq", outcome="miss")
_APQ_STORE = CACHE.labels(cache="apq", outcome="store")

_REDIS_DOWN = (RedisError, OSError)


class PersistedQueryNotFound(Exception):
    """The client sent a hash this server does not know: it should send the document with it."""


# --- What is cached -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CachedResponse:
    """A public response as sent, and the content version it was made under."""

    version: int
    status: int
    content_type: bytes
    etag: bytes
    cache_control: bytes
    body: bytes
    expires_at: float = 0.0  # time.monotonic(); only read by the in-process cache

    @property
    def size(self) -> int:
        return len(self.body) + len(self.content_type) + len(self.etag) + len(self.cache_control) + 64

    def headers(self, x_cache: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"content-type", self.content_type),
            (b"content-length", str(len(self.body)).encode("ascii")),
            (b"etag", self.etag),
            (b"cache-control", self.cache_control),
            (b"vary", VARY),
            (b"x-cache", x_cache),
        ]

    def not_modified_headers(self, x_cache: bytes) -> list[tuple[bytes, bytes]]:
        return [
            (b"etag", self.etag),
            (b"cache-control", self.cache_control),
            (b"vary", VARY),
            (b"x-cache", x_cache),
        ]

    def encode(self) -> bytes:
        meta = [self.version, self.status, self.content_type, self.etag, self.cache_control]
        return (
            orjson.dumps([m.decode("latin-1") if isinstance(m, bytes) else m for m in meta])
            + b"\n"
            + self.body
        )

    @classmethod
    def decode(cls, raw: bytes) -> CachedResponse:
        meta, _, body = raw.partition(b"\n")
        version, status, content_type, etag, cache_control = orjson.loads(meta)
        return cls(
            version=int(version),
            status=int(status),
            content_type=content_type.encode("latin-1"),
            etag=etag.encode("latin-1"),
            cache_control=cache_control.encode("latin-1"),
            body=body,
        )


def etag_of(content_type: bytes, body: bytes) -> bytes:
    """A strong validator: the same bytes in the same media type."""
    digest = hashlib.blake2b(content_type + b"\n" + body, digest_size=16).hexdigest()
    return f'"{digest}"'.encode("ascii")


def etag_matches(if_none_match: bytes | str | None, etag: bytes) -> bool:
    """If-None-Match uses the weak comparison (RFC 9110 §13.1.2)."""
    if not if_none_match:
        return False
    header = if_none_match.encode("latin-1") if isinstance(if_none_match, str) else if_none_match
    for candidate in header.split(b","):
        candidate = candidate.strip()
        if candidate == b"*" or candidate.removeprefix(b"W/") == etag:
            return True
    return False


# --- Persisted query stores -----------------------------------------------------------------------


class PersistedQueries(Protocol):
    async def get(self, sha256: str) -> str | None: ...

    async def put(self, sha256: str, document: str) -> None: ...

    async def clear(self) -> None: ...


class LocalPersistedQueries:
    """In process, the most recently used `max_entries` documents."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max(1, max_entries)
        self._documents: OrderedDict[str, str] = OrderedDict()

    def __len__(self) -> int:
        return len(self._documents)

    async def get(self, sha256: str) -> str | None:
        document = self._documents.get(sha256)
        if document is not None:
            self._documents.move_to_end(sha256)
        return document

    async def put(self, sha256: str, document: str) -> None:
        self._documents[sha256] = document
        self._documents.move_to_end(sha256)
        while len(self._documents) > self.max_entries:
            self._documents.popitem(last=False)

    async def clear(self) -> None:
        self._documents.clear()


class RedisPersistedQueries:
    """Shared by every worker through Redis; a document nobody asked for in a month is dropped."""

    def __init__(self, prefix: str) -> None:
        self.prefix = f"{prefix}apq:"

    async def get(self, sha256: str) -> str | None:
        redis = shared_redis.client()
        if redis is None:
            return None
        try:
            raw = await redis.get(self.prefix + sha256)
        except _REDIS_DOWN as exc:
            log.warning("persisted query lookup failed: %s", exc)
            return None
        return cast(bytes, raw).decode("utf-8") if raw is not None else None

    async def put(self, sha256: str, document: str) -> None:
        redis = shared_redis.client()
        if redis is None:
            return
        try:
            await redis.set(self.prefix + sha256, document.encode("utf-8"), ex=PERSISTED_QUERY_REDIS_TTL)
        except _REDIS_DOWN as exc:
            log.warning("persisted query not stored: %s", exc)

    async def clear(self) -> None:
        """Shared documents stay: other processes may rely on them, and they never go stale."""


# --- Response caches ------------------------------------------------------------------------------


class ResponseCache(Protocol):
    async def lookup(self, key: str) -> tuple[CachedResponse | None, int | None]:
        """The entry still valid for `key`, and the current content version (None: do not store)."""
        ...

    async def store(self, key: str, entry: CachedResponse) -> bool: ...

    async def bump(self) -> None:
        """Public content changed: every entry made before is stale."""
        ...

    async def clear(self) -> None: ...


class LocalResponseCache:
    """In process: a bounded LRU (by entries and by bytes) with a TTL and a content version."""

    def __init__(self, *, max_entries: int, max_bytes: int, ttl: float) -> None:
        self.max_entries = max(1, max_entries)
        self.max_bytes = max(1024, max_bytes)
        self.ttl = ttl
        self.version = 0
        self.bytes = 0
        self._entries: OrderedDict[str, CachedResponse] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    async def lookup(self, key: str) -> tuple[CachedResponse | None, int | None]:
        entry = self._entries.get(key)
        if entry is None:
            return None, self.version
        if entry.version != self.version or entry.expires_at <= time.monotonic():
            self._drop(key)
            return None, self.version
        self._entries.move_to_end(key)
        return entry, self.version

    async def store(self, key: str, entry: CachedResponse) -> bool:
        # Made under a version that has moved on meanwhile: it may hold what just changed.
        if entry.version != self.version or entry.size > self.max_bytes // 8 or self.ttl <= 0:
            return False
        self._drop(key)
        entry = CachedResponse(
            version=entry.version,
            status=entry.status,
            content_type=entry.content_type,
            etag=entry.etag,
            cache_control=entry.cache_control,
            body=entry.body,
            expires_at=time.monotonic() + self.ttl,
        )
        self._entries[key] = entry
        self.bytes += entry.size
        while len(self._entries) > self.max_entries or self.bytes > self.max_bytes:
            _, evicted = self._entries.popitem(last=False)
            self.bytes -= evicted.size
        return True

    async def bump(self) -> None:
        self.version += 1
        self._entries.clear()
        self.bytes = 0

    async def clear(self) -> None:
        await self.bump()

    def _drop(self, key: str) -> None:
        entry = self._entries.pop(key, None)
        if entry is not None:
            self.bytes -= entry.size


class RedisResponseCache:
    """Shared by every worker: entries expire in Redis after the TTL; the version is a Redis counter."""

    def __init__(self, *, prefix: str, ttl: float, max_entry_bytes: int) -> None:
        self.prefix = f"{prefix}response:"
        self.version_key = f"{prefix}content-version"
        self.ttl_ms = int(ttl * 1000)
        self.max_entry_bytes = max_entry_bytes

    async def lookup(self, key: str) -> tuple[CachedResponse | None, int | None]:
        redis = shared_redis.client()
        if redis is None:
            return None, None
        try:
            version_raw, raw = await redis.mget(self.version_key, self.prefix + key)
        except _REDIS_DOWN as exc:
            log.warning("response cache lookup failed: %s", exc)
            return None, None
        version = int(version_raw or 0)
        if raw is None:
            return None, version
        try:
            entry = CachedResponse.decode(cast(bytes, raw))
        except (ValueError, TypeError):
            return None, version
        return (entry if entry.version == version else None), version

    async def store(self, key: str, entry: CachedResponse) -> bool:
        redis = shared_redis.client()
        if redis is None or self.ttl_ms <= 0 or entry.size > self.max_entry_bytes:
            return False
        try:
            await redis.set(self.prefix + key, entry.encode(), px=self.ttl_ms)
        except _REDIS_DOWN as exc:
            log.warning("response not cached: %s", exc)
            return False
        return True

    async def bump(self) -> None:
        redis = shared_redis.client()
        if redis is None:
            return
        try:
            await redis.incr(self.version_key)
        except _REDIS_DOWN as exc:
            # Nothing can be served from a Redis that cannot be reached either; the TTL covers the rest.
            log.warning("content version not bumped: %s", exc)

    async def clear(self) -> None:
        await self.bump()


# --- What one request touched ---------------------------------------------------------------------


@dataclass(slots=True)
class _Exchange:
    """What the cache learns about one request on its way through the view."""

    key: str | None = None  # response-cache key, when the lookup missed
    version: int | None = None  # the content version at lookup time
    personal: bool = False  # execution read the visitor, the session or the signing secret
    executed: bool = False
    errors: bool = False


def _exchange(request: Request) -> _Exchange:
    state = request.scope.setdefault("state", {})
    exchange = state.get(_EXCHANGE)
    if exchange is None:
        exchange = state[_EXCHANGE] = _Exchange()
    return cast(_Exchange, exchange)


class _WatchedVisitor:
    def __init__(self, visitor: Visitor, exchange: _Exchange) -> None:
        self._visitor = visitor
        self._exchange = exchange

    def current(self) -> str:
        self._exchange.personal = True
        return self._visitor.current()

    @property
    def rejected(self) -> bool:
        self._exchange.personal = True
        return self._visitor.rejected


class _WatchedAuth(Auth):
    """The request's Auth, noting any use of the session (the answer then depends on who asks)."""

    def __init__(self, auth: Auth, exchange: _Exchange) -> None:  # every call goes to `auth`
        self._auth = auth
        self._exchange = exchange

    def __getattr__(self, name: str) -> Any:
        return getattr(self._auth, name)

    async def session(self) -> Session | None:
        self._exchange.personal = True
        return await self._auth.session()

    async def user(self) -> User | None:
        self._exchange.personal = True
        return await self._auth.user()

    async def csrf_ok(self) -> bool:
        self._exchange.personal = True
        return await self._auth.csrf_ok()

    def forget(self) -> None:
        self._exchange.personal = True
        self._auth.forget()


class _WatchedConfig:
    """The runtime config; reading the signing secret means a signed token (a preview link) is in use."""

    def __init__(self, config: RuntimeConfig, exchange: _Exchange) -> None:
        self._config = config
        self._exchange = exchange

    def __getattr__(self, name: str) -> Any:
        if name == "secret":
            self._exchange.personal = True
        return getattr(self._config, name)


# --- Reading requests -----------------------------------------------------------------------------


def persisted_query_hash(persisted: object) -> str:
    """The sha256 of `extensions.persistedQuery`, or a 400 for anything that is not version 1."""
    if not isinstance(persisted, dict):
        raise HTTPException(400, "extensions.persistedQuery must be an object")
    version = persisted.get("version")
    if isinstance(version, bool) or version != 1:
        raise HTTPException(
            400, "PersistedQueryNotSupported: only version 1 of persisted queries is supported"
        )
    digest = persisted.get("sha256Hash")
    if not isinstance(digest, str) or not _SHA256_HEX.fullmatch(digest):
        raise HTTPException(400, "extensions.persistedQuery.sha256Hash must be 64 hexadecimal digits")
    return digest.lower()


def document_hash(document: str) -> str:
    return hashlib.sha256(document.encode("utf-8")).hexdigest()


@lru_cache(maxsize=64)
def _media_type(accept: str) -> str:
    probe = Request({"type": "http", "headers": [(b"accept", accept.encode("latin-1"))]})
    return GRAPHQL_RESPONSE_JSON if wants_graphql_response_json(probe) else "application/json"


def lookup_key(scope: Scope) -> tuple[str, bytes | None] | None:
    """The response-cache key of an anonymous GET and its If-None-Match; None when it may not be cached.

    The document counts by its sha256, so a query sent as text and the same query sent by hash
    share an entry; the host is part of the key because answers hold absolute URLs.
    """
    accept = b""
    host: bytes | None = None
    if_none_match: bytes | None = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            return None
        if name == b"cookie":
            if _SESSION_MARK in value:
                return None
        elif name == b"accept":
            accept = accept or value
        elif name == b"host":
            host = host or value
        elif name == b"if-none-match":
            if_none_match = if_none_match or value
    query_string: bytes = scope["query_string"]
    where = (scope.get("scheme", "http"), host or scope.get("server"), scope.get("root_path", ""))
    if len(query_string) > _REMEMBERED_QUERY_STRING:
        key = _request_key(query_string, accept, where)
    else:  # the same few URLs come again and again: skip decoding them each time
        key = _remembered_request_key(query_string, accept, where)
    return None if key is None else (key, if_none_match)


def _request_key(query_string: bytes, accept: bytes, where: tuple[object, ...]) -> str | None:
    params = dict(parse_qsl(query_string.decode("latin-1"), keep_blank_values=True))
    query = params.get("query")
    digest: str | None = None
    rest: object = None
    try:
        raw_extensions = params.get("extensions")
        if raw_extensions is not None:
            extensions = orjson.loads(raw_extensions)
            if not isinstance(extensions, dict):
                return None
            if "persistedQuery" in extensions:
                digest = persisted_query_hash(extensions.pop("persistedQuery"))
            rest = extensions or None
        if query is not None:
            text_digest = document_hash(query)
            if digest is not None and digest != text_digest:
                return None  # refused on the way through
            digest = text_digest
        if digest is None:
            return None
        raw_variables = params.get("variables")
        variables = orjson.loads(raw_variables) if raw_variables is not None else None
        if variables is not None and not isinstance(variables, dict):
            return None
        material = orjson.dumps(
            [
                digest,
                variables,
                raw_variables is None,
                params.get("operationName"),
                rest,
                _media_type(accept.decode("latin-1")),
                [w.decode("latin-1") if isinstance(w, bytes) else w for w in where],
            ],
            option=orjson.OPT_SORT_KEYS,
        )
    except (ValueError, TypeError, HTTPException):  # orjson.JSONDecodeError is a ValueError
        return None
    return hashlib.sha256(material).hexdigest()


_REMEMBERED_QUERY_STRING = 8192
_remembered_request_key = lru_cache(maxsize=1024)(_request_key)


def _collect_root_fields(
    selection_set: SelectionSetNode,
    fragments: dict[str, FragmentDefinitionNode],
    seen: set[str],
    into: list[tuple[str, str]],
) -> None:
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            name = selection.name.value
            into.append((selection.alias.value if selection.alias else name, name))
        elif isinstance(selection, InlineFragmentNode):
            _collect_root_fields(selection.selection_set, fragments, seen, into)
        elif isinstance(selection, FragmentSpreadNode):
            fragment = fragments.get(selection.name.value)
            if fragment is not None and fragment.name.value not in seen:
                seen.add(fragment.name.value)
                _collect_root_fields(fragment.selection_set, fragments, seen, into)


def content_changing_fields(document: str, operation_name: str | None) -> tuple[str, ...]:
    """The response keys of a mutation's root fields that may change public content (none for queries)."""
    if len(document) > MAX_PERSISTED_DOCUMENT:
        return _content_changing_fields(document, operation_name)
    return _remembered_content_changing_fields(document, operation_name)


def _content_changing_fields(document: str, operation_name: str | None) -> tuple[str, ...]:
    try:
        parsed: DocumentNode = parse(document, no_location=True)
    except GraphQLError:
        return ()
    operation = get_operation_ast(parsed, operation_name)
    if operation is None or operation.operation is not OperationType.MUTATION:
        return ()
    fragments = {d.name.value: d for d in parsed.definitions if isinstance(d, FragmentDefinitionNode)}
    fields: list[tuple[str, str]] = []
    _collect_root_fields(operation.selection_set, fragments, set(), fields)
    return tuple(
        key for key, name in fields if name not in PUBLIC_CONTENT_UNCHANGED and not name.startswith("__")
    )


_remembered_content_changing_fields = lru_cache(maxsize=512)(_content_changing_fields)


def changed_public_content(keys: tuple[str, ...], result: ExecutionResult) -> bool:
    """A field counts as done unless its own resolver refused (an error at exactly its path)."""
    refused = {e.path[0] for e in result.errors or [] if e.path is not None and len(e.path) == 1}
    return any(key not in refused for key in keys)


def _is_request_error(result: ExecutionResult) -> bool:
    errors = result.errors or []
    return result.data is None and bool(errors) and all(e.path is None for e in errors)


# --- Scheduler ------------------------------------------------------------------------------------


class ScheduledChanges:
    """A scheduler job: public content changed when articles were published or expired on time, by
    this process, another worker or the CLI; their audit entries say so."""

    def __init__(self, invalidate: Callable[[], Awaitable[None]]) -> None:
        self._invalidate = invalidate
        self._latest: int | None = -1  # never an id: the first tick invalidates

    async def __call__(self) -> None:
        latest = (
            await AuditLogEntry.filter(action__in=SCHEDULED_ACTIONS)
            .order_by("-id")
            .first()
            .values_list("id", flat=True)
        )
        if latest != self._latest:
            self._latest = cast(int | None, latest)
            await self._invalidate()


# --- The view -------------------------------------------------------------------------------------

_VIEWS: weakref.WeakSet[CachingGraphQLView] = weakref.WeakSet()


async def clear_all() -> None:
    """Forgets what every view of this process cached (tests empty the database under the server)."""
    for view in list(_VIEWS):
        await view.clear()


class CachingGraphQLView(GraphQLView):
    """/graphql with persisted queries, HTTP caching and a response cache in front."""

    def __init__(self, *args: Any, config: RuntimeConfig, settings: Settings, **kwargs: Any) -> None:
        super().__init__(*args, config=config, settings=settings, **kwargs)
        shared = bool(settings.redis_url)
        self.max_tokens = settings.graphql_max_tokens
        self.public_cache_control = f"public, max-age={max(0, settings.http_cache_max_age)}".encode("ascii")
        self.persisted_queries: PersistedQueries = (
            RedisPersistedQueries(settings.redis_prefix)
            if shared
            else LocalPersistedQueries(settings.persisted_queries_max_entries)
        )
        self.responses: ResponseCache | None = None
        if settings.response_cache:
            self.responses = (
                RedisResponseCache(
                    prefix=settings.redis_prefix,
                    ttl=settings.response_cache_ttl_seconds,
                    max_entry_bytes=settings.response_cache_max_bytes // 8,
                )
                if shared
                else LocalResponseCache(
                    max_entries=settings.response_cache_max_entries,
                    max_bytes=settings.response_cache_max_bytes,
                    ttl=settings.response_cache_ttl_seconds,
                )
            )
        # Give this to the scheduler's extra jobs.
        self.scheduled_changes = ScheduledChanges(self.content_changed)
        _VIEWS.add(self)

    # Hooks ---------------------------------------------------------------------------------------

    async def admit_cached(self, scope: Scope, entry: CachedResponse) -> Response | ratelimit.Decision:
        """Called before a cached response is sent: a Response refuses it. It identifies the client
        and charges its rate-limit budget for a cache hit, as GraphQLView.admit does."""
        return await self.admit(scope)

    async def content_changed(self) -> None:
        """Public content changed: cached responses made before are not served again."""
        if self.responses is not None:
            await self.responses.bump()

    async def clear(self) -> None:
        await self.persisted_queries.clear()
        if self.responses is not None:
            await self.responses.clear()

    # The fast path -------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await super().__call__(scope, receive, send)
            return
        exchange = _Exchange()
        scope.setdefault("state", {})[_EXCHANGE] = exchange
        if self.responses is not None and scope["method"] == "GET":
            lookup = lookup_key(scope)
            if lookup is not None:
                key, if_none_match = lookup
                entry, exchange.version = await self.responses.lookup(key)
                if entry is not None:
                    _RESPONSE_HIT.inc()
                    await self._send_cached(scope, receive, send, entry, if_none_match)
                    return
                _RESPONSE_MISS.inc()
                exchange.key = key
        await super().__call__(scope, receive, self._with_default_headers(send, exchange))

    async def _send_cached(
        self, scope: Scope, receive: Receive, send: Send, entry: CachedResponse, if_none_match: bytes | None
    ) -> None:
        admitted = await self.admit_cached(scope, entry)
        if isinstance(admitted, Response):
            await admitted(scope, receive, send)
            return
        budget = [
            (name.lower().encode("latin-1"), value.encode("latin-1"))
            for name, value in ratelimit.rate_limit_headers(admitted).items()
        ]
        if etag_matches(if_none_match, entry.etag):
            headers = entry.not_modified_headers(b"HIT") + budget
            await send({"type": "http.response.start", "status": 304, "headers": headers})
            await send({"type": "http.response.body", "body": b""})
            return
        headers = entry.headers(b"HIT") + budget
        await send({"type": "http.response.start", "status": entry.status, "headers": headers})
        await send({"type": "http.response.body", "body": entry.body})

    @staticmethod
    def _with_default_headers(send: Send, exchange: _Exchange) -> Send:
        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if "cache-control" not in headers:
                    headers["cache-control"] = "no-store"
                if exchange.key is not None and "x-cache" not in headers:
                    headers["x-cache"] = "MISS"
            await send(message)

        return sending

    # Strawberry's hooks --------------------------------------------------------------------------

    def should_render_graphql_ide(self, request: Any) -> bool:
        # A GET by hash has no `query` either; it wants the answer, not GraphiQL.
        return super().should_render_graphql_ide(request) and request.query_params.get("extensions") is None

    async def get_context(self, request: Request, response: Response) -> Context:  # type: ignore[override]
        context = await super().get_context(request, response)
        exchange = _exchange(request)
        context.visitor = _WatchedVisitor(context.visitor, exchange)
        context.auth = _WatchedAuth(context.auth, exchange)
        context.config = cast(RuntimeConfig, _WatchedConfig(context.config, exchange))
        return context

    async def execute_single(self, request: Request, request_adapter: Any, *args: Any, **kwargs: Any) -> Any:
        request_data: GraphQLRequestData = kwargs["request_data"]
        await self._resolve_persisted_query(request_data)
        result = await super().execute_single(request, request_adapter, *args, **kwargs)
        if request_adapter.method == "POST" and isinstance(result, ExecutionResult):
            await self._after_mutation(request_data, result)
        return result

    async def process_result(self, request: Request, result: ExecutionResult) -> GraphQLHTTPResponse:
        processed = await super().process_result(request, result)
        exchange = _exchange(request)
        exchange.executed = True
        exchange.errors = exchange.errors or bool(result.errors)
        return processed

    async def run(self, request: Any, context: Any = None, root_value: Any = None) -> Any:
        if not isinstance(request, Request):
            return await super().run(request, context, root_value)
        try:
            response = await super().run(request, context, root_value)
        except PersistedQueryNotFound:
            media_type = GRAPHQL_RESPONSE_JSON if wants_graphql_response_json(request) else "application/json"
            # 200, as Apollo Client expects before it sends the document along.
            return Response(
                PERSISTED_QUERY_NOT_FOUND, media_type=media_type, headers={"cache-control": "no-store"}
            )
        return await self._apply_http_caching(request, response)

    # Persisted queries ---------------------------------------------------------------------------

    async def _resolve_persisted_query(self, request_data: GraphQLRequestData) -> None:
        extensions = request_data.extensions
        if not extensions or "persistedQuery" not in extensions:
            return
        digest = persisted_query_hash(extensions["persistedQuery"])
        if request_data.query is None:
            document = await self.persisted_queries.get(digest)
            if document is None:
                _APQ_MISS.inc()
                raise PersistedQueryNotFound
            _APQ_HIT.inc()
            request_data.query = document
            return
        if document_hash(request_data.query) != digest:
            raise HTTPException(400, "provided sha does not match query")
        if self._parses(request_data.query):
            await self.persisted_queries.put(digest, request_data.query)
            _APQ_STORE.inc()

    def _parses(self, document: str) -> bool:
        """Only documents that parse, within the token limit, are kept."""
        if len(document) > MAX_PERSISTED_DOCUMENT:
            return False
        try:
            parse(document, no_location=True, max_tokens=self.max_tokens)
        except GraphQLError:
            return False
        return True

    async def _after_mutation(self, request_data: GraphQLRequestData, result: ExecutionResult) -> None:
        document = request_data.query
        if not document or "mutation" not in document or _is_request_error(result):
            return
        keys = content_changing_fields(document, request_data.operation_name)
        if keys and changed_public_content(keys, result):
            await self.content_changed()

    # HTTP caching --------------------------------------------------------------------------------

    async def _apply_http_caching(self, request: Request, response: Response) -> Response:
        exchange = _exchange(request)
        body = getattr(response, "body", None)
        content_type = response.headers.get("content-type", "")
        if not exchange.executed or not isinstance(body, bytes) or "json" not in content_type:
            return response
        if response.status_code != 200 or exchange.errors:
            response.headers["cache-control"] = "no-store"
            return response
        public = (
            request.method == "GET"
            and not exchange.personal
            and "authorization" not in request.headers
            and API_KEY_HEADER not in request.headers  # their answers carry their own extensions.cost
            and SESSION_COOKIE not in request.cookies
            and "set-cookie" not in response.headers
        )
        if not public:
            response.headers["cache-control"] = "private, no-store"
            return response
        content_type_bytes = content_type.encode("latin-1")
        etag = etag_of(content_type_bytes, body)
        response.headers["cache-control"] = self.public_cache_control.decode("ascii")
        response.headers["etag"] = etag.decode("ascii")
        response.headers["vary"] = VARY.decode("ascii")
        if self.responses is not None and exchange.key is not None and exchange.version is not None:
            entry = CachedResponse(
                version=exchange.version,
                status=response.status_code,
                content_type=content_type_bytes,
                etag=etag,
                cache_control=self.public_cache_control,
                body=body,
            )
            if await self.responses.store(exchange.key, entry):
                _RESPONSE_STORE.inc()
        if etag_matches(request.headers.get("if-none-match"), etag):
            not_modified = Response(status_code=304)
            for name in ("etag", "cache-control", "vary"):
                not_modified.headers[name] = response.headers[name]
            return not_modified
        return response
