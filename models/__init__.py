"""Tortoise ORM models, one module per domain, registered under the app label "store"."""

from __future__ import annotations

from typing import Any

APP_LABEL = "store"
MODEL_MODULES = [
    "models.catalogue",
    "models.ratings",
    "models.events",
    "models.accounts",
    "models.cms",
    "models.webhooks",
    "models.proposals",
    "models.search",
    "models.recommender",
    "models.developers",
]


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise configuration for one database URL, with the project's migrations."""
    return {
        "connections": {"default": database_url},
        "apps": {
            APP_LABEL: {
                "models": MODEL_MODULES,
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }
