"""How much load does the real API server take? req/s, p50/p99 and errors of the public API under
32 concurrent connections, next to a ceiling measured in the same run on the same machine.

One command does everything, and undoes it:

1. a throwaway PostgreSQL database, migrated and seeded with the demo catalogue by the CLI
   (`emploi-store migrate`, `emploi-store seed --no-model`: no recommender model is trained, so
   `recommend` ranks with the content scorer); for each larger size (20,000 by default) the
   catalogue then grows with published, free variants of the demo services (bench/search_latency.py
   grow_catalogue(): other names and shuffled sentences, the same categories, kinds and links),
   indexed for search, then ANALYZE;
2. the real server, `emploi-store serve --port P` in a subprocess (`--workers N` for 2 workers
   when the command has the option), with DATABASE_URL, VAR_DIR, SECRET_KEY, LOG_LEVEL=WARNING,
   the scheduler and the model poll off, generous rate limits, and RESPONSE_CACHE on or off;
3. load from a separate process (bench/loadgen.py: wrk, installed with apt-get when missing and
   allowed, else a Python/aiohttp generator), a warm-up then DURATION seconds per scenario:
     page-cached  the catalogue page, GET `services(first: 20)` with each service's name,
                  shortDescription, kind, categories, links and rating, response cache ON;
     page         the same page, response cache OFF (RESPONSE_CACHE=false): every request executes;
     detail       `service(slug:)` with provider, categories, links, rating and relatedServices,
                  GET, cycling through published services;
     search       `search(query: "entretien")` with hits and facets, GET;
     recommend    the `recommend` mutation, POST, answers drawn from the questionnaire in force;
     rate         the `rateService` mutation, POST, cycling services and visitor tokens (tokens the
                  server issued in X-Visitor-Token), so rows are inserted then replaced;
   every scenario but page-cached runs against the cache-off server;
4. the ceiling, bench/ceiling.py: a bare Starlette + asyncpg + orjson app serving the same
   catalogue page in one SQL query, under uvicorn with the same number of workers, driven the same
   way; its page is checked equal (as JSON) to the GraphQL one;
5. one Markdown table on stdout (progress on stderr), with the machine and the targets, and for
   each row the server's CPU time per request (its processes' user + system time from /proc),
   which the rest of a shared machine's load disturbs less than req/s.
The database is dropped and every process stopped on the way out, Ctrl-C and failures included.

With --profile, no table: the uncached catalogue page is driven against one server process that
measures its garbage collector (CPU time in gc callbacks) over one window, then profiles itself
over another with the collector off (pyinstrument when it is importable, else cProfile), and the
CPU is broken down by part: GraphQL execution, validation, the ORM, the driver, HTTP...

    .venv/bin/python bench/api_load.py [--sizes 330,20000] [--workers 1,2] [--connections 32]
        [--duration 10] [--warmup 3] [--scenarios page-cached,page,detail,search,recommend,rate]
        [--loadgen auto|wrk|python] [--redis-url redis://127.0.0.1:6379/15] [--profile]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import pathlib
import platform
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

try:  # python -m bench.api_load
    from bench import loadgen
    from bench import search_harness as harness
    from bench.recommend_latency import SECRET, analyze
    from bench.search_latency import grow_catalogue, index_new_services
except ImportError:  # python bench/api_load.py
    import loadgen  # type: ignore[no-redef]
    import search_harness as harness  # type: ignore[no-redef]
    from recommend_latency import SECRET, analyze  # type: ignore[no-redef]
    from search_latency import grow_catalogue, index_new_services  # type: ignore[no-redef]

SCRIPT = pathlib.Path(__file__).resolve()
BENCH_DIR = SCRIPT.parent
READY_TIMEOUT_S = 120
DETAIL_SLUGS = 300
RECOMMEND_ANSWER_SETS = 200
RATE_VISITORS = 50
RATE_SERVICES = 40
P99_TARGET_MS = 25.0
P99_TARGET_CONNECTIONS = 32
# Generous enough never to refuse the benchmark's traffic; unknown names are ignored by the settings.
GENEROUS_LIMITS = {
    "RATE_LIMIT_ANONYMOUS_PER_MINUTE": "1000000000",
    "RATE_LIMIT_KEY_PER_MINUTE": "1000000000",
}

CATALOGUE_PAGE = (
    "{ services(first: 20) { edges { node { name shortDescription kind "
    "categories { slug name } links { platform url } rating { average count } } } } }"
)
SERVICE_DETAIL = (
    "query Detail($slug: String!) { service(slug: $slug) { slug name shortDescription longDescription "
    "kind tags provider { name isPublicEmploymentService } categories { slug name } "
    "links { platform url redirectUrl } rating { count average distribution { stars count } } "
    "relatedServices(first: 5) { slug name } } }"
)
SEARCH = (
    '{ search(query: "entretien") { totalCount '
    "facets { categories { value count } kinds { value count } platforms { value count } "
    "contentTypes { value count } } "
    "edges { node { score snippet contentType item { ... on Service { slug name } "
    "... on Article { slug title } } } } } }"
)
QUESTIONNAIRE = "{ questionnaire { version questions { key required multiple maxChoices options { key } } } }"
RECOMMEND = (
    "mutation Recommend($answers: [Answer!]!) { recommend(answers: $answers) { id modelVersion "
    "items { rank score reason service { slug name } } } }"
)
RATE = (
    "mutation Rate($slug: String!, $stars: Int!) { rateService(serviceSlug: $slug, stars: $stars) "
    "{ replaced service { rating { count average } } } }"
)


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    cache: bool | None  # the response cache of the server it runs on; None: the ceiling app
    min_ratio: float | None = None  # target: req/s against the ceiling's


SCENARIOS = {
    s.key: s
    for s in (
        Scenario("page-cached", "catalogue page, response cache on (GET)", True, 1.0),
        Scenario("page", "catalogue page, response cache off (GET)", False, 0.25),
        Scenario("detail", "service detail (GET, varied slugs)", False),
        Scenario("search", 'search "entretien" with facets (GET)', False),
        Scenario("recommend", "recommend (POST, varied answers)", False),
        Scenario("rate", "rateService (POST, varied services and visitors)", False),
        Scenario("ceiling", "ceiling: Starlette + asyncpg + orjson (GET)", None),
    )
}
PRODUCT_SCENARIOS = [key for key in SCENARIOS if key != "ceiling"]


@dataclass
class Row:
    scenario: Scenario
    services: int
    workers: int
    connections: int
    result: loadgen.LoadResult
    server_cpu_s: float  # CPU seconds the server's processes used during the measured seconds
    load_1min: float  # the load average right after the row
    ceiling_rps: float | None = None

    @property
    def cpu_ms_per_request(self) -> float:
        return self.server_cpu_s * 1000 / self.result.requests if self.result.requests else 0.0

    @property
    def ratio(self) -> float | None:
        if self.scenario.key == "ceiling" or not self.ceiling_rps:
            return None
        return self.result.rps / self.ceiling_rps

    def targets(self) -> list[tuple[str, bool]]:
        checks: list[tuple[str, bool]] = []
        if self.scenario.min_ratio is not None:
            ratio = self.ratio
            checks.append(
                (
                    f"≥ {self.scenario.min_ratio:g}× ceiling",
                    ratio is not None and ratio >= self.scenario.min_ratio,
                )
            )
        if self.connections == P99_TARGET_CONNECTIONS and self.scenario.key != "ceiling":
            checks.append((f"p99 < {P99_TARGET_MS:g} ms", self.result.p99_ms < P99_TARGET_MS))
        checks.append(("no errors", self.result.errors == 0))
        return checks


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    load_before: tuple[float, float, float] = field(default_factory=os.getloadavg)
    load_after: tuple[float, float, float] | None = None
    postgres: str = ""
    generator: str = ""
    started: float = field(default_factory=time.perf_counter)
    same_page: dict[tuple[int, int], str | None] = field(default_factory=dict)  # the first difference


def log(message: str) -> None:
    harness.log(message)


# -- processes ------------------------------------------------------------------------------------
class Processes:
    """Every server this run starts, each in its own process group, so that stopping it stops its
    workers too; `stop_all()` runs on the way out whatever happened."""

    def __init__(self) -> None:
        self.running: list[subprocess.Popen[bytes]] = []

    def start(
        self, command: list[str], env: dict[str, str], log_path: pathlib.Path
    ) -> subprocess.Popen[bytes]:
        with log_path.open("ab") as output:
            process = subprocess.Popen(
                command,
                env=env,
                cwd=log_path.parent,  # away from any .env in the working copy
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.running.append(process)
        return process

    def stop(self, process: subprocess.Popen[bytes], grace_s: float = 10.0) -> None:
        if process.poll() is None:
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(grace_s)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        # Workers a parent left behind (a SIGKILLed uvicorn does not reap them).
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        if process in self.running:
            self.running.remove(process)

    def stop_all(self) -> None:
        for process in list(self.running):
            self.stop(process)


def group_cpu_seconds(pgid: int) -> float:
    """User + system CPU seconds used so far by the live processes of a process group (a server
    and its workers), from /proc: a figure the other load on a shared machine hardly changes."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in pathlib.Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # fields[0] is the state: pgrp is the 5th field of the line
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def log_tail(path: pathlib.Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


async def wait_ready(base_url: str, process: subprocess.Popen[bytes], log_path: pathlib.Path) -> float:
    import httpx

    started = time.perf_counter()
    async with httpx.AsyncClient(timeout=2) as client:
        while time.perf_counter() - started < READY_TIMEOUT_S:
            if process.poll() is not None:
                raise RuntimeError(f"the server exited ({process.returncode}):\n{log_tail(log_path)}")
            try:
                if (await client.get(base_url + "/healthz")).status_code == 200:
                    return time.perf_counter() - started
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.2)
    raise RuntimeError(f"the server did not answer /healthz in {READY_TIMEOUT_S} s:\n{log_tail(log_path)}")


