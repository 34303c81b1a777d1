"""How good are the search results? NDCG@10, Recall@10 and MRR of every available backend on the
judged queries of tests/search/judged_queries.json, next to a naive baseline (LIKE on the name).

Backends: SQLite FTS5 always; PostgreSQL full-text search when a server answers at
BENCH_PG_ADMIN_URL (default postgres://postgres@127.0.0.1:5432/postgres; a throwaway database is
created and dropped); Elasticsearch when ELASTICSEARCH_URL is set (on an index of its own, fed from
the SQLite database).

    .venv/bin/python bench/search_relevance.py [--per-query] [--only fts5,postgres]

Gains are graded: a service judged 3 is worth 7, 2 is worth 3, 1 is worth 1 (2^grade - 1), and
services nobody judged count as 0. Recall@10 and MRR count grades 2 and 3 as relevant.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import pathlib
import statistics
import sys
import tempfile
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

try:  # python -m bench.search_relevance
    from bench import search_harness as harness
except ImportError:  # python bench/search_relevance.py
    import search_harness as harness  # type: ignore[no-redef]

K = 10
RELEVANT = 2  # the grade from which a service counts as relevant for Recall and MRR
BACKENDS = ("fts5", "postgres", "elasticsearch")


def dcg(grades: Sequence[int]) -> float:
    return sum((2**grade - 1) / math.log2(rank + 2) for rank, grade in enumerate(grades))


def ndcg(ranked: Sequence[str], judged: dict[str, int], k: int = K) -> float:
    ideal = dcg(sorted(judged.values(), reverse=True)[:k])
    return dcg([judged.get(slug, 0) for slug in ranked[:k]]) / ideal if ideal else 0.0


def recall(ranked: Sequence[str], judged: dict[str, int], k: int = K) -> float:
    wanted = {slug for slug, grade in judged.items() if grade >= RELEVANT}
    return len(wanted.intersection(ranked[:k])) / len(wanted) if wanted else 0.0


def reciprocal_rank(ranked: Sequence[str], judged: dict[str, int], k: int = K) -> float:
    for rank, slug in enumerate(ranked[:k], start=1):
        if judged.get(slug, 0) >= RELEVANT:
            return 1 / rank
    return 0.0


@dataclass(frozen=True)
class QueryScore:
    query: str
    ndcg: float
    recall: float
    rr: float
    ranked: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    system: str
    scores: list[QueryScore]

    @property
    def ndcg(self) -> float:
        return statistics.fmean(s.ndcg for s in self.scores)

    @property
    def recall(self) -> float:
        return statistics.fmean(s.recall for s in self.scores)

    @property
    def mrr(self) -> float:
        return statistics.fmean(s.rr for s in self.scores)

    @property
    def empty(self) -> int:
        return sum(not s.ranked for s in self.scores)


async def evaluate(
    system: str, search: Callable[[str], Awaitable[list[str]]], judged: list[harness.JudgedQuery]
) -> Report:
    scores = []
    for item in judged:
        ranked = await search(item.query)
        scores.append(
            QueryScore(
                query=item.query,
                ndcg=ndcg(ranked, item.relevant),
                recall=recall(ranked, item.relevant),
                rr=reciprocal_rank(ranked, item.relevant),
                ranked=tuple(ranked[:K]),
            )
        )
    return Report(system, scores)


async def evaluate_backend(system: str, backend: object, judged: list[harness.JudgedQuery]) -> Report:
    documents = await harness.all_documents()
    seconds = await harness.build_index(backend, documents)
    harness.log(f"[{system}] indexed {len(documents)} documents in {seconds:.1f}s")
    slugs = await harness.service_slugs_by_id()

    async def search(query: str) -> list[str]:
        return await harness.ranked_slugs(backend, query, slugs, K)

    return await evaluate(system, search, judged)


async def evaluate_baseline(system: str, judged: list[harness.JudgedQuery]) -> Report:
    baseline = harness.NameLikeBaseline()

    async def search(query: str) -> list[str]:
        return await baseline.search_slugs(query, K)

    return await evaluate(system, search, judged)


def print_report(report: Report, judged: list[harness.JudgedQuery], per_query: bool) -> None:
    print(f"\n== {report.system}")
    print(
        f"NDCG@{K} {report.ndcg:.3f}   Recall@{K} {report.recall:.3f}   MRR {report.mrr:.3f}   "
        f"queries with no hit: {report.empty}/{len(report.scores)}"
    )
    grades = {item.query: item.relevant for item in judged}
    rows = report.scores if per_query else sorted(report.scores, key=lambda s: (s.ndcg, s.query))[:5]
    print("every query:" if per_query else "5 worst queries:")
    for score in rows:
        top = ", ".join(f"{slug}({grades[score.query].get(slug, 0)})" for slug in score.ranked[:3]) or "—"
        print(f"  {score.ndcg:.3f}  {score.query!r:60}  top 3: {top}")


def print_summary(reports: list[Report], judged: int) -> None:
    width = max(len(r.system) for r in reports)
    print(f"\n== Summary ({judged} judged queries, top {K})")
    print(f"{'system':{width}}  NDCG@{K}  Recall@{K}    MRR  no hit")
    for r in reports:
        print(f"{r.system:{width}}  {r.ndcg:7.3f}  {r.recall:9.3f}  {r.mrr:5.3f}  {r.empty:6d}")


async def main(args: argparse.Namespace) -> int:
    judged = harness.load_judged(args.judged)
    wanted = set(args.only.split(",")) if args.only else set(BACKENDS)
    reports: list[Report] = []
    with tempfile.TemporaryDirectory(prefix="emploi-bench-") as tmp:
        workdir = pathlib.Path(tmp)
        if wanted & {"fts5", "elasticsearch"}:
            (workdir / "sqlite").mkdir()
            async with harness.seeded_database("sqlite", workdir / "sqlite"):
                if "fts5" in wanted:
                    reports.append(await evaluate_backend("sqlite fts5", harness.database_backend(), judged))
                reports.append(await evaluate_baseline("baseline: LIKE on name (sqlite)", judged))
                es_url = harness.elasticsearch_url()
                if "elasticsearch" in wanted and es_url:
                    try:
                        async with harness.elasticsearch_backend(es_url) as backend:
                            reports.append(await evaluate_backend("elasticsearch", backend, judged))
                    except ConnectionError as exc:  # search.errors.SearchUnavailable
                        harness.log(f"elasticsearch: not measured ({exc})")
                elif "elasticsearch" in wanted:
                    harness.log("elasticsearch: skipped (ELASTICSEARCH_URL is not set)")
        if "postgres" in wanted:
            why_not = await harness.postgres_unavailable(harness.pg_admin_url())
            if why_not:
                harness.log(f"postgres: skipped ({why_not})")
            else:
                (workdir / "postgres").mkdir()
                async with harness.seeded_database("postgres", workdir / "postgres"):
                    reports.append(
                        await evaluate_backend("postgresql fts", harness.database_backend(), judged)
                    )
                    reports.append(await evaluate_baseline("baseline: LIKE on name (postgresql)", judged))
    if not reports:
        print("nothing measured")
        return 1
    for report in reports:
        print_report(report, judged, args.per_query)
    print_summary(reports, len(judged))
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
        "--per-query", action="store_true", help="print every query's NDCG, not only the 5 worst"
    )
    parser.add_argument(
        "--judged", type=pathlib.Path, default=harness.JUDGED_PATH, help="judged queries (JSON)"
    )
    return parser.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args())))
