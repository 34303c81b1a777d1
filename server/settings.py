"""All configuration, read once from the environment (and .env) into one object."""

from __future__ import annotations

import pathlib
import secrets
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None, description="postgres://… (asyncpg) or sqlite://…; unset means var/emploi-store.sqlite3"
    )
    var_dir: pathlib.Path = Field(
        default=pathlib.Path("var"), description="Where the embedded database lives"
    )
    secret_key: str | None = Field(
        default=None, description="Signs visitor tokens; unset means a key kept in var/secret.key"
    )
    debug: bool = Field(default=False, description="Unmasked error messages and tracebacks")
    host: str = "127.0.0.1"
    port: int = 8000
    graphql_max_depth: int = 10
    graphql_max_tokens: int = 2000
    graphql_max_aliases: int = 30
    visitor_cookie_max_age: int = 60 * 60 * 24 * 365
    secure_cookies: bool = Field(default=False, description="Mark cookies Secure (set it behind HTTPS)")
    session_cookie_hours: int = 12
    bearer_token_days: int = 30
    media_root: pathlib.Path | None = Field(
        default=None, description="Uploaded images; unset means var/media"
    )
    media_max_bytes: int = 5 * 1024 * 1024
    preview_link_hours: int = 48
    scheduler_interval_seconds: float = Field(
        default=30.0, description="0 turns the in-process scheduler off"
    )
    elasticsearch_url: str | None = Field(
        default=None, description="http(s)://… of an Elasticsearch node; unset means database search only"
    )
    elasticsearch_index: str = Field(default="emploi-store", description="The alias searches go through")
    redis_url: str | None = Field(
        default=None,
        description="redis://host:6379/0 shares rate-limit budgets, persisted queries and the response cache "
        "between workers; unset means in process",
    )
    redis_prefix: str = Field(
        default="emploi-store:", description="Starts every Redis key this server writes (one per deployment)"
    )
    max_query_cost: int = Field(
        default=5000, description="Operations computed to cost more are refused before they run"
    )
    rate_limit_anonymous_per_minute: int = Field(
        default=1000, description="Cost units per minute for a client without an API key, per IP address"
    )
    rate_limit_key_per_minute: int = Field(
        default=10000, description="Cost units per minute for each API key (X-Api-Key header)"
    )
    recommender_model_dir: pathlib.Path | None = Field(
        default=None,
        description="Where trained recommender models are written and read; unset means var/models",
    )
    recommender_poll_seconds: float = Field(
        default=10.0, description="How often the server looks for a newer model file (0: only at start)"
    )
    workers: int = Field(default=1, ge=1, description="uvicorn worker processes for `emploi-store serve`")
    log_format: Literal["json", "text"] = Field(
        default="json", description="json: one JSON object per line; text: for a terminal"
    )
    log_level: str = Field(default="INFO", description="DEBUG, INFO, WARNING or ERROR")
    metrics_enabled: bool = Field(
        default=True, description="Serve Prometheus metrics at /metrics (keep it off the public internet)"
    )
    persisted_queries_max_entries: int = Field(
        default=10_000, description="Automatic persisted queries kept in process (without Redis)"
    )
    response_cache: bool = Field(
        default=True, description="Answer repeated anonymous public GET queries from a cache"
    )
    planned_execution: bool = Field(
        default=True,
        description="Answer the hot catalogue queries from compiled plans instead of field by field "
        "(schema/planned.py); off runs every operation through graphql-core",
    )
    response_cache_max_entries: int = Field(default=10_000, description="Cached responses kept in process")
    response_cache_max_bytes: int = Field(
        default=64 * 1024 * 1024, description="Total body size of the cached responses kept in process"
    )
    response_cache_ttl_seconds: float = Field(
        default=60.0, description="Longest life of a cached response, whatever changes (safety net)"
    )
    http_cache_max_age: int = Field(
        default=30, description="Cache-Control max-age of public GET query responses, in seconds"
    )

    @field_validator("log_level")
    @classmethod
    def _known_log_level(cls, level: str) -> str:
        level = level.strip().upper()
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
            raise ValueError("LOG_LEVEL is one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _asyncpg_scheme(cls, url: str | None) -> str | None:
        if not url:
            return None
        # Tortoise names the asyncpg backend "postgres"; accept the usual spellings too.
        for prefix in ("postgresql+asyncpg://", "postgresql://", "asyncpg://"):
            if url.startswith(prefix):
                return "postgres://" + url[len(prefix) :]
        return url

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite://{self.var_dir / 'emploi-store.sqlite3'}"

    @property
    def effective_media_root(self) -> pathlib.Path:
        return self.media_root or self.var_dir / "media"

    @property
    def effective_model_dir(self) -> pathlib.Path:
        return self.recommender_model_dir or self.var_dir / "models"

    @property
    def signing_key(self) -> str:
        if self.secret_key:
            return self.secret_key
        return _embedded_secret(self.var_dir)


def _embedded_secret(var_dir: pathlib.Path) -> str:
    """A key created once and kept under var/, so tokens survive restarts of the embedded setup."""
    path = var_dir / "secret.key"
    if not path.exists():
        var_dir.mkdir(parents=True, exist_ok=True)
        try:
            with path.open("x", encoding="ascii") as handle:
                handle.write(secrets.token_urlsafe(48))
            path.chmod(0o600)
        except FileExistsError:
            pass  # another worker wrote it first
    return path.read_text(encoding="ascii").strip()


@lru_cache
def get_settings() -> Settings:
    return Settings()
