"""schema.graphql and the developer guide's examples stay true to the code's schema."""

from __future__ import annotations

import difflib
import pathlib
import re
from collections.abc import Iterator

import pytest
from graphql import GraphQLSchema, parse, validate

from server.cli import schema_sdl
from tests.conftest import run_cli

ROOT = pathlib.Path(__file__).resolve().parents[2]
SCHEMA_FILE = ROOT / "schema.graphql"
DOCS = ROOT / "docs"
REGENERATE = "emploi-store schema export"
GRAPHQL_BLOCK = re.compile(r"^```graphql\n(.*?)^```", re.MULTILINE | re.DOTALL)
# `# requires: createApiKey, apiKeys` in an example: skipped while a root field is not in the schema.
REQUIRES = re.compile(r"^\s*#\s*requires:\s*(.+)$", re.MULTILINE)


def test_schema_file_matches_the_code():
    expected = schema_sdl()
    actual = SCHEMA_FILE.read_text(encoding="utf-8") if SCHEMA_FILE.exists() else ""
    if actual != expected:
        diff = "".join(
            difflib.unified_diff(
                actual.splitlines(keepends=True),
                expected.splitlines(keepends=True),
                "schema.graphql",
                "the code's schema",
                n=1,
            )
        )
        pytest.fail(
            f"schema.graphql is not the code's schema. Regenerate it at the repository root with\n\n"
            f"    {REGENERATE}\n\n(or `make schema`) and commit it. Differences:\n{diff[:6000]}",
            pytrace=False,
        )


def test_the_export_command_writes_the_schema(settings, tmp_path):
    output = tmp_path / "exported.graphql"
    result = run_cli(
        *REGENERATE.split()[1:],
        "--output",
        str(output),
        database_url=settings.database_url,
        var_dir=settings.var_dir,
    )
    assert result.returncode == 0, result.stderr
    assert output.read_text(encoding="utf-8") == schema_sdl()
    assert str(output) in result.stdout


def documented_operations() -> Iterator[object]:
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in GRAPHQL_BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 2
            yield pytest.param(match.group(1), id=f"{path.name}:{line}")


DOCUMENTED = list(documented_operations())


@pytest.fixture(scope="module")
def graphql_schema() -> GraphQLSchema:
    from schema import build_schema

    return build_schema(max_depth=10, max_tokens=2000, max_aliases=30, debug=False)._schema


def test_the_guide_has_examples():
    assert len(DOCUMENTED) >= 15, [p.id for p in DOCUMENTED]  # type: ignore[attr-defined]


@pytest.mark.parametrize("operation", DOCUMENTED)
def test_documented_operations_validate_against_the_schema(operation: str, graphql_schema: GraphQLSchema):
    roots = [graphql_schema.query_type, graphql_schema.mutation_type]
    fields = {name for root in roots if root is not None for name in root.fields}
    required = [name.strip() for match in REQUIRES.finditer(operation) for name in match.group(1).split(",")]
    missing = [name for name in required if name not in fields]
    if missing:
        pytest.skip(f"not in the schema yet: {', '.join(missing)}")
    errors = validate(graphql_schema, parse(operation))
    assert not errors, "\n".join(error.message for error in errors)
