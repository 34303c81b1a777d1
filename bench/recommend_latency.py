"""How fast is a recommendation? p50/p99/mean of answering `recommend`, in process, at the demo size
(316 services) and at 20,000 services, with the trained model and with the content scorer.

Two things are timed for each catalogue size and scorer:
- "rank": serving.rank() + serving.best_first(scores, 30), scoring the whole in-memory catalogue
  and picking the candidates (pure CPU, no database);
- "recommend": the whole serving.recommend(answers, visitor) call: the questionnaire in force,
  checking the answers, ranking, re-checking the ten against the database, explaining them and
  writing the Recommendation and its items.
The first call after the catalogue changed also reads the snapshot and computes the service
vectors; it is reported apart ("cold"), then the timed calls run on a warm snapshot. Answers are
drawn by training.random_answers() from a seeded generator, a different set for every call.

The database is a new one, migrated and seeded (without a model) by the CLI; the catalogue is cut
to 316 published services by unpublishing the rest, then grown with published, free variants of
those (search_latency.grow_catalogue: same categories, kinds, tags and links, names and texts
set in other places). One model is trained
on the 316 (a short cold start) and served through recommender.registry for every size: at 20,000
the services added after training use the shared "unknown" id row, as in production.

The resident memory (VmRSS, and the peak VmHWM) of a server process is measured in a fresh
subprocess that imports the app, loads the model and builds the snapshot, at each size.

    .venv/bin/python bench/recommend_latency.py [--services 316,20000] [--database sqlite|postgres]
                                                [--calls N] [--seed S] [--profile] [--blas-threads N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

try:  # python -m bench.recommend_latency
    from bench import search_harness as harness
    from bench.search_latency import grow_catalogue
except ImportError:  # python bench/recommend_latency.py
    import search_harness as harness  # type: ignore[no-redef]
    from search_latency import grow_catalogue  # type: ignore[no-redef]

# p99 targets of the issue, in process on the serving CPU (services -> milliseconds).
P99_TARGET_MS = {316: 10.0, 20_000: 50.0}
DEMO_SIZE = 316  # the demo catalogue of the issue: the model is trained on it
CANDIDATES = 30  # serving.RECOMMENDATION_SIZE * 3: the first window recommend() re-checks
WARMUP_CALLS = 20
INSERT_BATCH = 1000
TRAINING_STEPS = 300
TRAINING_EVAL_PEOPLE = 100
SECRET = "bench-secret"
PROFILED_RECOMMENDS = 100
PROFILE_LINES = 14
PROJECT_CODE = rf"{harness.REPO}/(recommender|cms|models|search)/|numpy|argpartition"
EVENT_LOOP_WAITS = r"'poll' of 'select|'send' of '_socket"  # waiting on the database, writing to it


@dataclass(frozen=True)
class Timing:
    database: str
    services: int
    scorer: str
    measure: str
    calls: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    @property
    def target_ms(self) -> float | None:
        return P99_TARGET_MS.get(self.services)


@dataclass(frozen=True)
class Cold:
    database: str
    services: int
    scorer: str
    first_call_ms: float  # the first recommend() on a new snapshot
    snapshot_ms: float  # of which: reading the catalogue from the database
    encode_ms: float  # encode_services()
    tower_ms: float  # the service tower (model only)
    unknown_ids: int  # services the model has not seen (shared id row)


@dataclass
class Results:
    timings: list[Timing] = field(default_factory=list)
    cold: list[Cold] = field(default_factory=list)
    memory: dict[int, dict[str, Any]] = field(default_factory=dict)
    profiles: list[str] = field(default_factory=list)
    trained_on: int = 0
    seeded: int = 0
    training_seconds: float = 0.0
    model_version: str = ""
    load_at_start: tuple[float, float, float] = field(default_factory=os.getloadavg)


def log(message: str) -> None:
    harness.log(message)


def summarise(durations_ns: list[int], *, database: str, services: int, scorer: str, measure: str) -> Timing:
    import numpy as np

    ms = np.asarray(durations_ns, dtype=np.float64) / 1e6
    p50, p99 = np.percentile(ms, [50, 99])
    return Timing(
        database=database,
        services=services,
        scorer=scorer,
        measure=measure,
        calls=len(ms),
        p50_ms=float(p50),
        p99_ms=float(p99),
        mean_ms=float(ms.mean()),
        max_ms=float(ms.max()),
    )


# -- memory ---------------------------------------------------------------------------------------
def memory_now() -> dict[str, float]:
    """VmRSS and VmHWM of this process, in MiB."""
    values: dict[str, float] = {}
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            key, _, rest = line.partition(":")
            if key in ("VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0]) / 1024
    return values


async def probe_memory(database_url: str, model_dir: pathlib.Path, var_dir: pathlib.Path) -> None:
    """Run in a fresh subprocess: what a server process holds, stage by stage (JSON on stdout)."""
    stages: list[tuple[str, float]] = [("python (stdlib only)", memory_now()["VmRSS"])]
    import numpy

    stages.append(("+ numpy", memory_now()["VmRSS"]))
    import torch  # noqa: F401  (imported for its memory alone)

    stages.append(("+ torch", memory_now()["VmRSS"]))
    from server.app import create_app
    from server.settings import Settings

    settings = Settings(
        database_url=database_url,
        var_dir=var_dir,
        secret_key=SECRET,
        scheduler_interval_seconds=0,
        recommender_model_dir=model_dir,
        recommender_poll_seconds=0,
    )
    create_app(settings)
    stages.append(("+ server.app imported, app created", memory_now()["VmRSS"]))

    from recommender.registry import registry
    from recommender.serving import best_first, rank
    from recommender.snapshot import cache
    from recommender.training import random_answers
    from server.db import close_database, open_database

    registry.configure(model_dir)
    await registry.refresh()
    assert registry.current is not None
    stages.append(("+ model loaded", memory_now()["VmRSS"]))
    await open_database(settings)
    try:
        from recommender.questionnaires import current_questionnaire

        current = await current_questionnaire()
        snapshot = await cache.get()
        answers = random_answers(current.questionnaire, numpy.random.default_rng(0), 0.2)
        best_first(rank(current.questionnaire, answers, snapshot.services).scores, CANDIDATES)
        stages.append(
            (f"+ snapshot and service vectors ({len(snapshot.services):,} services)", memory_now()["VmRSS"])
        )
    finally:
        await close_database()
    print(json.dumps({"stages": stages, "peak": memory_now()["VmHWM"], "services": len(snapshot.services)}))


def measure_server_memory(
    database_url: str, model_dir: pathlib.Path, var_dir: pathlib.Path
) -> dict[str, Any]:
    env = {**os.environ, "SECRET_KEY": SECRET}
    result = subprocess.run(
        [
            sys.executable,
            str(pathlib.Path(__file__).resolve()),
            "--probe-memory",
            database_url,
            str(model_dir),
            str(var_dir),
        ],
        env=env,
        cwd=var_dir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"memory probe failed:\n{result.stdout}{result.stderr}")
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    return data


# -- database and catalogue -----------------------------------------------------------------------
class Catalogue:
    """Sets the number of published, free services: unpublishing demo ones or adding variants."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.variants = 0

    async def published(self) -> int:
        from cms.catalogue import published_services

        return await published_services().count()

    async def resize(self, target: int) -> int:
        from cms.catalogue import published_services
        from models.catalogue import Service
        from models.enums import ServiceStatus
        from recommender.snapshot import cache

        current = await self.published()
        if current > target:
            if self.variants:
                raise ValueError("--services must be in increasing order")
            extra = (
                await published_services()
                .order_by("-id")
                .limit(current - target)
                .values_list("id", flat=True)
            )
            await Service.filter(id__in=list(extra)).update(status=ServiceStatus.ARCHIVED)
        elif current < target:
            await grow_catalogue(target, seed=self.seed)
            self.variants += target - current
        cache.invalidate()  # bulk writes send no signal
        return await self.published()


