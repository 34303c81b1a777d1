"""Search on SQLite's FTS5, in the application's own database (the embedded default).

Four tables, created by `setup()`:

- `search_fts_document`: one row per document, with what is shown (title, summary, body for
  snippets), filtered and counted (content type, kind, category slugs, platforms) and the static
  ranking boost from its rating and popularity;
- `search_fts`: the FTS5 index of the documents' *stemmed* text (search/text.py), one column per
  field so bm25 can weigh a title above a body;
- `search_fts_title`: the titles' normalised words, unstemmed, for completing what is typed;
- `search_fts_word`: every document's words with their stem and spelling, the vocabulary that
  typo correction and word completion draw on.

Rows of the last three share the document's id and leave with it (a trigger).
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from search.backend import (
    ContentType,
    Facets,
    Hit,
    SearchDocument,
    SearchFilter,
    SearchRequest,
    SearchResult,
    Suggestion,
)
from search.text import (
    STOP_WORDS,
    correct,
    expand,
    has_synonyms,
    max_typos,
    normalise,
    plain,
    snippet,
    stem,
    stems,
    terms,
    words,
    written_words,
)

T = TypeVar("T")

# bm25 weights of the indexed columns, in their order: title ≫ tags > summary > body.
WEIGHTS = {"title": 8.0, "tags": 4.0, "summary": 2.0, "body": 1.0}
# A query this long is pasted text, not a search: its first words are enough.
MAX_QUERY_TERMS = 32
# Keys per statement, well under SQLite's limit on bound values.
BATCH = 500

_SCHEMA = (
    """CREATE TABLE IF NOT EXISTS search_fts_document (
        id INTEGER PRIMARY KEY,
        key TEXT NOT NULL UNIQUE,
        content_type TEXT NOT NULL,
        object_id INTEGER NOT NULL,
        title TEXT NOT NULL,
        summary TEXT NOT NULL,
        body TEXT NOT NULL,
        kind TEXT,
        categories TEXT NOT NULL DEFAULT '[]',
        platforms TEXT NOT NULL DEFAULT '[]',
        rating REAL NOT NULL DEFAULT 0,
        popularity INTEGER NOT NULL DEFAULT 0,
        boost REAL NOT NULL DEFAULT 1
    )""",
    f"""CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
        {", ".join(WEIGHTS)}, tokenize = 'unicode61 remove_diacritics 2'
    )""",
    """CREATE VIRTUAL TABLE IF NOT EXISTS search_fts_title USING fts5(
        title, tokenize = 'unicode61 remove_diacritics 2', prefix = '2 3'
    )""",
    """CREATE TABLE IF NOT EXISTS search_fts_word (
        document_id INTEGER NOT NULL,
        word TEXT NOT NULL,
        stem TEXT NOT NULL,
        written TEXT NOT NULL,
        PRIMARY KEY (document_id, word)
    ) WITHOUT ROWID""",
    "CREATE INDEX IF NOT EXISTS search_fts_word_word ON search_fts_word (word)",
    "CREATE INDEX IF NOT EXISTS search_fts_word_stem ON search_fts_word (stem)",
    """CREATE TRIGGER IF NOT EXISTS search_fts_document_deleted AFTER DELETE ON search_fts_document
    BEGIN
        DELETE FROM search_fts WHERE rowid = old.id;
        DELETE FROM search_fts_title WHERE rowid = old.id;
        DELETE FROM search_fts_word WHERE document_id = old.id;
    END""",
)

_WORD = re.compile(r"[^\W_]+")
_FROM = "FROM search_fts JOIN search_fts_document AS d ON d.id = search_fts.rowid"
_BM25 = ", ".join(str(w) for w in WEIGHTS.values())


def _connection() -> BaseDBAsyncClient:
    return Tortoise.get_connection("default")


def _quote(token: str) -> str:
    """An FTS5 string: whatever it holds is text to find, never query syntax."""
    return '"' + token.replace('"', '""') + '"'


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _batches(values: Sequence[str]) -> Iterable[Sequence[str]]:
    for start in range(0, len(values), BATCH):
        yield values[start : start + BATCH]


def boost(document: SearchDocument) -> float:
    """A light lift for well-rated, much-used services: at most +10 % each, so relevance leads."""
    rating = min(max(document.rating, 0.0), 5.0) / 5
    popularity = min(math.log10(1 + max(document.popularity, 0)) / 5, 1.0)  # 100 000 uses is the top
    return 1.0 + 0.1 * rating + 0.1 * popularity


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))


@dataclass(frozen=True)
class _Match:
    """A query turned into SQL: the WHERE clause finding its documents, how to rank them, and the
    alternatives to highlight."""

    where: str
    params: list[Any]
    typed: str  # MATCH expression of the words as typed: they lift a document above its synonyms
    coverage: str  # SQL counting the positions a document has ("" when it must have them all)
    coverage_params: list[Any]
    positions: int
    alternatives: set[str]

    def page(self, first: int, offset: int) -> tuple[str, list[Any]]:
        """The SQL of one page of hits, best first: bm25 (negative, lower is better) over the whole
        expanded query plus over the words as typed, times the document's boost and the share of
        the query's positions it has. Only the page's rows carry their texts out of the sort."""
        coverage = f" * ({self.coverage}) / {self.positions}.0" if self.coverage else ""
        sql = (
            f"WITH typed AS MATERIALIZED (SELECT rowid AS id, bm25(search_fts, {_BM25}) AS lift"
            " FROM search_fts WHERE search_fts MATCH ?),"
            f" page AS (SELECT d.id, (bm25(search_fts, {_BM25}) + coalesce(typed.lift, 0)) * d.boost{coverage}"
            f" AS rank {_FROM} LEFT JOIN typed ON typed.id = d.id WHERE {self.where}"
            " ORDER BY rank, d.id LIMIT ? OFFSET ?)"
            " SELECT d.key, d.content_type, d.object_id, d.summary, d.body, d.title, page.rank"
            " FROM page JOIN search_fts_document AS d ON d.id = page.id ORDER BY page.rank, d.id"
        )
        coverage_params = self.coverage_params if self.coverage else []
        return sql, [self.typed, *coverage_params, *self.params, first, offset]


def _required(positions: int) -> list[int]:
    """How many positions a document must have, tried in turn until one finds something: all of
    one or two, half of more (the documents having more of them rank higher), then any one."""
    if positions <= 2:
        return list(range(positions, 0, -1))
    return sorted({math.ceil(positions / 2), 1}, reverse=True)


def _match(positions: list[set[str]], typed: set[str], required: int, search_filter: SearchFilter) -> _Match:
    """The SQL for documents having `required` of the positions; `typed` are the stems as typed."""
    groups = ["(" + " OR ".join(_quote(a) for a in sorted(alternatives)) + ")" for alternatives in positions]
    typed_expression = " OR ".join(_quote(t) for t in sorted(typed))
    alternatives = set().union(*positions)
    if required == len(positions):
        where, params = _filtered("search_fts MATCH ?", [" AND ".join(groups)], search_filter)
        return _Match(where, params, typed_expression, "", [], len(groups), alternatives)
    # Each IN subquery is run once into a temporary index, not once per row.
    coverage = " + ".join(
        "(search_fts.rowid IN (SELECT rowid FROM search_fts WHERE search_fts MATCH ?))" for _ in groups
    )
    where, params = _filtered(
        f"search_fts MATCH ? AND ({coverage}) >= ?", [" OR ".join(groups), *groups, required], search_filter
    )
    return _Match(where, params, typed_expression, coverage, groups, len(groups), alternatives)


def _filtered(clause: str, params: list[Any], search_filter: SearchFilter) -> tuple[str, list[Any]]:
    """The clause and its parameters, narrowed by the filter's choices (any of each, all filters)."""
    clauses, params = [clause], list(params)
    if search_filter.content_types:
        content_types = [c.value for c in search_filter.content_types]
        clauses.append(f"d.content_type IN ({_marks(content_types)})")
        params += content_types
    if search_filter.kinds:
        clauses.append(f"d.kind IN ({_marks(search_filter.kinds)})")
        params += list(search_filter.kinds)
    for column, values in (
        ("categories", search_filter.categories),
        ("platforms", search_filter.platforms),
    ):
        if values:
            clauses.append(f"EXISTS (SELECT 1 FROM json_each(d.{column}) WHERE value IN ({_marks(values)}))")
            params += list(values)
    return " AND ".join(clauses), params


