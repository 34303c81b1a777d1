"""How fast is search? p50/p99, mean and QPS of backend.search() for the judged queries, in process,
on every available backend at the demo size, then on PostgreSQL with the catalogue grown to
20,000 services.

The request is the search page's own: every content type, the first 20 hits, with facets. The
queries are cycled in order after a warm-up, one at a time (QPS is one client's throughput).
The extra services are variants of the demo ones (distinct slugs and names, shuffled sentences,
the same kinds, tags, categories and links), inserted in bulk through the ORM and then indexed.

    .venv/bin/python bench/search_latency.py [--searches 500] [--large 20000] [--only fts5,postgres]
                                             [--large-on postgres,fts5]

Backends: SQLite FTS5 always; PostgreSQL when a server answers at BENCH_PG_ADMIN_URL (default
postgres://postgres@127.0.0.1:5432/postgres); Elasticsearch when ELASTICSEARCH_URL is set.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import pathlib
import random
import re
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from tqdm import tqdm

try:  # python -m bench.search_latency
    from bench import search_harness as harness
except ImportError:  # python bench/search_latency.py
    import search_harness as harness  # type: ignore[no-redef]

BACKENDS = ("fts5", "postgres", "elasticsearch")
INSERT_BATCH = 1000
# Variants of a demo service are set in these places: distinct names, plausible text.
PLACES = (
    "Paris", "Marseille", "Lyon", "Toulouse", "Nice", "Nantes", "Montpellier", "Strasbourg",
    "Bordeaux", "Lille", "Rennes", "Reims", "Toulon", "Saint-Étienne", "Le Havre", "Grenoble",
    "Dijon", "Angers", "Nîmes", "Villeurbanne", "Clermont-Ferrand", "Le Mans", "Aix-en-Provence",
    "Brest", "Tours", "Amiens", "Limoges", "Annecy", "Perpignan", "Metz", "Besançon", "Orléans",
    "Rouen", "Mulhouse", "Caen", "Nancy", "Argenteuil", "Roubaix", "Tourcoing", "Avignon",
    "Poitiers", "Pau", "La Rochelle", "Calais", "Cannes", "Ajaccio", "Bastia", "Colmar", "Quimper",
    "Valence", "Chambéry", "Lorient", "Troyes", "Niort", "Vannes", "Bayonne", "Cherbourg", "Belfort",
    "Chartres", "Laval", "Saint-Denis de La Réunion", "Fort-de-France", "Pointe-à-Pitre", "Cayenne",
)  # fmt: skip
SENTENCE = re.compile(r"(?<=[.!?…])\s+")


@dataclass(frozen=True)
class Timing:
    configuration: str
    services: int
    searches: int
    p50_ms: float
    p99_ms: float
    mean_ms: float
    qps: float
    slowest: list[tuple[str, float]]  # the slowest queries and their median, in ms


def percentile(sorted_values: list[float], fraction: float) -> float:
    """Nearest-rank percentile."""
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return sorted_values[rank - 1]


async def measure(
    configuration: str, backend: Any, queries: list[str], services: int, searches: int, warmup_rounds: int
) -> Timing:
    from search.backend import SearchRequest

    requests = [SearchRequest(query=q) for q in queries]
    for _ in range(warmup_rounds):
        for request in requests:
            await backend.search(request)
    rounds = max(1, math.ceil(searches / len(requests)))
    durations: list[float] = []
    by_query: dict[str, list[float]] = {q: [] for q in queries}
    started = time.perf_counter()
    for _ in range(rounds):
        for request in requests:
            before = time.perf_counter()
            await backend.search(request)
            took = time.perf_counter() - before
            durations.append(took)
            by_query[request.query].append(took)
    elapsed = time.perf_counter() - started
    durations.sort()
    medians = {q: statistics.median(times) * 1000 for q, times in by_query.items()}
    return Timing(
        configuration=configuration,
        services=services,
        searches=len(durations),
        p50_ms=percentile(durations, 0.50) * 1000,
        p99_ms=percentile(durations, 0.99) * 1000,
        mean_ms=statistics.fmean(durations) * 1000,
        qps=len(durations) / elapsed,
        slowest=sorted(medians.items(), key=lambda item: -item[1])[:3],
    )


async def published_service_count() -> int:
    from cms.catalogue import published_services

    return await published_services().count()


async def index_everything(configuration: str, backend: Any) -> None:
    documents = await harness.all_documents()
    seconds = await harness.build_index(backend, documents)
    harness.log(f"[{configuration}] indexed {len(documents)} documents in {seconds:.1f}s")


def _variant_text(base: str, rng: random.Random, borrowed: str) -> str:
    sentences = [s for s in SENTENCE.split(base.replace("\n\n", " ")) if s]
    sentences.append(rng.choice([s for s in SENTENCE.split(borrowed.replace("\n\n", " ")) if s]))
    rng.shuffle(sentences)
    return " ".join(sentences)[:4000]


async def grow_catalogue(target: int, seed: int = 2017) -> list[int]:
    """Adds published variants of the demo services until there are `target`; returns their ids."""
    from slugify import slugify

    from cms.catalogue import published_services, sort_key
    from models.catalogue import Service, ServiceCategory, ServiceLink
    from models.enums import ServiceStatus

    demo = await published_services().order_by("id")
    missing = target - len(demo)
    if missing <= 0:
        return []
    rng = random.Random(seed)
    categories: dict[int, list[tuple[int, int]]] = {}
    for service_id, category_id, position in await ServiceCategory.filter(
        service_id__in=[s.id for s in demo]
    ).values_list("service_id", "category_id", "position"):
        categories.setdefault(service_id, []).append((category_id, position))
    links: dict[int, list[tuple[Any, str]]] = {}
    for service_id, platform, url in await ServiceLink.filter(
        service_id__in=[s.id for s in demo]
    ).values_list("service_id", "platform", "url"):
        links.setdefault(service_id, []).append((platform, url))
    now = dt.datetime.now(dt.UTC)

    new: list[Service] = []
    bases: dict[str, Service] = {}
    for n in range(missing):
        base = demo[n % len(demo)]
        variant = n // len(demo)
        place = PLACES[variant % len(PLACES)]
        if variant >= len(PLACES):
            place = f"{place} {variant // len(PLACES) + 1}"
        name = f"{base.name} – {place}"[:120]
        slug = f"{base.slug}-{slugify(place)}"[:80]
        other = demo[rng.randrange(len(demo))]
        new.append(
            Service(
                slug=slug,
                name=name,
                sort_name=sort_key(name),
                short_description=f"À {place} : {base.short_description}"[:300],
                long_description=_variant_text(base.long_description, rng, other.long_description),
                kind=base.kind,
                provider_id=base.provider_id,
                free=True,
                tags=list(base.tags or ()),
                status=ServiceStatus.PUBLISHED,
                launched_on=base.launched_on,
                published_at=now - dt.timedelta(days=rng.randint(0, 3000)),
                redirect_count=rng.randint(0, 40),
            )
        )
        bases[slug] = base
    with tqdm(total=len(new), desc="insert services", unit="service", file=sys.stderr) as bar:
        for start in range(0, len(new), INSERT_BATCH):
            batch = new[start : start + INSERT_BATCH]
            await Service.bulk_create(batch)
            bar.update(len(batch))
    # By slug (ids above the highest published one may also belong to drafts or archived services),
    # in batches that stay under the databases' limits on query parameters.
    slugs = list(bases)
    ids: dict[str, int] = {}
    for start in range(0, len(slugs), INSERT_BATCH):
        ids.update(
            await Service.filter(slug__in=slugs[start : start + INSERT_BATCH]).values_list("slug", "id")
        )
    await ServiceCategory.bulk_create(
        [
            ServiceCategory(service_id=ids[slug], category_id=category_id, position=position)
            for slug, base in bases.items()
            for category_id, position in categories.get(base.id, [])
        ],
        batch_size=INSERT_BATCH,
    )
    await ServiceLink.bulk_create(
        [
            ServiceLink(service_id=ids[slug], platform=platform, url=url)
            for slug, base in bases.items()
            for platform, url in links.get(base.id, [])
        ],
        batch_size=INSERT_BATCH,
    )
    return sorted(ids.values())


async def index_new_services(configuration: str, backend: Any, ids: list[int]) -> None:
    from search.documents import service_documents

    started = time.perf_counter()
    with tqdm(total=len(ids), desc="index services", unit="doc", file=sys.stderr) as bar:
        for start in range(0, len(ids), harness.INDEX_BATCH):
            chunk = ids[start : start + harness.INDEX_BATCH]
            await backend.index(await service_documents(chunk))
            bar.update(len(chunk))
    harness.log(f"[{configuration}] indexed {len(ids)} more services in {time.perf_counter() - started:.1f}s")


async def analyze() -> None:
    """Fresh planner statistics, as autovacuum would have gathered them on a live database."""
    from tortoise import Tortoise

    await Tortoise.get_connection("default").execute_script("ANALYZE")


def print_table(timings: list[Timing], queries: int) -> None:
    width = max(len("configuration"), *(len(t.configuration) for t in timings))
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(
        f"\nbackend.search() latency, in process, one client; {queries} judged queries cycled; "
        f"{os.cpu_count()} CPUs, load average {load}"
    )
    print(
        f"{'configuration':{width}}  {'services':>8}  {'searches':>8}  {'p50 ms':>7}  {'p99 ms':>7}  "
        f"{'mean ms':>7}  {'QPS':>7}"
    )
    for t in timings:
        print(
            f"{t.configuration:{width}}  {t.services:8d}  {t.searches:8d}  {t.p50_ms:7.2f}  {t.p99_ms:7.2f}  "
            f"{t.mean_ms:7.2f}  {t.qps:7.1f}"
        )
    print("\nslowest queries (median ms):")
    for t in timings:
        slowest = ", ".join(f"{query!r} {ms:.1f}" for query, ms in t.slowest)
        print(f"  {t.configuration:{width}}  {slowest}")


async def main(args: argparse.Namespace) -> int:
    queries = [item.query for item in harness.load_judged(args.judged)]
    wanted = set(args.only.split(",")) if args.only else set(BACKENDS)
    timings: list[Timing] = []

    large_on = set(args.large_on.split(",")) if args.large else set()

    async def run(configuration: str, backend: Any) -> None:
        services = await published_service_count()
        timing = await measure(configuration, backend, queries, services, args.searches, args.warmup)
        harness.log(f"[{configuration}] p50 {timing.p50_ms:.2f} ms, p99 {timing.p99_ms:.2f} ms")
        timings.append(timing)

    async def run_database_backend(name: str, configuration: str, postgres: bool) -> None:
        backend = harness.database_backend()
        await index_everything(configuration, backend)
        if postgres:
            await analyze()
        await run(configuration, backend)
        if name not in large_on:
            return
        started = time.perf_counter()
        ids = await grow_catalogue(args.large)
        harness.log(f"[{configuration}] {len(ids)} services added in {time.perf_counter() - started:.1f}s")
        await index_new_services(configuration, backend, ids)
        if postgres:
            await analyze()
        await run(f"{configuration}, {args.large:,} services", backend)

    with tempfile.TemporaryDirectory(prefix="emploi-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        es_url = harness.elasticsearch_url()
        if "fts5" in wanted or ("elasticsearch" in wanted and es_url):
            (workdir / "sqlite").mkdir()
            async with harness.seeded_database("sqlite", workdir / "sqlite"):
                if "elasticsearch" in wanted and es_url:
                    try:
                        async with harness.elasticsearch_backend(es_url) as backend:
                            await index_everything("elasticsearch", backend)
                            await run("elasticsearch", backend)
                    except ConnectionError as exc:  # search.errors.SearchUnavailable
                        harness.log(f"elasticsearch: not measured ({exc})")
                # Last on this database: the large run grows the catalogue.
                if "fts5" in wanted:
                    await run_database_backend("fts5", "sqlite fts5", postgres=False)
        if "elasticsearch" in wanted and not es_url:
            harness.log("elasticsearch: skipped (ELASTICSEARCH_URL is not set)")
        if "postgres" in wanted:
            why_not = await harness.postgres_unavailable(harness.pg_admin_url())
            if why_not:
                harness.log(f"postgres: skipped ({why_not})")
            else:
                (workdir / "postgres").mkdir()
                async with harness.seeded_database("postgres", workdir / "postgres"):
                    await run_database_backend("postgres", "postgresql fts", postgres=True)
    if not timings:
        print("nothing measured")
        return 1
    print_table(timings, len(queries))
    return 0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Environment: BENCH_PG_ADMIN_URL, ELASTICSEARCH_URL. Progress goes to stderr, figures to stdout.",
    )
    parser.add_argument(
        "--only", help=f"comma-separated subset of {','.join(BACKENDS)} (default: all available)"
    )
    parser.add_argument(
        "--searches", type=int, default=500, help="at least this many timed searches per configuration (500)"
    )
    parser.add_argument("--warmup", type=int, default=2, help="untimed passes over the queries first (2)")
    parser.add_argument(
        "--large",
        type=int,
        default=20_000,
        help="grow the catalogue to this many services and measure again; 0 skips it (20000)",
    )
    parser.add_argument(
        "--large-on",
        default="postgres",
        help="the database backends measured at --large size: postgres, fts5 or both (default: postgres)",
    )
    parser.add_argument(
        "--judged", type=pathlib.Path, default=harness.JUDGED_PATH, help="judged queries (JSON)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