def serve_has_workers_option() -> bool:
    result = subprocess.run(
        [sys.executable, "-m", "server.cli", "serve", "--help"],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "200"},
        timeout=120,
        check=False,
    )
    return "--workers" in result.stdout


def product_env(
    database_url: str, var_dir: pathlib.Path, cache: bool, args: argparse.Namespace
) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("ELASTICSEARCH_URL", "REDIS_URL", "DATABASE_URL", "PROMETHEUS_MULTIPROC_DIR")
    }
    env.update(GENEROUS_LIMITS)
    env.update(
        {
            "DATABASE_URL": database_url,
            "VAR_DIR": str(var_dir),
            "SECRET_KEY": SECRET,
            "LOG_LEVEL": "WARNING",
            "SCHEDULER_INTERVAL_SECONDS": "0",  # no background ticks in the measurements
            "RECOMMENDER_POLL_SECONDS": "0",
            "RESPONSE_CACHE": "true" if cache else "false",
        }
    )
    if args.redis_url:
        env["REDIS_URL"] = args.redis_url
    return env


# -- requests -------------------------------------------------------------------------------------
JSON_HEADERS = {"Accept": "application/json"}
POST_HEADERS = {"Accept": "application/json", "Content-Type": "application/json"}


def get(query: str, variables: dict[str, Any] | None = None) -> loadgen.Request:
    params = {"query": query}
    if variables is not None:
        params["variables"] = json.dumps(variables, separators=(",", ":"))
    return loadgen.Request("GET", "/graphql?" + urllib.parse.urlencode(params), None, JSON_HEADERS)