class Fts5Backend:
    """SearchBackend on FTS5. Works inside the caller's transaction, so an index write commits or
    rolls back with the content change that caused it. A database that has never been set up
    gets its tables on first use, so a forgotten `setup()` cannot make a content change fail.
    """

    name = "fts5"

    async def setup(self) -> None:
        # One statement at a time: a script would commit the caller's open transaction first.
        connection = _connection()
        for statement in _SCHEMA:
            await connection.execute_query(statement)

    async def _with_tables(self, operation: Callable[[], Awaitable[T]]) -> T:
        try:
            return await operation()
        except OperationalError as exc:
            if "no such table: search_fts" not in str(exc):
                raise
        await self.setup()
        return await operation()

    # ------------------------------------------------------------------------------ writing

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        latest = {d.key: d for d in documents}  # the last version of a key wins
        if latest:
            await self._with_tables(lambda: self._index(latest))

    async def _index(self, latest: dict[str, SearchDocument]) -> None:
        async with in_transaction("default") as connection:
            await self._delete(connection, list(latest))
            await connection.execute_many(
                "INSERT INTO search_fts_document (key, content_type, object_id, title, summary, body, kind,"
                " categories, platforms, rating, popularity, boost) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    [
                        d.key,
                        d.content_type.value,
                        d.object_id,
                        d.title,
                        d.summary,
                        d.body,
                        d.kind,
                        json.dumps(_unique(d.categories)),
                        json.dumps(_unique(d.platforms)),
                        d.rating,
                        d.popularity,
                        boost(d),
                    ]
                    for d in latest.values()
                ],
            )
            # Each row finds its document's id by key, so no id has to travel back to Python.
            by_key = "FROM search_fts_document WHERE key = ?"
            await connection.execute_many(
                f"INSERT INTO search_fts (rowid, title, tags, summary, body) SELECT id, ?, ?, ?, ? {by_key}",
                [[*self._indexed_text(d), d.key] for d in latest.values()],
            )
            await connection.execute_many(
                f"INSERT INTO search_fts_title (rowid, title) SELECT id, ? {by_key}",
                [[" ".join(words(d.title)), d.key] for d in latest.values()],
            )
            word_rows = [
                [word, stem(word), written, d.key]
                for d in latest.values()
                for word, written in self._written(d).items()
            ]
            if word_rows:
                await connection.execute_many(
                    f"INSERT INTO search_fts_word (document_id, word, stem, written) SELECT id, ?, ?, ? {by_key}",
                    word_rows,
                )

    @staticmethod
    def _labels(document: SearchDocument) -> str:
        """What a document is filed under, as words: tags, categories, kind."""
        labels = [*document.tags, *document.category_names, *document.categories, document.kind or ""]
        return " ".join(label.replace("-", " ").replace("_", " ") for label in labels)

    def _indexed_text(self, document: SearchDocument) -> list[str]:
        fields = [document.title, self._labels(document), document.summary, plain(document.body)]
        return [" ".join(stems(text)) for text in fields]

    def _written(self, document: SearchDocument) -> dict[str, str]:
        """Each word of the document and one way it is written there (the first)."""
        found: dict[str, str] = {}
        for text in (document.title, self._labels(document), document.summary, plain(document.body)):
            for word, written in written_words(text):
                found.setdefault(word, written)
        return found

    async def delete(self, keys: Sequence[str]) -> None:
        unique = _unique(keys)
        if unique:
            await self._with_tables(lambda: self._remove(unique))

    async def _remove(self, keys: Sequence[str]) -> None:
        async with in_transaction("default") as connection:
            await self._delete(connection, keys)

    @staticmethod
    async def _delete(connection: BaseDBAsyncClient, keys: Sequence[str]) -> None:
        for batch in _batches(keys):
            await connection.execute_query(
                f"DELETE FROM search_fts_document WHERE key IN ({_marks(batch)})", list(batch)
            )

    async def clear(self) -> None:
        await self._with_tables(self._clear)

    @staticmethod
    async def _clear() -> None:
        async with in_transaction("default") as connection:
            for table in ("search_fts_word", "search_fts_title", "search_fts", "search_fts_document"):
                await connection.execute_query(f"DELETE FROM {table}")

    # ------------------------------------------------------------------------------ reading

    async def search(self, request: SearchRequest) -> SearchResult:
        return await self._with_tables(lambda: self._search(request))

    async def _search(self, request: SearchRequest) -> SearchResult:
        found = await self._find(request)
        if found is None:
            return SearchResult(hits=[], total=0, facets=Facets())
        match, facets = found
        total = sum(facets.content_types.values())
        first, offset = max(request.first, 0), max(request.offset, 0)
        if first == 0 or offset >= total:
            return SearchResult(hits=[], total=total, facets=facets)
        rows = await _connection().execute_query_dict(*match.page(first, offset))
        hits = [
            Hit(
                key=row["key"],
                content_type=ContentType(row["content_type"]),
                object_id=row["object_id"],
                score=-row["rank"],
                snippet=snippet([row["summary"], plain(row["body"]), row["title"]], match.alternatives),
            )
            for row in rows
        ]
        return SearchResult(hits=hits, total=total, facets=facets)

    async def facets(self, request: SearchRequest) -> Facets:
        found = await self._with_tables(lambda: self._find(request))
        return Facets() if found is None else found[1]

    async def _find(self, request: SearchRequest) -> tuple[_Match, Facets] | None:
        """The documents having enough of the query's positions (see `_required`)."""
        positions, typed = await self._positions(request.query)
        if not positions:
            return None
        match, facets = None, Facets()
        for required in _required(len(positions)):
            match = _match(positions, typed, required, request.filter)
            facets = await self._facets(match)
            if facets.content_types:
                break
        assert match is not None
        return match, facets

    async def _positions(self, query: str) -> tuple[list[set[str]], set[str]]:
        """The query's positions (search.text.expand) and its stems as typed, typos corrected
        against the words of the index."""
        query_terms = terms(query)[:MAX_QUERY_TERMS]
        replaced, added = await self._corrections(query_terms)
        query_terms = [replaced.get(t, t) for t in query_terms]
        positions = expand(query_terms)
        for term, correction in added.items():
            for alternatives in positions:
                if stem(term) in alternatives:
                    alternatives |= set().union(*expand([correction]))
        return positions, {stem(added.get(t, t)) for t in query_terms}  # as meant, typos aside

    async def _facets(self, match: _Match) -> Facets:
        rows = await _connection().execute_query_dict(
            f"WITH m AS (SELECT d.content_type, d.kind, d.categories, d.platforms {_FROM} WHERE {match.where})"
            " SELECT 'content_types' AS facet, content_type AS value, count(*) AS n FROM m GROUP BY content_type"
            " UNION ALL SELECT 'kinds', kind, count(*) FROM m WHERE kind IS NOT NULL GROUP BY kind"
            " UNION ALL SELECT 'categories', j.value, count(*) FROM m, json_each(m.categories) AS j GROUP BY j.value"
            " UNION ALL SELECT 'platforms', j.value, count(*) FROM m, json_each(m.platforms) AS j GROUP BY j.value",
            match.params,
        )
        counts: dict[str, dict[str, int]] = {
            "content_types": {},
            "kinds": {},
            "categories": {},
            "platforms": {},
        }
        for row in rows:
            counts[row["facet"]][row["value"]] = row["n"]
        return Facets(**counts)

    async def _corrections(self, query_terms: list[str]) -> tuple[dict[str, str], dict[str, str]]:
        """Typos: the terms to replace by the closest word of the index (their stem is found
        nowhere), and the terms to complete with it (their stem is found, but never written so,
        as "reconvertion", whose stem is that of "reconvertir": "reconversion" is added).
        """
        suspects = sorted({t for t in query_terms if max_typos(t) and not has_synonyms(t)})
        if not suspects:
            return {}, {}
        stems_ = sorted({stem(t) for t in suspects})
        rows = await _connection().execute_query(
            f"SELECT DISTINCT word, NULL FROM search_fts_word WHERE word IN ({_marks(suspects)})"
            f" UNION ALL SELECT DISTINCT NULL, stem FROM search_fts_word WHERE stem IN ({_marks(stems_)})",
            [*suspects, *stems_],
        )
        known_words = {row[0] for row in rows[1] if row[0] is not None}
        known_stems = {row[1] for row in rows[1] if row[1] is not None}
        unknown = [t for t in suspects if t not in known_words]
        if not unknown:
            return {}, {}
        rows = await _connection().execute_query(
            "SELECT word FROM search_fts_word WHERE length(word) BETWEEN ? AND ?"
            " GROUP BY word ORDER BY count(*) DESC, word",
            [min(len(t) - max_typos(t) for t in unknown), max(len(t) + max_typos(t) for t in unknown)],
        )
        vocabulary = [row[0] for row in rows[1]]
        replaced, added = {}, {}
        for term in unknown:
            correction = correct(term, vocabulary)
            if stem(correction) == stem(term):
                continue  # "lettres" when only "lettre" is written: the stem finds it
            if stem(term) in known_stems:
                added[term] = correction
            else:
                replaced[term] = correction
        return replaced, added

    # ------------------------------------------------------------------------------ completing

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        return await self._with_tables(lambda: self._suggest(prefix, limit))

    async def _suggest(self, prefix: str, limit: int) -> list[Suggestion]:
        prefix = unicodedata.normalize("NFC", prefix)
        typed = words(prefix)[:MAX_QUERY_TERMS]
        if not typed or limit <= 0:
            return []
        titles = await self._title_suggestions(typed, limit)
        completions = await self._word_suggestions(prefix, typed, limit)
        # Titles lead (they go straight to a document); words keep up to half of the room.
        room_for_titles = limit - min(len(completions), limit // 2)
        suggestions: list[Suggestion] = []
        seen: set[str] = set()
        for suggestion in [*titles, *completions]:
            text = normalise(suggestion.text)
            if text in seen or (suggestion.key is not None and len(suggestions) >= room_for_titles):
                continue
            seen.add(text)
            suggestions.append(suggestion)
        return suggestions[:limit]

    async def _title_suggestions(self, typed: list[str], limit: int) -> list[Suggestion]:
        expression = " AND ".join([*(_quote(w) for w in typed[:-1]), _quote(typed[-1]) + " *"])
        rows = await _connection().execute_query_dict(
            "SELECT d.key, d.title FROM search_fts_title JOIN search_fts_document AS d"
            " ON d.id = search_fts_title.rowid WHERE search_fts_title MATCH ?"
            " ORDER BY d.popularity DESC, d.rating DESC, d.title, d.id LIMIT ?",
            [expression, limit],
        )
        return [Suggestion(text=row["title"], key=row["key"]) for row in rows]

    async def _word_suggestions(self, prefix: str, typed: list[str], limit: int) -> list[Suggestion]:
        """Frequent words completing the last word typed, in documents having the words before it."""
        last = typed[-1]
        upper = last[:-1] + chr(ord(last[-1]) + 1)
        context = sorted({stem(w) for w in typed[:-1] if w not in STOP_WORDS})
        in_context = "".join(
            " AND document_id IN (SELECT document_id FROM search_fts_word WHERE stem = ?)" for _ in context
        )
        rows = await _connection().execute_query(
            "SELECT word, stem, min(written) FROM search_fts_word WHERE word >= ? AND word < ?"
            f"{in_context} GROUP BY word ORDER BY count(*) DESC, length(word), word LIMIT ?",
            [last, upper, *context, limit * 4],
        )
        before = _before_last_word(prefix)
        suggestions, stems_seen = [], set()
        for word, word_stem, written in rows[1]:
            if word_stem in stems_seen or len(word) < 3:
                continue  # "lettres" adds nothing to "lettre"
            stems_seen.add(word_stem)
            suggestions.append(Suggestion(text=before + written))
        return suggestions[:limit]


def _before_last_word(prefix: str) -> str:
    """What was typed before the word being completed: "lettre de mot" → "lettre de "."""
    typed = list(_WORD.finditer(prefix))
    return prefix[: typed[-1].start()].lstrip() if typed else ""
