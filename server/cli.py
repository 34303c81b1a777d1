"""The `emploi-store` command: serve, migrate, seed."""

from __future__ import annotations

import asyncio
import os
import pathlib
import shutil
import sys
import tempfile
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, TypeVar

import typer

from server.settings import get_settings

app = typer.Typer(
    help="Emploi Store: the catalogue of free digital employment services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _one_math_thread() -> None:
    """One BLAS/OpenMP thread per process, unless the environment says otherwise.

    Scoring a recommendation is one small matrix product, and a BLAS pool waiting for a busy core
    made it 100× slower under load (bench/recommend_latency.py); the model's training is small
    enough that one thread is also its fastest. Servers scale out with processes instead. It only
    works before numpy or torch is imported, which the commands below do lazily.
    """
    for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        os.environ.setdefault(variable, "1")


def _with_database(work: Callable[[], Awaitable[T]]) -> T:
    from server.db import close_database, open_database

    async def run() -> T:
        await open_database(get_settings())
        try:
            return await work()
        finally:
            await close_database()

    return asyncio.run(run())


def _prepare_multiprocess_metrics(workers: int) -> tuple[pathlib.Path | None, bool]:
    """Before prometheus_client is imported: (the metrics folder or None, whether it is ours to remove).

    prometheus_client reads PROMETHEUS_MULTIPROC_DIR once, at import, to choose where values live.
    A folder given by the operator is emptied of the last run's files (counters would otherwise
    carry on from them); with several workers and none given, a fresh temporary folder is made and
    set in the environment the workers inherit.
    """
    configured = os.environ.get(MULTIPROC_ENV)
    if configured:
        directory = pathlib.Path(configured)
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("*.db"):
            stale.unlink(missing_ok=True)
        return directory, False
    if workers <= 1:
        return None, False
    directory = pathlib.Path(tempfile.mkdtemp(prefix="emploi-store-metrics-"))
    os.environ[MULTIPROC_ENV] = str(directory)
    return directory, True


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from PORT)")] = None,
    workers: Annotated[
        int | None, typer.Option(min=1, help="Worker processes (default from WORKERS, 1)")
    ] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql) with uvicorn."""
    _one_math_thread()
    import uvicorn

    settings = get_settings()
    workers = workers or settings.workers
    if reload and workers > 1:
        typer.echo("--reload runs one process: leave --workers out.", err=True)
        sys.exit(2)
    metrics_dir, temporary = _prepare_multiprocess_metrics(workers)
    from server import observability  # imports prometheus_client: after the line above

    observability.configure_logging(settings)
    if metrics_dir is not None:
        observability.log.info(
            "metrics of every worker add up in %s", metrics_dir, extra={"metrics_dir": str(metrics_dir)}
        )
    try:
        uvicorn.run(
            # An import string and a factory: each worker builds its own app (and runs its lifespan).
            "server.app:create_app",
            factory=True,
            host=host or settings.host,
            port=port or settings.port,
            workers=workers,
            reload=reload,
            proxy_headers=True,
            # Our handler formats every line (JSON by default); the access log is ours, with request ids.
            log_config=None,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        if temporary and metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)
            os.environ.pop(MULTIPROC_ENV, None)


@app.command()
def migrate() -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from DATABASE_URL)."""
    from tortoise.migrations.api import migrate as run_migrations

    from server.db import close_database, config_for

    async def run() -> None:
        from search.registry import database_backend

        try:
            await run_migrations(config=config_for(get_settings()))
            # The database's own search tables (FTS5 or PostgreSQL text search) come with the schema.
            await database_backend().setup()
        finally:
            await close_database()

    asyncio.run(run())
    typer.echo("Database is up to date.")


@app.command()
def seed(
    directory: Annotated[
        pathlib.Path | None, typer.Option(help="Folder of catalogue JSON files (default: the shipped demo)")
    ] = None,
    activity: Annotated[bool, typer.Option(help="Also add demo ratings and visits")] = True,
    model: Annotated[
        bool, typer.Option(help="Train a cold-start recommender model when none exists yet")
    ] = True,
) -> None:
    """Load the demo catalogue; running it again changes nothing twice."""
    _one_math_thread()
    from cms.seed import SeedReport, seed_articles, seed_catalogue
    from cms.seed_schema import DATA_DIR
    from models.errors import UserError

    async def run() -> tuple[SeedReport, int]:
        from recommender.questionnaires import ensure_default_questionnaire
        from search.sync import rebuild_database_index

        report = await seed_catalogue(directory or DATA_DIR, with_activity=activity)
        # The demo blog links to the demo catalogue: it comes with it, not with another catalogue.
        new_articles = await seed_articles() if directory is None else 0
        await rebuild_database_index()
        await ensure_default_questionnaire()
        return report, new_articles

    async def train_first_model() -> str | None:
        from recommender.artifact import model_files
        from recommender.pipeline import train_and_save

        directory = get_settings().effective_model_dir
        if model_files(directory):
            return None
        trained = await train_and_save(directory, seed=0, eval_people=300)
        return trained.artifact.version

    try:
        report, new_articles = _with_database(run)
        version = _with_database(train_first_model) if model else None
    except ValueError as exc:
        typer.echo(f"Seed data refused, nothing written: {exc}", err=True)
        sys.exit(2)
    except UserError as exc:
        typer.echo(f"Demo articles refused (the catalogue was loaded): {exc.message}", err=True)
        sys.exit(2)
    typer.echo(
        f"{report.services} services ({report.created} new, {report.updated} updated), "
        f"{report.partners} providers, {report.categories} categories, "
        f"{report.ratings} new ratings, {report.redirects} new visits, {new_articles} new articles."
    )
    if version:
        typer.echo(f"Recommender: cold-start model {version} trained (no clicks yet).")


