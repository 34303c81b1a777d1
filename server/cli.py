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
        try:
            await run_migrations(config=config_for(get_settings()))
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
        report = await seed_catalogue(directory or DATA_DIR, with_activity=activity)
        # The demo blog links to the demo catalogue: it comes with it, not with another catalogue.
        return report, await seed_articles() if directory is None else 0

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
app.add_typer(users, name="users")
app.add_typer(cms_commands, name="cms")


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


if __name__ == "__main__":
    app()
