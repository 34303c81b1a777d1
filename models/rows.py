"""Plain rows read with hand-written SQL, decoded to the Python values Tortoise would give.

Hot read paths skip the ORM's query building and model instances (bench/api_load.py --profile:
they were most of a catalogue page's database time). The values still come out exactly as the
models would hold them, on every database: each column is decoded the way Tortoise's
`Model._init_from_db` decodes it for the connection's dialect (left as the driver returned it,
cast to the field's type, or passed through the field's `to_python_value`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from tortoise import connections
from tortoise.models import Model

Decoder = Callable[[Any], Any]

_DECODERS: dict[tuple[type[Model], str], dict[str, Decoder | None]] = {}


def dialect() -> str:
    """The default connection's SQL dialect: "postgres" or "sqlite"."""
    return str(connections.get("default").capabilities.dialect)


def _nullable(cast: Callable[[Any], Any]) -> Decoder:
    def decode(value: Any) -> Any:
        return None if value is None else cast(value)

    return decode


def _decoders(model: type[Model]) -> dict[str, Decoder | None]:
    key = (model, dialect())
    found = _DECODERS.get(key)
    if found is None:
        meta = model._meta
        found = {}
        for column, _, _field in meta.db_native_fields:
            found[column] = None
        for column, _, field in meta.db_default_fields:
            found[column] = _nullable(field.field_type)
        for column, _, field in meta.db_complex_fields:
            found[column] = field.to_python_value
        _DECODERS[key] = found
    return found


def row_decoder(model: type[Model], columns: Iterable[str]) -> Callable[[Mapping[str, Any]], dict[str, Any]]:
    """A function turning a raw row of these columns into a dict of the model's Python values."""
    table = _decoders(model)
    unknown = [column for column in columns if column not in table]
    if unknown:
        raise KeyError(f"{model.__name__} has no column {', '.join(unknown)}")
    plain = [column for column in columns if table[column] is None]
    decoded = [(column, decoder) for column in columns if (decoder := table[column]) is not None]

    def decode(row: Mapping[str, Any]) -> dict[str, Any]:
        values = {column: row[column] for column in plain}
        for column, decoder in decoded:
            values[column] = decoder(row[column])
        return values

    return decode


class Params:
    """Query parameters with the connection's placeholder style ($1, $2 … or ?).

    SQLite's `?` are positional: take the placeholders in the order they appear in the SQL text."""

    def __init__(self) -> None:
        self.values: list[Any] = []
        self._numbered = dialect() == "postgres"

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self._numbered else "?"

    def many(self, values: Iterable[Any]) -> str:
        """A parenthesised list of placeholders, for `IN (…)`; never empty."""
        placeholders = [self(value) for value in values]
        return "(" + ", ".join(placeholders or ["NULL"]) + ")"


async def fetch(sql: str, params: Params | None = None) -> list[dict[str, Any]]:
    return await connections.get("default").execute_query_dict(sql, params.values if params else None)
