"""The `emploi-store` command: serve, migrate, seed."""

from __future__ import annotations

import asyncio
import pathlib
import sys
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer

from server.settings import get_settings

app = typer.Typer(
    help="Emploi Store: the catalogue of free digital employment services.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
T = TypeVar("T")


def _with_database(work: Callable[[], Awaitable[T]]) -> T:
    from server.db import close_database, open_database

    async def run() -> T:
        await open_database(get_settings())
        try:
            return await work()
        finally:
            await close_database()

    return asyncio.run(run())


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface to bind (default from HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default from PORT)")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development)")] = False,
) -> None:
    """Serve the GraphQL API (GraphiQL at /graphql) with uvicorn."""
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        "server.app:create_app",
        factory=True,
        host=host or settings.host,
        port=port or settings.port,
        reload=reload,
        proxy_headers=True,
    )


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
) -> None:
    """Load the demo catalogue; running it again changes nothing twice."""
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

    try:
        report, new_articles = _with_database(run)
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


users = typer.Typer(help="Accounts: admins, editors, partners, developers.", no_args_is_help=True)
cms_commands = typer.Typer(help="Editorial chores.", no_args_is_help=True)
search_commands = typer.Typer(help="Search: the database index and Elasticsearch.", no_args_is_help=True)
app.add_typer(users, name="users")
app.add_typer(cms_commands, name="cms")
app.add_typer(search_commands, name="search")


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


if __name__ == "__main__":
    app()
