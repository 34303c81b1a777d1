"""The migrations describe the models exactly: a model change without its migration fails here."""

from __future__ import annotations

from tortoise import Tortoise
from tortoise.migrations.autodetector import MigrationAutodetector

from models import tortoise_config


async def test_models_and_migrations_agree(server):
    config = tortoise_config("sqlite://:memory:")
    detector = MigrationAutodetector(Tortoise.apps, config["apps"])
    changes = await detector.changes()
    assert not changes, f"run `make migrations`: {changes}"