async def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have gathered them."""
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_script("ANALYZE")


# -- the model ------------------------------------------------------------------------------------
async def train(model_dir: pathlib.Path, seed: int, results: Results) -> None:
    from recommender.artifact import save
    from recommender.pipeline import train_model
    from recommender.training import TrainingConfig

    started = time.perf_counter()
    trained = await train_model(
        seed=seed,
        eval_people=TRAINING_EVAL_PEOPLE,
        config=TrainingConfig(cold_start_steps=TRAINING_STEPS),
    )
    save(trained.artifact, model_dir)
    results.training_seconds = time.perf_counter() - started
    results.trained_on = len(trained.artifact.spec.slugs)
    results.model_version = trained.artifact.version
    log(
        f"model {trained.artifact.version} trained on {results.trained_on} services "
        f"({TRAINING_STEPS} cold-start steps) in {results.training_seconds:.1f}s"
    )


async def use_scorer(scorer: str, model_dir: pathlib.Path) -> None:
    """Serve the model from model_dir, or nothing (the content scorer); a reload starts cold."""
    from recommender.registry import registry

    if scorer == "model":
        registry.configure(model_dir)
        if not await registry.refresh():
            raise RuntimeError(f"no model loaded from {model_dir}")
    else:
        registry.configure(None)


# -- measuring ------------------------------------------------------------------------------------
async def measure_size(
    database: str,
    services: int,
    scorer: str,
    model_dir: pathlib.Path,
    args: argparse.Namespace,
    results: Results,
) -> None:
    import numpy as np

    from recommender import serving
    from recommender.features import encode_services
    from recommender.model import Ranker
    from recommender.questionnaires import current_questionnaire
    from recommender.registry import registry
    from recommender.snapshot import cache
    from recommender.training import random_answers

    label = f"[{database}, {services:,}, {scorer}]"
    await use_scorer(scorer, model_dir)
    questionnaire = (await current_questionnaire()).questionnaire
    rng = np.random.default_rng(args.seed)
    calls = max(args.rank_calls, args.recommend_calls)
    answers = [random_answers(questionnaire, rng, 0.2) for _ in range(WARMUP_CALLS + calls)]
    visitors = [f"{int(rng.integers(2**62)):032x}" for _ in answers]

    # Cold: the first recommend() on a new snapshot reads it and encodes it.
    cache.invalidate()
    before = time.perf_counter_ns()
    await serving.recommend(list(answers[0].items()), visitors[0])
    first_ns = time.perf_counter_ns() - before
    # The same work, piece by piece.
    cache.invalidate()
    before = time.perf_counter_ns()
    snapshot = await cache.get()
    snapshot_ns = time.perf_counter_ns() - before
    loaded = registry.current
    spec = loaded.artifact.spec if loaded else serving.CONTENT_SPEC
    before = time.perf_counter_ns()
    arrays = encode_services(spec, snapshot.services)
    encode_ns = time.perf_counter_ns() - before
    tower_ns = 0
    unknown = 0
    if loaded is not None:
        before = time.perf_counter_ns()
        Ranker(loaded.model, arrays)
        tower_ns = time.perf_counter_ns() - before
        unknown = int((arrays.id_rows == 0).sum())
    results.cold.append(
        Cold(
            database,
            len(snapshot.services),
            scorer,
            first_ns / 1e6,
            snapshot_ns / 1e6,
            encode_ns / 1e6,
            tower_ns / 1e6,
            unknown,
        )
    )
    log(f"{label} cold first recommend() {first_ns / 1e6:.0f} ms")

    # Warm: no background stamp check while timing (it runs every 30 s, off the request path).
    max_age, cache.max_age = cache.max_age, math.inf
    try:
        snapshot = await cache.get()
        for chosen, visitor in zip(answers[:WARMUP_CALLS], visitors, strict=False):
            serving.best_first(serving.rank(questionnaire, chosen, snapshot.services).scores, CANDIDATES)
            await serving.recommend(list(chosen.items()), visitor)
        timed = answers[WARMUP_CALLS:]

        def rank_once(chosen: dict[str, list[str]]) -> None:
            serving.best_first(serving.rank(questionnaire, chosen, snapshot.services).scores, CANDIDATES)

        durations: list[int] = []
        for chosen in timed[: args.rank_calls]:
            before = time.perf_counter_ns()
            rank_once(chosen)
            durations.append(time.perf_counter_ns() - before)
        results.timings.append(
            summarise(
                durations, database=database, services=len(snapshot.services), scorer=scorer, measure="rank"
            )
        )
        durations = []
        pairs = list(zip(timed, visitors[WARMUP_CALLS:], strict=True))[: args.recommend_calls]
        for chosen, visitor in pairs:
            before = time.perf_counter_ns()
            await serving.recommend(list(chosen.items()), visitor)
            durations.append(time.perf_counter_ns() - before)
        results.timings.append(
            summarise(
                durations,
                database=database,
                services=len(snapshot.services),
                scorer=scorer,
                measure="recommend",
            )
        )
        log(
            f"{label} rank p99 {results.timings[-2].p99_ms:.2f} ms, "
            f"recommend p99 {results.timings[-1].p99_ms:.2f} ms"
        )
        if args.profile and scorer == "model":

            async def rank_all() -> None:
                for chosen in timed[: args.rank_calls]:
                    rank_once(chosen)

            profiled = pairs[:PROFILED_RECOMMENDS]

            async def recommend_all() -> None:
                for chosen, visitor in profiled:
                    await serving.recommend(list(chosen.items()), visitor)

            results.profiles.append(
                await profile(f"{label} rank, {len(timed[: args.rank_calls])} calls", rank_all, "tottime")
            )
            results.profiles.append(
                await profile(f"{label} recommend, {len(profiled)} calls", recommend_all, "cumulative")
            )
    finally:
        cache.max_age = max_age


async def profile(label: str, work: Callable[[], Awaitable[None]], order: str) -> str:
    """cProfile of `work`: the project's functions, then the event loop's waits (on the database)."""
    import cProfile
    import io
    import pstats

    profiler = cProfile.Profile()
    profiler.enable()
    await work()
    profiler.disable()
    project, waits = io.StringIO(), io.StringIO()
    pstats.Stats(profiler, stream=project).sort_stats(order).print_stats(PROJECT_CODE, PROFILE_LINES)
    pstats.Stats(profiler, stream=waits).sort_stats(order).print_stats(EVENT_LOOP_WAITS, 2)
    lines = [line for line in project.getvalue().splitlines() if line.strip() and "List reduced" not in line]
    lines += [line for line in waits.getvalue().splitlines() if "{method" in line]
    what = {"tottime": "own", "cumulative": "cumulative"}[order]
    return f"{label} under cProfile, sorted by {what} time:\n" + "\n".join(lines)


# -- report ---------------------------------------------------------------------------------------
def met(timing: Timing) -> str:
    if timing.target_ms is None:
        return "n/a"
    return "yes" if timing.p99_ms < timing.target_ms else "NO"


def machine(load_at_start: tuple[float, float, float]) -> str:
    model = ""
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text(encoding="ascii", errors="replace").splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    load = ", ".join(f"{x:.2f}" for x in load_at_start)
    return (
        f"{os.cpu_count()} CPUs ({model or platform.machine()}), load average at the start {load} "
        f"(1, 5, 15 min), Python {platform.python_version()}"
    )


def print_report(results: Results, args: argparse.Namespace, started: float) -> None:
    import numpy as np
    import torch

    print(f"\n## recommend latency, in process ({args.database})\n")
    print(
        f"Machine: {machine(results.load_at_start)}; numpy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads); numpy's OpenBLAS threads: "
        f"{os.environ.get('OPENBLAS_NUM_THREADS', 'unset (one per CPU)')}."
    )
    print(
        f"Catalogue: the shipped demo seeds {results.seeded} published services; sizes below it keep "
        "the first ones by id (the rest archived), larger ones add published free variants "
        "of those (bench/search_latency.py grow_catalogue)."
    )
    print(
        f"Model: {results.model_version}, trained on the {results.trained_on} demo services "
        f"({TRAINING_STEPS} cold-start steps, {results.training_seconds:.0f} s); services added after "
        "training are scored through the shared unknown id row (their content still counts)."
    )
    print(
        f"Calls: {args.rank_calls} rank, {args.recommend_calls} recommend per row after {WARMUP_CALLS} "
        f"warm-up calls; answers drawn by random_answers(skip=0.2), seed {args.seed}. rank = "
        f"serving.rank() + best_first(scores, {CANDIDATES}); recommend = serving.recommend(answers, visitor).\n"
    )
    print(
        "| database | services | scorer | measure | calls | p50 ms | p99 ms | mean ms | max ms | p99 target | met |"
    )
    print("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---|")
    for t in results.timings:
        target = f"< {t.target_ms:g} ms" if t.target_ms is not None else "n/a"
        print(
            f"| {t.database} | {t.services:,} | {t.scorer} | {t.measure} | {t.calls} | {t.p50_ms:.3f} | "
            f"{t.p99_ms:.3f} | {t.mean_ms:.3f} | {t.max_ms:.3f} | {target} | {met(t)} |"
        )
    print(
        "\nCold: the first recommend() on a new catalogue snapshot (snapshot + service vectors build). "
        "A request pays this after a service is written in the same process; writes by other "
        "processes are noticed by a stamp read every 30 s (SnapshotCache.max_age) and rebuilt in "
        "the background while the old snapshot serves.\n"
    )
    print(
        "| database | services | scorer | first recommend() ms | snapshot read ms | encode_services ms "
        "| service tower ms | unknown ids |"
    )
    print("|---|---:|---|---:|---:|---:|---:|---:|")
    for c in results.cold:
        tower = f"{c.tower_ms:.0f}" if c.scorer == "model" else "—"
        unknown = f"{c.unknown_ids:,}" if c.scorer == "model" else "—"
        print(
            f"| {c.database} | {c.services:,} | {c.scorer} | {c.first_call_ms:.0f} | {c.snapshot_ms:.0f} | "
            f"{c.encode_ms:.0f} | {tower} | {unknown} |"
        )
    if results.memory:
        print("\nServer RSS with the model loaded (a fresh process per size: VmRSS after each stage, MiB):\n")
        first = next(iter(results.memory.values()))
        print("| stage | VmRSS MiB |")
        print("|---|---:|")
        for stage, rss in first["stages"][:-1]:
            print(f"| {stage} | {rss:.0f} |")
        for data in results.memory.values():
            stage, rss = data["stages"][-1]
            print(f"| {stage} | {rss:.0f} |")
        for services, data in results.memory.items():
            print(f"| peak (VmHWM), {services:,} services | {data['peak']:.0f} |")
    for text in results.profiles:
        print(f"\n```\n{text.rstrip()}\n```")
    print(
        f"\nWhole run: {time.perf_counter() - started:.0f} s; load average at the end {os.getloadavg()[0]:.2f}."
    )


# -- main -----------------------------------------------------------------------------------------
async def main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    if args.database == "postgres":
        why_not = await harness.postgres_unavailable(harness.pg_admin_url())
        if why_not:
            log(f"postgres: not available ({why_not})")
            return 1
    results = Results()
    with tempfile.TemporaryDirectory(prefix="emploi-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        model_dir = workdir / "models"
        async with harness.seeded_database(args.database, workdir) as url:
            from recommender.registry import registry

            catalogue = Catalogue(args.seed)
            results.seeded = await catalogue.published()
            log(f"[{args.database}] {results.seeded} published services seeded")
            # The model learns the demo catalogue (or a smaller first size); bigger ones grow from it.
            first = await catalogue.resize(min(args.services[0], DEMO_SIZE))
            log(f"[{args.database}] catalogue cut to {first} published services; training")
            await train(model_dir, args.seed, results)
            try:
                for size in args.services:
                    before = time.perf_counter()
                    count = await catalogue.resize(size)
                    if args.database == "postgres":
                        await analyze()
                    log(
                        f"[{args.database}] {count:,} published services ({time.perf_counter() - before:.1f}s)"
                    )
                    for scorer in ("model", "content"):
                        await measure_size(args.database, count, scorer, model_dir, args, results)
                    if not args.no_memory:
                        results.memory[count] = await asyncio.to_thread(
                            measure_server_memory, url, model_dir, workdir
                        )
            finally:
                registry.configure(None)
    print_report(results, args, started)
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: BENCH_PG_ADMIN_URL. Progress goes to stderr, figures to stdout.",
    )
    parser.add_argument(
        "--services",
        default="316,20000",
        type=lambda text: sorted({int(n) for n in text.split(",") if n.strip()}),
        help="catalogue sizes, comma-separated (316,20000)",
    )
    parser.add_argument("--database", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument(
        "--calls",
        type=int,
        default=None,
        help="timed calls per row (default 500 for rank, 300 for recommend)",
    )
    parser.add_argument("--seed", type=int, default=0, help="answers, catalogue variants and training (0)")
    parser.add_argument(
        "--profile", action="store_true", help="cProfile rank and recommend at the largest size"
    )
    parser.add_argument(
        "--blas-threads",
        type=int,
        help="set OPENBLAS_NUM_THREADS for this run (default: unset, OpenBLAS uses every CPU)",
    )
    parser.add_argument("--no-memory", action="store_true", help="skip the server memory subprocesses")
    parser.add_argument("--probe-memory", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if not args.services or min(args.services) <= 0:
        parser.error("--services needs positive sizes")
    if args.blas_threads is not None:
        if "numpy" in sys.modules:
            parser.error("--blas-threads must be set before numpy is imported")
        os.environ["OPENBLAS_NUM_THREADS"] = str(args.blas_threads)  # the memory probe inherits it
    args.rank_calls = args.calls or 500
    args.recommend_calls = args.calls or 300
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.probe_memory:
        database_url, model_dir, var_dir = arguments.probe_memory
        asyncio.run(probe_memory(database_url, pathlib.Path(model_dir), pathlib.Path(var_dir)))
        sys.exit(0)
    sys.exit(asyncio.run(main(arguments)))