users = typer.Typer(help="Accounts: admins, editors, partners, developers.", no_args_is_help=True)
cms_commands = typer.Typer(help="Editorial chores.", no_args_is_help=True)
search_commands = typer.Typer(help="Search: the database index and Elasticsearch.", no_args_is_help=True)
recommender_commands = typer.Typer(help="The recommender: train and evaluate models.", no_args_is_help=True)
schema_commands = typer.Typer(help="The GraphQL schema, as clients see it.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(cms_commands, name="cms")
app.add_typer(search_commands, name="search")
app.add_typer(recommender_commands, name="recommender")
app.add_typer(schema_commands, name="schema")


@users.command("create")
def users_create(
    email: Annotated[str, typer.Option(help="Sign-in email")],
    role: Annotated[str, typer.Option(help="admin, editor, partner or developer")],
    password: Annotated[
        str,
        typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, envvar="EMPLOI_STORE_PASSWORD"),
    ],
    name: Annotated[str | None, typer.Option(help="Display name")] = None,
    reviewer: Annotated[bool, typer.Option(help="An editor who may approve and publish")] = False,
    partner: Annotated[str | None, typer.Option(help="Partner slug (partner accounts)")] = None,
) -> None:
    """Create an account; the password is asked for (or read from EMPLOI_STORE_PASSWORD)."""
    from cms.accounts import create_user
    from models.enums import Role
    from models.errors import UserError

    try:
        chosen = Role(role)
    except ValueError:
        typer.echo(f"Unknown role {role!r}: choose admin, editor, partner or developer.", err=True)
        sys.exit(2)
    try:
        user = _with_database(
            lambda: create_user(
                email, password, chosen, display_name=name, is_reviewer=reviewer, partner_slug=partner
            )
        )
    except UserError as exc:
        typer.echo(f"Not created: {exc.message}", err=True)
        sys.exit(2)
    typer.echo(f"Created {user.role.value} {user.email}.")


@cms_commands.command("publish-due")
def publish_due() -> None:
    """Publish scheduled articles whose time has come and take down expired ones (safe to run anywhere)."""
    from cms.scheduler import run_due_work

    published, expired = _with_database(run_due_work)
    typer.echo(f"Published {len(published)} article(s), expired {len(expired)}.")


@cms_commands.command("deliver-webhooks")
def deliver_webhooks() -> None:
    """Send every webhook delivery that is due, once (safe to run next to the server's scheduler)."""
    from cms import webhooks

    async def run() -> webhooks.DeliveryReport:
        async with webhooks.new_http_client() as http:
            return await webhooks.deliver_all_due(http)

    report = _with_database(run)
    typer.echo(
        f"Delivered {report.delivered} webhook(s), {report.retrying} to retry later, "
        f"{report.failed} given up."
    )


@search_commands.command("reindex")
def search_reindex(
    progress: Annotated[bool, typer.Option(help="Show a progress bar while loading Elasticsearch")] = True,
) -> None:
    """Rebuild the search indexes from the published content; Elasticsearch's with no downtime."""
    from search import registry, sync
    from search.errors import SearchUnavailable

    settings = get_settings()

    async def run() -> None:
        registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)
        try:
            typer.echo("Rebuilding the database search index…")
            typer.echo(f"Database search index: {await sync.rebuild_database_index()} documents.")
            external = registry.external_backend()
            if external is not None:
                from search.elastic import ElasticsearchBackend

                assert isinstance(external, ElasticsearchBackend), external
                typer.echo(f"Building a new Elasticsearch index behind {external.alias!r}…")
                count = await external.reindex(progress=progress)
                typer.echo(f"Elasticsearch: {count} documents, alias {external.alias!r} swapped.")
        finally:
            await registry.close()

    try:
        _with_database(run)
    except SearchUnavailable as exc:
        typer.echo(f"Elasticsearch reindex failed; searches still use the previous index: {exc}", err=True)
        sys.exit(1)