def post(query: str, variables: dict[str, Any], headers: dict[str, str] | None = None) -> loadgen.Request:
    body = json.dumps({"query": query, "variables": variables}, separators=(",", ":"), ensure_ascii=False)
    return loadgen.Request("POST", "/graphql", body, {**POST_HEADERS, **(headers or {})})


@dataclass
class ScenarioData:
    """What the varied scenarios cycle through, gathered once per catalogue size."""

    detail_slugs: list[str] = field(default_factory=list)
    rate_slugs: list[str] = field(default_factory=list)
    answer_sets: list[list[dict[str, Any]]] = field(default_factory=list)
    visitor_tokens: list[str] = field(default_factory=list)


async def sample_slugs(rng: random.Random) -> tuple[list[str], list[str]]:
    from cms.catalogue import published_services

    slugs = sorted(await published_services().values_list("slug", flat=True))
    return rng.sample(slugs, min(DETAIL_SLUGS, len(slugs))), rng.sample(slugs, min(RATE_SERVICES, len(slugs)))


async def gather_data(base_url: str, data: ScenarioData, rng: random.Random) -> None:
    """The questionnaire in force (answers are drawn from it) and visitor tokens the server issues."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=30) as client:
        if not data.answer_sets:
            answer = await client.get("/graphql", params={"query": QUESTIONNAIRE}, headers=JSON_HEADERS)
            questions = answer.json()["data"]["questionnaire"]["questions"]
            for _ in range(RECOMMEND_ANSWER_SETS):
                answers = []
                for question in questions:
                    if not question["required"] and rng.random() < 0.3:
                        continue
                    keys = [option["key"] for option in question["options"]]
                    count = (
                        rng.randint(1, min(question["maxChoices"], len(keys))) if question["multiple"] else 1
                    )
                    answers.append({"question": question["key"], "options": rng.sample(keys, count)})
                data.answer_sets.append(answers)
        while len(data.visitor_tokens) < RATE_VISITORS:
            # A first rating without a token: the server answers with the visitor token it issued.
            slug = data.rate_slugs[len(data.visitor_tokens) % len(data.rate_slugs)]
            answer = await client.post(
                "/graphql",
                json={"query": RATE, "variables": {"slug": slug, "stars": 4}},
                headers=POST_HEADERS,
            )
            client.cookies.clear()  # a new visitor each time, not the one the cookie names
            token = answer.headers.get("x-visitor-token")
            if answer.status_code != 200 or not token:
                raise RuntimeError(
                    f"rateService issued no visitor token: {answer.status_code} {answer.text[:300]}"
                )
            data.visitor_tokens.append(token)


def scenario_requests(key: str, data: ScenarioData, rng: random.Random) -> list[loadgen.Request]:
    if key in ("page", "page-cached"):
        return [get(CATALOGUE_PAGE)]
    if key == "detail":
        return [get(SERVICE_DETAIL, {"slug": slug}) for slug in data.detail_slugs]
    if key == "search":
        return [get(SEARCH)]
    if key == "recommend":
        return [post(RECOMMEND, {"answers": answers}) for answers in data.answer_sets]
    if key == "rate":
        pairs = [(token, slug) for token in data.visitor_tokens for slug in data.rate_slugs]
        rng.shuffle(pairs)
        return [
            post(RATE, {"slug": slug, "stars": rng.randint(1, 5)}, {"X-Visitor-Token": token})
            for token, slug in pairs
        ]
    if key == "ceiling":
        return [loadgen.Request("GET", "/catalogue", None, JSON_HEADERS)]
    raise ValueError(key)


async def probe(base_url: str, request: loadgen.Request) -> str | None:
    """None when one request of the scenario answers 2xx without GraphQL errors, else what came back."""
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        answer = await client.request(
            request.method,
            request.path,
            content=request.body.encode() if request.body is not None else None,
            headers=request.headers,
        )
    if 200 <= answer.status_code < 300 and '"errors"' not in answer.text:
        return None
    return f"{answer.status_code} {answer.text[:500]}"


def first_difference(expected: Any, found: Any, where: str = "data") -> str | None:
    """Where two JSON values first differ, or None when they are equal."""
    if isinstance(expected, dict) and isinstance(found, dict):
        for key in sorted(set(expected) | set(found)):
            if key not in expected or key not in found:
                return f"{where}.{key} only on one side"
            difference = first_difference(expected[key], found[key], f"{where}.{key}")
            if difference:
                return difference
        return None
    if isinstance(expected, list) and isinstance(found, list):
        if len(expected) != len(found):
            return f"{where}: {len(expected)} items in GraphQL, {len(found)} in the ceiling"
        for i, (a, b) in enumerate(zip(expected, found, strict=True)):
            difference = first_difference(a, b, f"{where}[{i}]")
            if difference:
                return difference
        return None
    return None if expected == found else f"{where}: GraphQL {expected!r}, ceiling {found!r}"


async def fetch_json(base_url: str, request: loadgen.Request) -> Any:
    import httpx

    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        return (await client.request(request.method, request.path, headers=request.headers)).json()


# -- the run --------------------------------------------------------------------------------------
class Bench:
    def __init__(
        self, args: argparse.Namespace, report: Report, processes: Processes, workdir: pathlib.Path
    ) -> None:
        self.args = args
        self.report = report
        self.processes = processes
        self.workdir = workdir
        self.generator = loadgen.LoadGenerator(args.wrk, threads=args.threads)
        self.rng = random.Random(args.seed)
        self.phase = 0

    async def load(
        self,
        scenario: Scenario,
        server: subprocess.Popen[bytes],
        base_url: str,
        requests: Sequence[loadgen.Request],
        services: int,
        workers: int,
    ) -> None:
        why = await probe(base_url, requests[0])
        if why:
            log(f"  {scenario.key}: the first request fails ({why}); measuring anyway")
        for connections in self.args.connections:
            if self.args.warmup > 0:
                await self.generator.run(base_url, requests, connections, self.args.warmup)
            cpu_before = group_cpu_seconds(server.pid)
            result = await self.generator.run(base_url, requests, connections, self.args.duration)
            cpu = group_cpu_seconds(server.pid) - cpu_before
            row = Row(scenario, services, workers, connections, result, cpu, os.getloadavg()[0])
            self.report.rows.append(row)
            cache = f", X-Cache HIT {result.cache_hits} MISS {result.cache_misses}" if scenario.cache else ""
            log(
                f"  {scenario.key:<12} {connections:>3} conns  {result.rps:8.1f} req/s  p50 {result.p50_ms:7.2f} ms  "
                f"p99 {result.p99_ms:8.2f} ms  errors {result.errors}  "
                f"server CPU {row.cpu_ms_per_request:.2f} ms/req{cache}"
            )
            if result.error_sample:
                log(f"    first error: {result.error_sample[:300]}")

    async def start(
        self, command: list[str], env: dict[str, str], label: str
    ) -> tuple[subprocess.Popen[bytes], str, pathlib.Path]:
        self.phase += 1
        port = free_port()
        log_path = self.workdir / f"{self.phase:02d}-{label}.log"
        process = self.processes.start([*command, "--port", str(port)], env, log_path)
        base_url = f"http://127.0.0.1:{port}"
        seconds = await wait_ready(base_url, process, log_path)
        log(f"[{label}] ready in {seconds:.1f}s on port {port}")
        return process, base_url, log_path

    def serve_command(self, workers: int) -> list[str]:
        command = [sys.executable, "-m", "server.cli", "serve", "--host", "127.0.0.1"]
        if self.args.workers_option:
            command += ["--workers", str(workers)]
        return command

    async def product_phase(
        self, database_url: str, services: int, workers: int, cache: bool, data: ScenarioData
    ) -> Any:
        """Runs this server's scenarios; the cache-off server also returns its catalogue page."""
        keys = [k for k in self.args.scenarios if SCENARIOS[k].cache is cache]
        if not keys:
            return None
        label = f"{services}-w{workers}-cache-{'on' if cache else 'off'}"
        env = product_env(database_url, self.workdir, cache, self.args)
        if workers > 1:
            metrics_dir = self.workdir / f"prometheus-{label}"
            metrics_dir.mkdir()
            env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
        process, base_url, _ = await self.start(self.serve_command(workers), env, label)
        try:
            if not cache and ("rate" in keys or "recommend" in keys):
                await gather_data(base_url, data, self.rng)
            for key in keys:
                requests = scenario_requests(key, data, self.rng)
                await self.load(SCENARIOS[key], process, base_url, requests, services, workers)
            return None if cache else await fetch_json(base_url, get(CATALOGUE_PAGE))
        finally:
            self.processes.stop(process)

    async def ceiling_phase(self, database_url: str, services: int, workers: int, reference: Any) -> None:
        env = {**os.environ, "DATABASE_URL": database_url}
        command = [sys.executable, str(BENCH_DIR / "ceiling.py"), "--workers", str(workers)]
        process, base_url, _ = await self.start(command, env, f"{services}-w{workers}-ceiling")
        try:
            requests = scenario_requests("ceiling", ScenarioData(), self.rng)
            if reference is not None:
                page = await fetch_json(base_url, requests[0])
                difference = first_difference(reference.get("data"), page.get("data"))
                self.report.same_page[(services, workers)] = difference
                log(f"  ceiling page: {difference or 'the same data as the GraphQL page'}")
            await self.load(SCENARIOS["ceiling"], process, base_url, requests, services, workers)
        finally:
            self.processes.stop(process)

    async def run(self, database_url: str) -> None:
        from cms.catalogue import published_services

        seeded = await published_services().count()
        log(f"[postgres] {seeded} published services seeded")
        for size in self.args.sizes:
            current = await published_services().count()
            if size > current:
                started = time.perf_counter()
                ids = await grow_catalogue(size)
                await index_new_services(f"postgres, {size:,}", harness.database_backend(), ids)
                await analyze()
                log(
                    f"[postgres] grown to {size:,} services and indexed in {time.perf_counter() - started:.0f}s"
                )
            services = await published_services().count()
            if services != size:
                self.report.notes.append(f"size {size}: the catalogue has {services} published services")
            data = ScenarioData()
            data.detail_slugs, data.rate_slugs = await sample_slugs(self.rng)
            for workers in self.args.workers:
                reference = await self.product_phase(database_url, services, workers, False, data)
                await self.product_phase(database_url, services, workers, True, data)
                if any(k in self.args.scenarios for k in ("page", "page-cached", "ceiling")):
                    await self.ceiling_phase(database_url, services, workers, reference)
                self.attach_ceiling()

    def attach_ceiling(self) -> None:
        ceilings = {
            (r.services, r.workers, r.connections): r.result.rps
            for r in self.report.rows
            if r.scenario.key == "ceiling"
        }
        for row in self.report.rows:
            row.ceiling_rps = ceilings.get((row.services, row.workers, row.connections))


