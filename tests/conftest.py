"""Test harness: a real database (SQLite file or a throwaway PostgreSQL database), migrated by the
real CLI, and a real uvicorn server on a free port, driven over HTTP."""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import logging
import os
import pathlib
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import httpx
import pytest
import uvicorn
from tortoise import Tortoise

from recommender.registry import registry as models
from recommender.snapshot import cache as recommender_cache
from search.registry import database_backend
from server import caching
from server.app import create_app
from server.settings import Settings

BACKEND = os.environ.get("TEST_DATABASE", "sqlite")
PG_ADMIN_URL = os.environ.get("TEST_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# Children before parents, so DELETE works on SQLite without cascades.
TABLES = (
    "recommendation_item",
    "recommendation",
    "questionnaire_version",
    "search_outbox",
    "webhook_delivery",
    "webhook_endpoint",
    "service_proposal",
    "audit_log",
    "article_tag",
    "article_service",
    "article",
    "revision",
    "media",
    "api_key",
    "user_session",
    "sign_in_failure",
    "user_account",
    "redirect_event",
    "rating",
    "service_link",
    "service_category",
    "service",
    "category",
    "partner",
)


def pytest_report_header(config: pytest.Config) -> str:
    return f"database backend: {BACKEND}"


@pytest.fixture(scope="session")
def backend() -> str:
    return BACKEND


@pytest.fixture(scope="session")
async def database_url(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[str]:
    if BACKEND == "sqlite":
        yield f"sqlite://{tmp_path_factory.mktemp('db') / 'test.sqlite3'}"
        return
    if BACKEND != "postgres":
        raise pytest.UsageError(f"TEST_DATABASE must be sqlite or postgres, not {BACKEND!r}")
    name = f"emploi_test_{uuid.uuid4().hex[:12]}"
    admin_dsn = PG_ADMIN_URL.replace("postgres://", "postgresql://", 1)
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    await Tortoise.close_connections()
    admin = await asyncpg.connect(admin_dsn)
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await admin.close()


def run_cli(
    *args: str, database_url: str, var_dir: pathlib.Path, extra_env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Runs the installed `emploi-store` command as a user would."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VAR_DIR": str(var_dir),
        "SECRET_KEY": "test-secret",
        **(extra_env or {}),
    }
    command = [sys.executable, "-m", "server.cli", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="session")
def var_dir(tmp_path_factory: pytest.TempPathFactory) -> pathlib.Path:
    return tmp_path_factory.mktemp("var")


@pytest.fixture(scope="session")
def settings(database_url: str, var_dir: pathlib.Path) -> Settings:
    result = run_cli("migrate", database_url=database_url, var_dir=var_dir)
    assert result.returncode == 0, result.stderr
    # The scheduler is driven by the tests themselves (see tests/cms/test_scheduler.py).
    return Settings(
        database_url=database_url,
        var_dir=var_dir,
        secret_key="test-secret",
        debug=False,
        scheduler_interval_seconds=0,
        # Tests load models themselves (recommender.registry.registry.refresh()); no polling.
        recommender_model_dir=var_dir / "served-models",
        recommender_poll_seconds=0,
        # Every test talks from 127.0.0.1: budgets no test reaches (tests/server/test_rate_limits.py
        # starts its own servers with small ones).
        rate_limit_anonymous_per_minute=10**9,
        rate_limit_key_per_minute=10**9,
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.asynccontextmanager
async def uvicorn_in_loop(
    app: Any, *, port: int | None = None, lifespan: str = "off", startup_seconds: float = 10.0, **options: Any
) -> AsyncIterator[str]:
    """A real uvicorn serving `app` on a free port (or `port`) in the tests' event loop; yields its URL."""
    port = port or free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan=lifespan, **options
    )
    instance = uvicorn.Server(config)
    task = asyncio.create_task(instance.serve())
    deadline = time.monotonic() + startup_seconds
    while not instance.started:
        if task.done():
            task.result()
        if time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        instance.should_exit = True
        await task


class UvicornProcess:
    """The app served by uvicorn in a process of its own, configured through the environment, as a
    production worker runs."""

    def __init__(self, env: dict[str, str], log: pathlib.Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = log
        command = [sys.executable, "-m", "uvicorn", "server.app:create_app", "--factory"]
        command += ["--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"]
        with log.open("w") as output:
            self.process = subprocess.Popen(
                command, env={**os.environ, **env}, stdout=output, stderr=subprocess.STDOUT
            )

    async def ready(self) -> None:
        async with httpx.AsyncClient(timeout=1) as http:
            for _ in range(300):
                if self.process.poll() is not None:
                    raise RuntimeError(f"the server stopped:\n{self.log.read_text()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await http.get(self.url + "/healthz")).status_code == 200:
                        return
                await asyncio.sleep(0.1)
        raise RuntimeError(f"the server did not start:\n{self.log.read_text()}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@pytest.fixture(scope="session")
async def server(settings: Settings) -> AsyncIterator[str]:
    """A real uvicorn serving the app on a free port, in the tests' event loop."""
    async with uvicorn_in_loop(create_app(settings), lifespan="on") as url:
        yield url


async def empty_database() -> None:
    """Every table emptied (the schema stays), and what the server keeps about them forgotten."""
    connection = Tortoise.get_connection("default")
    if BACKEND == "postgres":
        await connection.execute_script(f"TRUNCATE {', '.join(TABLES)} RESTART IDENTITY CASCADE")
    else:
        for table in TABLES:
            await connection.execute_script(f"DELETE FROM {table}")
    await database_backend().clear()
    recommender_cache.invalidate()
    await caching.clear_all()  # cached answers describe the rows just deleted
    models.configure(models.directory)  # back to the content scorer until a test loads a model


@pytest.fixture
async def db(server: str) -> AsyncIterator[None]:
    """An empty catalogue for each test that asks for it."""
    await empty_database()
    yield


class _KeepNoCookies(http.cookiejar.DefaultCookiePolicy):
    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


def http_cookiejar() -> http.cookiejar.CookieJar:
    return http.cookiejar.CookieJar(policy=_KeepNoCookies())


@pytest.fixture
async def client(server: str, db: None) -> AsyncIterator[httpx.AsyncClient]:
    """An API client that keeps no cookies: each request without a token is a new visitor."""
    async with httpx.AsyncClient(base_url=server, timeout=30, cookies=http_cookiejar()) as api:
        yield api


@dataclass
class GraphQLResponse:
    status: int
    body: dict[str, Any]
    headers: httpx.Headers

    @property
    def data(self) -> Any:
        return self.body.get("data")

    @property
    def errors(self) -> list[dict[str, Any]]:
        return self.body.get("errors") or []

    @property
    def codes(self) -> list[str | None]:
        return [(e.get("extensions") or {}).get("code") for e in self.errors]


@dataclass
class GraphQLClient:
    http: httpx.AsyncClient
    headers: dict[str, str] = field(default_factory=dict)

    async def __call__(
        self, query: str, variables: dict[str, Any] | None = None, **headers: str
    ) -> GraphQLResponse:
        response = await self.http.post(
            "/graphql",
            json={"query": query, "variables": variables or {}},
            headers={"accept": "application/graphql-response+json", **self.headers, **headers},
        )
        return GraphQLResponse(response.status_code, response.json(), response.headers)


@pytest.fixture
def gql(client: httpx.AsyncClient) -> GraphQLClient:
    return GraphQLClient(client)


PASSWORD = "correct horse battery staple"


@dataclass
class SignedInClient:
    """A bearer-token API client for one account."""

    user: Any
    gql: GraphQLClient
    http: httpx.AsyncClient


async def sign_in_as(server: str, role: str, *, email: str | None = None, **options: Any) -> SignedInClient:
    from cms.accounts import create_user
    from models.enums import Role

    email = email or f"{role}-{uuid.uuid4().hex[:8]}@emploi-store.test"
    user = await create_user(email, PASSWORD, Role(role), **options)
    http = httpx.AsyncClient(base_url=server, timeout=30, cookies=http_cookiejar())
    response = await http.post(
        "/graphql",
        json={
            "query": "mutation($e: String!, $p: String!) { signIn(email: $e, password: $p, kind: BEARER) { token } }",
            "variables": {"e": email, "p": PASSWORD},
        },
    )
    token = response.json()["data"]["signIn"]["token"]
    http.headers["authorization"] = f"Bearer {token}"
    return SignedInClient(user=user, gql=GraphQLClient(http), http=http)


@pytest.fixture
async def sign_in(server: str, db: None) -> AsyncIterator[Any]:
    """`await sign_in("editor")` → a client signed in with a new editor account (bearer token)."""
    clients: list[SignedInClient] = []

    async def make(role: str, **options: Any) -> SignedInClient:
        client = await sign_in_as(server, role, **options)
        clients.append(client)
        return client

    yield make
    for client in clients:
        await client.http.aclose()


class StatementCounter(logging.Handler):
    """Counts the SQL statements Tortoise sends, whatever the backend."""

    VERBS = ("select", "insert", "update", "delete", "with")

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.statements: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = str(record.args[0]) if record.args else str(record.msg)
        if text.lstrip().lower().startswith(self.VERBS):
            self.statements.append(text)


@pytest.fixture
def count_statements() -> Iterator[StatementCounter]:
    logger = logging.getLogger("tortoise.db_client")
    counter = StatementCounter()
    previous = logger.level
    logger.setLevel(logging.DEBUG)
    logger.addHandler(counter)
    try:
        yield counter
    finally:
        logger.removeHandler(counter)
        logger.setLevel(previous)
