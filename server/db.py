"""Opening and closing the database for the server, the CLI and the migrations."""

from __future__ import annotations

from typing import Any

from tortoise import Tortoise

from models import tortoise_config
from server.settings import Settings, get_settings


def config_for(settings: Settings) -> dict[str, Any]:
    url = settings.effective_database_url
    if url.startswith("sqlite://"):
        settings.var_dir.mkdir(parents=True, exist_ok=True)
    return tortoise_config(url)


async def open_database(settings: Settings) -> None:
    # The global fallback lets request tasks see connections opened in uvicorn's lifespan task.
    await Tortoise.init(config=config_for(settings), _enable_global_fallback=True)


async def close_database() -> None:
    await Tortoise.close_connections()


def __getattr__(name: str) -> Any:
    # `tortoise makemigrations` reads TORTOISE_ORM from here (see [tool.tortoise] in pyproject.toml).
    if name == "TORTOISE_ORM":
        return config_for(get_settings())
    raise AttributeError(name)