# -- profile ---------------------------------------------------------------------------------------
# Where the uncached catalogue page spends the server's CPU. A sample (pyinstrument) or a function's
# own time (cProfile) goes to the first subsystem found anywhere in its stack, else to the layer of
# the innermost frame with a known file (a builtin counts for its caller).
SUBSYSTEMS = (
    ("asyncpg (driver, protocol, decoding rows)", r"/asyncpg/"),
    (
        "Tortoise: building SQL (QuerySet, pypika)",
        r"_make_query|/pypika_tortoise/|/tortoise/(expressions|query_utils|filters)",
    ),
    (
        "Tortoise: rows to model instances",
        r"_init_from_db|/tortoise/fields/|/tortoise/backends/base/executor",
    ),
    ("Tortoise: other (QuerySet API, connections)", r"/tortoise/"),
    ("query cost (server/cost.py)", r"/server/cost\.py"),
    (
        "validation (graphql-core rules, depth/alias limiters)",
        r"/graphql/validation/|validate_document|_run_validation",
    ),
    ("parsing (graphql-core lexer, parser)", r"/graphql/language/(parser|lexer)"),
    ("JSON encoding", r"/json/encoder|orjson|encode_json"),
)
LAYERS = (
    (
        "project resolvers, types, dataloaders (schema/ resolvers/ cms/ models/)",
        rf"^{harness.REPO}/(schema|resolvers|cms|models)/",
    ),
    (
        "product HTTP layers (caching view, limits, clients, request id, metrics, visitors)",
        rf"^{harness.REPO}/server/|/prometheus_client/",
    ),
    ("GraphQL execution: strawberry (field wrappers, Info, DataLoader, extensions)", r"/strawberry/"),
    ("GraphQL execution: graphql-core executor", r"/graphql/"),
    ("uvicorn + Starlette", r"/uvicorn/|/starlette/|httptools"),
    ("asyncio (tasks, futures, gather)", r"/asyncio/"),
)
PROFILE_TOP = 15


