"""Which backend answers: Elasticsearch when configured and reachable, otherwise the database's own."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from tortoise import Tortoise

from search.backend import SearchBackend

log = logging.getLogger("emploi_store.search")


@dataclass
class _Config:
    elasticsearch_url: str | None = None
    elasticsearch_index: str = "emploi-store"


# The process's search configuration, set once at start-up by the server or the CLI.
_config = _Config()
_external: SearchBackend | None = None


def configure(elasticsearch_url: str | None, elasticsearch_index: str = "emploi-store") -> None:
    global _external
    _config.elasticsearch_url = elasticsearch_url or None
    _config.elasticsearch_index = elasticsearch_index
    _external = None


def database_backend() -> SearchBackend:
    """FTS5 on SQLite, PostgreSQL full-text search on PostgreSQL: always kept in step with the data."""
    dialect = Tortoise.get_connection("default").capabilities.dialect
    if dialect == "sqlite":
        from search.fts5 import Fts5Backend

        return Fts5Backend()
    from search.postgres import PostgresBackend

    return PostgresBackend()


def external_backend() -> SearchBackend | None:
    """The Elasticsearch backend when ELASTICSEARCH_URL is set, fed through the outbox."""
    global _external
    if _config.elasticsearch_url is None:
        return None
    if _external is None:
        from search.elastic import ElasticsearchBackend

        _external = ElasticsearchBackend(_config.elasticsearch_url, _config.elasticsearch_index)
    return _external


async def close() -> None:
    """Releases the external backend's connections (at shutdown); the next use opens new ones."""
    global _external
    backend, _external = _external, None
    closing = getattr(backend, "close", None)
    if closing is not None:
        await closing()