@search_commands.command("drain-outbox")
def search_drain_outbox() -> None:
    """Apply the due search outbox rows to Elasticsearch once (safe next to the server's scheduler)."""
    from search import registry, sync

    settings = get_settings()
    if not settings.elasticsearch_url:
        typer.echo("ELASTICSEARCH_URL is not set: there is no external index to feed.")
        return

    async def run() -> sync.DrainReport:
        registry.configure(settings.elasticsearch_url, settings.elasticsearch_index)
        try:
            return await sync.drain_all()
        finally:
            await registry.close()

    report = _with_database(run)
    typer.echo(
        f"Applied {report.applied} outbox row(s), {report.failed} to retry later, {report.pending} pending."
    )
    if report.failed:
        sys.exit(1)


def _progress_bars(enabled: bool) -> Callable[[int, str], Callable[[int], None]] | None:
    if not enabled:
        return None
    from tqdm import tqdm

    def bar(total: int, label: str) -> Callable[[int], None]:
        progress = tqdm(total=total, desc=label, unit="step", leave=True)

        def advance(steps: int) -> None:
            progress.update(steps)
            if progress.n >= total:
                progress.close()

        return advance

    return bar


@recommender_commands.command("train")
def recommender_train(
    seed: Annotated[int, typer.Option(help="Random seed: the same seed and data give the same model")] = 0,
    simulate: Annotated[
        int, typer.Option(help="Also learn from N simulated jobseekers shown the cold-start model")
    ] = 0,
    world_seed: Annotated[int, typer.Option(help="Seed of the simulated world used for evaluation")] = 7,
    eval_people: Annotated[int, typer.Option(help="Held-out simulated people to evaluate on")] = 2000,
    out: Annotated[
        pathlib.Path | None, typer.Option(help="Folder for the model file (default RECOMMENDER_MODEL_DIR)")
    ] = None,
    progress: Annotated[bool, typer.Option(help="Show progress bars")] = True,
) -> None:
    """Train the two-tower model (cold start + recorded feedback) and write a versioned model file."""
    _one_math_thread()
    from recommender import evaluation
    from recommender.pipeline import train_and_save

    directory = out or get_settings().effective_model_dir

    async def run() -> Any:
        return await train_and_save(
            directory,
            seed=seed,
            simulate=simulate,
            world_seed=world_seed,
            eval_people=eval_people,
            progress=_progress_bars(progress),
        )

    try:
        trained = _with_database(run)
    except ValueError as exc:
        typer.echo(f"Cannot train: {exc}", err=True)
        sys.exit(2)
    training = trained.artifact.training
    typer.echo(
        f"Model {trained.artifact.version} written to {trained.path} "
        f"({training['recorded_sessions']} recorded and {training['simulated_sessions']} simulated sessions, "
        f"{training['seconds']} s)."
    )
    typer.echo(f"Held-out simulated people ({eval_people}, world seed {world_seed}):")
    typer.echo(evaluation.table(trained.results))


@recommender_commands.command("evaluate")
def recommender_evaluate(
    model: Annotated[
        pathlib.Path | None, typer.Option(help="A model file (default: the newest in RECOMMENDER_MODEL_DIR)")
    ] = None,
    world_seed: Annotated[int, typer.Option(help="Seed of the simulated world")] = 7,
    people: Annotated[int, typer.Option(help="Held-out simulated people")] = 2000,
) -> None:
    """NDCG@10, Recall@10 and MRR of the model, popularity and content on held-out simulated people."""
    _one_math_thread()
    from recommender import evaluation
    from recommender.artifact import ModelLoadError, load, model_files
    from recommender.pipeline import evaluate_model

    path = model
    if path is None:
        files = model_files(get_settings().effective_model_dir)
        path = files[0] if files else None
    artifact = None
    if path is None:
        typer.echo("No model file: evaluating the baselines only (run `emploi-store recommender train`).")
    else:
        try:
            artifact, _ = load(path)
        except ModelLoadError as exc:
            typer.echo(f"Model refused: {exc}", err=True)
            sys.exit(2)
        typer.echo(f"Model {artifact.version} ({path})")

    results = _with_database(lambda: evaluate_model(artifact, world_seed=world_seed, people=people))
    typer.echo(f"Held-out simulated people ({people}, world seed {world_seed}):")
    typer.echo(evaluation.table(results))


def schema_sdl() -> str:
    """The schema in SDL, built as the server builds it (same types, same settings)."""
    from strawberry.printer import print_schema

    from schema import build_schema

    settings = get_settings()
    schema = build_schema(
        max_depth=settings.graphql_max_depth,
        max_tokens=settings.graphql_max_tokens,
        max_aliases=settings.graphql_max_aliases,
        debug=False,
    )
    return print_schema(schema) + "\n"


@schema_commands.command("export")
def schema_export(
    output: Annotated[
        pathlib.Path, typer.Option(help="Where to write the SDL ('-': standard output)")
    ] = pathlib.Path("schema.graphql"),
) -> None:
    """Write the GraphQL schema (SDL) to schema.graphql, the file client developers read and diff."""
    sdl = schema_sdl()
    if str(output) == "-":
        typer.echo(sdl, nl=False)
        return
    output.write_text(sdl, encoding="utf-8")
    typer.echo(f"Schema written to {output} ({len(sdl.splitlines())} lines).")


if __name__ == "__main__":
    app()