def profile_category(frames: Sequence[str]) -> str:
    """frames: each frame's file and function joined by a NUL character, outermost first."""
    import re

    text = "\n".join(frames)
    for name, pattern in SUBSYSTEMS:
        if re.search(pattern, text):
            return name
    for frame in reversed(frames):
        for name, pattern in LAYERS:
            if re.search(pattern, frame.split("\x00", 1)[0]):
                return name
    return "other"


def serve_profiled(out: pathlib.Path, port: int) -> None:
    """The server process of --profile: the product's app under uvicorn, in process. Each SIGUSR1
    opens a window and SIGUSR2 closes it: the first window measures the garbage collector (CPU
    time in gc callbacks), the second profiles with the collector off; the figures go to `out`."""
    import gc

    import uvicorn

    from server.app import create_app

    windows: list[dict[str, Any]] = []
    collector = {"on": False, "started": 0.0, "seconds": [0.0, 0.0, 0.0], "runs": [0, 0, 0], "longest": 0.0}
    state: dict[str, Any] = {}

    def on_gc(phase: str, info: dict[str, int]) -> None:
        if not collector["on"]:
            return
        if phase == "start":
            collector["started"] = time.process_time()
            return
        took = time.process_time() - collector["started"]
        collector["seconds"][info["generation"]] += took
        collector["runs"][info["generation"]] += 1
        collector["longest"] = max(collector["longest"], took)

    def open_window(*_: Any) -> None:
        state["cpu"], state["wall"] = time.process_time(), time.perf_counter()
        if not windows:
            collector["on"] = True
            return
        gc.disable()  # the collector's share is known from the first window
        try:
            from pyinstrument import Profiler

            state["profiler"] = Profiler(interval=0.001, async_mode="disabled")
        except ImportError:
            import cProfile

            state["profiler"] = cProfile.Profile()
        if hasattr(state["profiler"], "start"):
            state["profiler"].start()
        else:
            state["profiler"].enable()

    def close_window(*_: Any) -> None:
        window: dict[str, Any] = {
            "cpu_s": time.process_time() - state["cpu"],
            "wall_s": time.perf_counter() - state["wall"],
        }
        if not windows:
            collector["on"] = False
            window.update(
                gc_seconds=collector["seconds"],
                gc_runs=collector["runs"],
                gc_longest_ms=collector["longest"] * 1000,
                gc_objects=len(gc.get_objects()),
            )
        else:
            profiler = state.pop("profiler")
            if hasattr(profiler, "stop"):
                window.update(tool="pyinstrument", **_pyinstrument_breakdown(profiler.stop()))
            else:
                profiler.disable()
                window.update(tool="cProfile", **_cprofile_breakdown(profiler))
            gc.enable()
        windows.append(window)
        out.write_text(json.dumps(windows), encoding="utf-8")

    gc.callbacks.append(on_gc)
    signal.signal(signal.SIGUSR1, open_window)
    signal.signal(signal.SIGUSR2, close_window)
    uvicorn.run(create_app, factory=True, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def _pyinstrument_breakdown(session: Any) -> dict[str, Any]:
    phases: dict[str, float] = {}
    leaves: dict[str, float] = {}
    waiting = 0.0
    for stack, seconds in session.frame_records:
        frames = [frame.split("\x00") for frame in stack]
        function, where = frames[-1][0], frames[-1][1] if len(frames[-1]) > 1 else ""
        if "api_load.py" in where:
            continue  # the profiler's own window handling
        if "selectors.py" in where or ("runners.py" in where and function.startswith("run")):
            waiting += seconds  # inside the event loop's C code: I/O waits and callbacks
            continue
        category = profile_category([f"{f[1] if len(f) > 1 else ''}\x00{f[0]}" for f in frames])
        phases[category] = phases.get(category, 0.0) + seconds
        leaf = f"{function} ({where.split('site-packages/')[-1]})"
        leaves[leaf] = leaves.get(leaf, 0.0) + seconds
    top = sorted(leaves.items(), key=lambda item: -item[1])[:PROFILE_TOP]
    return {"phases": phases, "top": top, "event_loop_s": waiting}


def _cprofile_breakdown(profiler: Any) -> dict[str, Any]:
    import pstats

    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    phases: dict[str, float] = {}
    leaves: dict[str, float] = {}
    for (filename, _, function), (_, _, own, _, _) in stats.items():
        category = profile_category([f"{filename}\x00{function}"])
        phases[category] = phases.get(category, 0.0) + own
        leaves[f"{function} ({filename.split('site-packages/')[-1]})"] = own
    top = sorted(leaves.items(), key=lambda item: -item[1])[:PROFILE_TOP]
    return {"phases": phases, "top": top, "event_loop_s": 0.0}


async def profile_page(
    args: argparse.Namespace, workdir: pathlib.Path, processes: Processes, url: str
) -> str:
    """--profile: the uncached catalogue page at each size, 1 worker, the profiled server process."""
    from cms.catalogue import published_services

    generator = loadgen.LoadGenerator(args.wrk, threads=args.threads)
    connections = args.connections[-1]
    requests = scenario_requests("page", ScenarioData(), random.Random(0))
    sections = []
    for size in args.sizes:
        if size > await published_services().count():
            ids = await grow_catalogue(size)
            await index_new_services(f"postgres, {size:,}", harness.database_backend(), ids)
            await analyze()
        services = await published_services().count()
        out = workdir / f"profile-{services}.json"
        port = free_port()
        log_path = workdir / f"profile-{services}.log"
        command = [
            sys.executable,
            str(SCRIPT),
            "--serve-profiled",
            str(out),
            str(port),
        ]
        process = processes.start(command, product_env(url, workdir, False, args), log_path)
        base_url = f"http://127.0.0.1:{port}"
        try:
            await wait_ready(base_url, process, log_path)
            await generator.run(base_url, requests, connections, max(args.warmup, 1))
            results = []
            for _ in range(2):  # the collector's window, then the profiler's
                process.send_signal(signal.SIGUSR1)
                results.append(await generator.run(base_url, requests, connections, args.duration))
                process.send_signal(signal.SIGUSR2)
                await asyncio.sleep(2)
            windows = json.loads(out.read_text(encoding="utf-8"))
        finally:
            processes.stop(process)
        sections.append(profile_section(services, connections, results, windows))
        log(sections[-1])
    return "\n\n".join(sections)


def profile_section(
    services: int, connections: int, results: list[loadgen.LoadResult], windows: list[dict[str, Any]]
) -> str:
    collected, profiled = windows
    gc_total = sum(collected["gc_seconds"])
    requests = max(results[0].requests, 1)
    lines = [
        f"### Uncached catalogue page, {services:,} services, 1 worker, {connections} connections",
        "",
        f"Garbage collector (first window, {results[0].requests} requests, {results[0].rps:.0f} req/s): "
        f"{collected['cpu_s'] * 1000 / requests:.1f} ms of server CPU per request, of which the "
        f"collector {gc_total * 1000 / requests:.1f} ms ({gc_total / max(collected['cpu_s'], 1e-9):.0%}): "
        f"generations 0/1/2 ran {'/'.join(str(n) for n in collected['gc_runs'])} times for "
        f"{'/'.join(f'{x:.2f}' for x in collected['gc_seconds'])} s CPU; the longest collection took "
        f"{collected['gc_longest_ms']:.0f} ms; {collected['gc_objects']:,} objects tracked.",
        "",
        f"Where the rest goes (second window, collector off, {profiled['tool']}, "
        f"{results[1].requests} requests):",
        "",
        "| share | seconds | part |",
        "|---:|---:|---|",
    ]
    phases = profiled["phases"]
    busy = sum(phases.values()) or 1e-9
    for name, seconds in sorted(phases.items(), key=lambda item: -item[1]):
        lines.append(f"| {seconds / busy:.1%} | {seconds:.2f} | {name} |")
    if profiled["event_loop_s"]:
        lines.append(
            f"| — | {profiled['event_loop_s']:.2f} | (not counted: inside the event loop's C code) |"
        )
    lines += ["", "Functions with the most own time:", ""]
    lines += [f"- {seconds / busy:.1%} {name}" for name, seconds in profiled["top"]]
    return "\n".join(lines)


# -- report ---------------------------------------------------------------------------------------
def cpu_model() -> str:
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.machine()


def versions() -> str:
    from importlib.metadata import version

    names = ("uvicorn", "starlette", "strawberry-graphql", "graphql-core", "tortoise-orm", "asyncpg")
    return ", ".join(f"{name} {version(name)}" for name in names)


async def postgres_version() -> str:
    from tortoise import Tortoise

    rows = await Tortoise.get_connection("default").execute_query_dict("SHOW server_version")
    return str(rows[0]["server_version"])


def cache_column(row: Row) -> str:
    r = row.result
    if row.scenario.cache is None:
        return "—"
    total = r.cache_hits + r.cache_misses + r.cache_other
    if not r.cache_hits and not r.cache_misses:
        return "absent"
    return f"HIT {r.cache_hits / total:.0%}" if r.cache_hits else f"MISS {r.cache_misses / total:.0%}"


def markdown(report: Report, args: argparse.Namespace) -> str:
    load = ", ".join(f"{x:.2f}" for x in report.load_before)
    after = ", ".join(f"{x:.2f}" for x in report.load_after or os.getloadavg())
    lines = [
        f"## API under load ({dt.datetime.now().astimezone():%Y-%m-%d %H:%M %Z})",
        "",
        f"Machine: {cpu_model()}, {os.cpu_count()} CPUs (server, load generator and PostgreSQL share "
        f"them); load average before {load}, after {after} (1, 5, 15 min); Python "
        f"{platform.python_version()}; PostgreSQL {report.postgres}; {versions()}.",
        f"Load: {report.generator}, {args.duration:g} s per row after a {args.warmup:g} s warm-up, "
        "closed loop (each connection sends its next request when the answer has come back).",
        "",
        "| scenario | services | workers | conns | req/s | p50 ms | p99 ms | errors | × ceiling "
        "| server CPU ms/req | X-Cache | load | targets |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in report.rows:
        r = row.result
        ratio = f"{row.ratio:.2f}×" if row.ratio is not None else "—"
        targets = ", ".join(f"{name} {'✓' if ok else '✗'}" for name, ok in row.targets())
        lines.append(
            f"| {row.scenario.label} | {row.services:,} | {row.workers} | {row.connections} | {r.rps:,.0f} | "
            f"{r.p50_ms:.1f} | {r.p99_ms:.1f} | {r.errors} | {ratio} | {row.cpu_ms_per_request:.2f} | "
            f"{cache_column(row)} | {row.load_1min:.1f} | {targets} |"
        )
    lines += [
        "",
        "Targets: catalogue page from the response cache ≥ 1.0× the ceiling, with the cache off ≥ 0.25×; "
        f"p99 < {P99_TARGET_MS:g} ms at {P99_TARGET_CONNECTIONS} connections; no errors (a status outside "
        '2xx, a socket error or timeout, or a body with GraphQL "errors").',
        "server CPU ms/req: user + system CPU of the server's processes (not PostgreSQL's) over the "
        "measured seconds, per answered request, the figure the rest of the machine's load changes "
        "least; load: the 1-minute load average right after the row.",
    ]
    for (services, workers), difference in report.same_page.items():
        if difference:
            lines.append(
                f"WARNING: at {services:,} services, {workers} worker(s), the ceiling's page differs from "
                f"the GraphQL one: {difference}."
            )
    checked = [key for key, difference in report.same_page.items() if difference is None]
    if checked:
        lines.append(
            "The ceiling's page was checked equal (as JSON data) to the GraphQL page at "
            + ", ".join(f"{services:,} services/{workers}w" for services, workers in checked)
            + "."
        )
    samples = [(row, row.result.error_sample) for row in report.rows if row.result.error_sample]
    for row, sample in samples[:5]:
        lines.append(f"First error, {row.scenario.key} ({row.services:,}, {row.workers}w): `{sample[:200]}`")
    lines += [f"Note: {note}" for note in report.notes]
    lines.append(f"Whole run: {time.perf_counter() - report.started:.0f} s.")
    return "\n".join(lines)


# -- main -----------------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> int:
    task = asyncio.current_task()
    assert task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    why_not = await harness.postgres_unavailable(harness.pg_admin_url())
    if why_not:
        log(f"postgres: not available ({why_not})")
        return 1
    report = Report()
    processes = Processes()
    args.workers_option = serve_has_workers_option()
    if not args.workers_option and any(w > 1 for w in args.workers):
        report.notes.append("`emploi-store serve` has no --workers option: only 1 worker was measured")
        args.workers = [1]
    report.generator = loadgen.LoadGenerator(args.wrk, threads=args.threads).name
    log(f"load generator: {report.generator}; load average {os.getloadavg()}")
    try:
        with tempfile.TemporaryDirectory(prefix="emploi-api-load-") as tmp:
            workdir = pathlib.Path(tmp)
            async with harness.seeded_database("postgres", workdir) as url:
                report.postgres = await postgres_version()
                if args.profile:
                    print(await profile_page(args, workdir, processes, url))
                    return 0
                await Bench(args, report, processes, workdir).run(url)
    finally:
        processes.stop_all()
    report.load_after = os.getloadavg()
    print(markdown(report, args))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    def numbers(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()]

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: BENCH_PG_ADMIN_URL. Progress goes to stderr, the table to stdout.",
    )
    parser.add_argument("--sizes", type=numbers, default=[330, 20_000], help="catalogue sizes (330,20000)")
    parser.add_argument("--workers", type=numbers, default=[1, 2], help="server worker counts (1,2)")
    parser.add_argument("--connections", type=numbers, default=[32], help="concurrent connections (32)")
    parser.add_argument("--duration", type=float, default=10.0, help="measured seconds per row (10)")
    parser.add_argument("--warmup", type=float, default=3.0, help="unmeasured seconds before each row (3)")
    parser.add_argument(
        "--scenarios",
        default=",".join(SCENARIOS),
        help=f"comma-separated subset of {','.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument(
        "--loadgen",
        choices=("auto", "wrk", "python"),
        default="auto",
        help="wrk (installed with apt-get when missing and run as root), python, or auto: wrk if possible",
    )
    parser.add_argument(
        "--threads", type=int, default=1, help="wrk threads (1: leave the CPUs to the server)"
    )
    parser.add_argument("--redis-url", help="REDIS_URL for the servers (default: none, state in process)")
    parser.add_argument("--seed", type=int, default=0, help="random choices of slugs, answers and stars (0)")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the table: profile the server on the uncached catalogue page (1 worker; "
        "pyinstrument when importable, else cProfile) and measure its garbage collector",
    )
    parser.add_argument("--serve-profiled", nargs=2, metavar=("OUT", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_profiled:
        return args
    args.sizes = sorted(set(args.sizes))
    args.scenarios = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(args.scenarios) - set(SCENARIOS))
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(unknown)}")
    if not args.sizes or not args.workers or not args.connections:
        parser.error("--sizes, --workers and --connections need at least one value")
    args.wrk = None if args.loadgen == "python" else loadgen.wrk_path(install=True)
    if args.loadgen == "wrk" and not args.wrk:
        parser.error("wrk is not installed and could not be installed (apt-get install wrk)")
    return args


def _run(args: argparse.Namespace, entry: Callable[[argparse.Namespace], Any]) -> int:
    try:
        return int(asyncio.run(entry(args)))
    except (KeyboardInterrupt, asyncio.CancelledError):
        log("interrupted: servers stopped, database dropped")
        return 130


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve_profiled:
        serve_profiled(pathlib.Path(arguments.serve_profiled[0]), int(arguments.serve_profiled[1]))
        sys.exit(0)
    sys.exit(_run(arguments, main))
