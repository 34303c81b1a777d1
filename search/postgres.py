"""PostgreSQL full-text search: the database backend when the product runs on PostgreSQL.

PostgreSQL does the language work: the `french_unaccent` configuration folds accents and stems
French words, `ts_rank_cd` ranks, `ts_headline` cuts the snippets and pg_trgm corrects typos
against the words of the index. Python only turns what people type into safe pieces (words, never
query syntax), finds the editors' synonyms and assembles the SQL from placeholders.

Tables (created by `setup()`, kept in step by `index()` and `delete()`):

- `search_document`: one row per document, with a weighted tsvector (A title, B tags, categories
  and kind, C summary, D body) under a GIN index;
- `search_word`: every indexed word, its stem and how many documents hold it, under a trigram
  index, for typo correction and word completions.
"""

from __future__ import annotations

import functools
import html
import itertools
import json
import math
import pathlib
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient
from tortoise.transactions import in_transaction

from search.backend import (
    ContentType,
    Facets,
    Hit,
    SearchDocument,
    SearchRequest,
    SearchResult,
    Suggestion,
)
from search.text import read_synonym_groups

CONFIG = "french_unaccent"
SYNONYMS_PATH = pathlib.Path(__file__).with_name("synonyms.txt")

MAX_PAGE = 100
MAX_QUERY_CHARS = 500
MAX_QUERY_WORDS = 16
MAX_WORD_CHARS = 40
MAX_ALTERNATIVES = 12
INDEX_BATCH = 500
# A word is only corrected when it is long enough for trigrams to say something about it.
MIN_CORRECTED_CHARS = 4
CORRECTION_CANDIDATES = 10
# With three words or more, a document must hold this share of the query's weight (rare words
# weigh more), unless none does; with one or two words, every word must be there.
MIN_COVERAGE = 0.25
# Relevance dominates: a five-star, much-visited service gains about a fifth, never more.
RATING_BOOST = 0.05
POPULARITY_BOOST = 0.01
SYNONYM_SHARE = 0.4

# Private-use characters mark the matches inside PostgreSQL; the text is escaped around them here.
MARK_START = "\ue000"
MARK_END = "\ue001"
HEADLINE_OPTIONS = (
    f'StartSel="{MARK_START}", StopSel="{MARK_END}", MaxWords=30, MinWords=15, ShortWord=3, MaxFragments=1'
)

_WORD = re.compile(r"[^\W_]+")
_ELISION = re.compile(r"\b(?:[cdjlmnst]|qu|jusqu|lorsqu|puisqu|quoiqu)['’]", re.IGNORECASE)
_LIGATURES = str.maketrans({"œ": "oe", "æ": "ae", "ß": "ss", "ø": "o", "đ": "d", "ł": "l"})
_MD_CODE_BLOCK = re.compile(r"```.*?```", re.DOTALL)
_MD_HTML = re.compile(r"<[^>]*>")
_MD_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_MD_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_MD_LINE_MARK = re.compile(r"^[ \t]{0,3}(?:#{1,6}|>|[-*+]|\d+[.)])[ \t]+", re.MULTILINE)
_MD_INLINE_MARK = re.compile(r"\*{1,3}|_{2,3}|`+|~~")
_SPACES = re.compile(r"\s+")


SETUP_SQL = f"""
SELECT pg_advisory_xact_lock(hashtext('emploi_store.search.setup'));
CREATE EXTENSION IF NOT EXISTS unaccent;
CREATE EXTENSION IF NOT EXISTS pg_trgm;
DO $$
BEGIN
    IF NOT EXISTS (
        SELECT 1 FROM pg_ts_config
        WHERE cfgname = '{CONFIG}' AND cfgnamespace = current_schema()::regnamespace
    ) THEN
        CREATE TEXT SEARCH CONFIGURATION {CONFIG} (COPY = pg_catalog.french);
    END IF;
END
$$;
ALTER TEXT SEARCH CONFIGURATION {CONFIG}
    ALTER MAPPING FOR hword, hword_part, word WITH unaccent, french_stem;
CREATE TABLE IF NOT EXISTS search_document (
    key text PRIMARY KEY,
    content_type text NOT NULL,
    object_id bigint NOT NULL,
    title text NOT NULL,
    summary text NOT NULL,
    body text NOT NULL,
    tags text[] NOT NULL DEFAULT '{{}}',
    categories text[] NOT NULL DEFAULT '{{}}',
    category_names text[] NOT NULL DEFAULT '{{}}',
    kind text,
    platforms text[] NOT NULL DEFAULT '{{}}',
    rating double precision NOT NULL DEFAULT 0,
    popularity bigint NOT NULL DEFAULT 0,
    published_at timestamptz,
    excerpt text NOT NULL,
    title_words text NOT NULL,
    words text[] NOT NULL DEFAULT '{{}}',
    document tsvector NOT NULL
);
COMMENT ON TABLE search_document IS
    'search/postgres.py: derived from the published content; `emploi-store search reindex` rebuilds it';
DO $$
BEGIN
    -- Every candidate's tsvector is read several times per search: keep it in the row (not in
    -- TOAST, where each read is an index lookup), and let the long texts go to TOAST instead.
    -- Checked first, so a second run takes no table lock.
    IF (SELECT attstorage FROM pg_attribute
        WHERE attrelid = to_regclass('search_document') AND attname = 'document') <> 'm' THEN
        ALTER TABLE search_document ALTER COLUMN document SET STORAGE MAIN;
    END IF;
END
$$;
COMMENT ON COLUMN search_document.excerpt IS 'plain text (summary, then body without Markdown) for snippets';
COMMENT ON COLUMN search_document.title_words IS 'the title folded to words, for completions';
COMMENT ON COLUMN search_document.words IS 'the document''s distinct folded words, to keep search_word counts';
-- Without a pending list, reads never pay for recent writes (and the planner trusts the index).
CREATE INDEX IF NOT EXISTS search_document_document_idx ON search_document USING gin (document)
    WITH (fastupdate = off);
CREATE INDEX IF NOT EXISTS search_document_title_words_idx
    ON search_document USING gin (title_words gin_trgm_ops);
CREATE TABLE IF NOT EXISTS search_word (
    word text PRIMARY KEY,
    display text NOT NULL,
    lexeme text NOT NULL,
    documents integer NOT NULL
);
CREATE INDEX IF NOT EXISTS search_word_word_idx ON search_word USING gin (word gin_trgm_ops);
CREATE INDEX IF NOT EXISTS search_word_lexeme_idx ON search_word (lexeme);
"""

_VECTOR = (
    f"setweight(to_tsvector('{CONFIG}', t.title), 'A')"
    f" || setweight(to_tsvector('{CONFIG}', t.labels), 'B')"
    f" || setweight(to_tsvector('{CONFIG}', t.summary), 'C')"
    f" || setweight(to_tsvector('{CONFIG}', t.plain_body), 'D')"
)
_COLUMNS = (
    "key",
    "content_type",
    "object_id",
    "title",
    "summary",
    "body",
    "tags",
    "categories",
    "category_names",
    "kind",
    "platforms",
    "rating",
    "popularity",
    "published_at",
    "excerpt",
    "title_words",
    "words",
)
# Returns the words of the rows it replaces, so search_word can be decremented for them.
UPSERT_SQL = f"""
WITH t AS (
    SELECT * FROM jsonb_to_recordset($1::jsonb) AS t(
        key text, content_type text, object_id bigint, title text, summary text, body text,
        tags text[], categories text[], category_names text[], kind text, platforms text[],
        rating double precision, popularity bigint, published_at timestamptz,
        excerpt text, title_words text, words text[], labels text, plain_body text
    )
),
replaced AS (
    SELECT d.words FROM search_document d JOIN t ON t.key = d.key
),
upserted AS (
    INSERT INTO search_document ({", ".join(_COLUMNS)}, document)
    SELECT {", ".join(f"t.{c}" for c in _COLUMNS)}, {_VECTOR} FROM t
    ON CONFLICT (key) DO UPDATE SET
        {", ".join(f"{c} = EXCLUDED.{c}" for c in (*_COLUMNS[1:], "document"))}
)
SELECT w.word, count(*)::int AS documents FROM replaced, unnest(replaced.words) AS w(word) GROUP BY w.word
"""
DELETE_SQL = """
WITH removed AS (DELETE FROM search_document WHERE key = ANY($1::text[]) RETURNING words)
SELECT w.word, count(*)::int AS documents FROM removed, unnest(removed.words) AS w(word) GROUP BY w.word
"""
# Stop words have no lexeme and stay out of the word list. Rows are taken in word order so two
# concurrent writers lock them in the same order.
ADJUST_WORDS_SQL = f"""
WITH delta AS (
    SELECT t.word, t.display, t.documents,
           (SELECT lexeme FROM unnest(to_tsvector('{CONFIG}', t.word)) LIMIT 1) AS lexeme
    FROM jsonb_to_recordset($1::jsonb) AS t(word text, display text, documents integer)
)
INSERT INTO search_word AS s (word, display, lexeme, documents)
SELECT word, display, lexeme, documents FROM delta WHERE lexeme IS NOT NULL ORDER BY word
ON CONFLICT (word) DO UPDATE SET documents = s.documents + EXCLUDED.documents
"""
PRUNE_WORDS_SQL = "DELETE FROM search_word WHERE word = ANY($1::text[]) AND documents <= 0"

# For each word: its stem (none for a stop word) and, for a query word the index has never seen,
# the indexed words that look most like it (pg_trgm); Python picks the closest by edit distance.
ANALYSE_SQL = f"""
SELECT t.word, l.lexeme, coalesce(c.candidates, '[]') AS candidates
FROM unnest($1::text[], $2::boolean[]) WITH ORDINALITY AS t(word, correctable, n)
CROSS JOIN LATERAL (
    SELECT (SELECT lexeme FROM unnest(to_tsvector('{CONFIG}', t.word)) LIMIT 1) AS lexeme
) AS l
LEFT JOIN LATERAL (
    SELECT json_agg(json_build_object('word', s.word, 'lexeme', s.lexeme, 'documents', s.documents)
                    ORDER BY s.similarity DESC, s.documents DESC, s.word) AS candidates
    FROM (
        SELECT s.word, s.lexeme, s.documents, similarity(s.word, t.word) AS similarity
        FROM search_word s
        WHERE s.word % t.word
        ORDER BY similarity DESC, s.documents DESC, s.word
        LIMIT {CORRECTION_CANDIDATES}
    ) AS s
    WHERE t.correctable
      AND l.lexeme IS NOT NULL
      AND length(t.word) >= {MIN_CORRECTED_CHARS}
      AND NOT EXISTS (SELECT 1 FROM search_word k WHERE k.word = t.word)
) AS c ON true
ORDER BY t.n
"""
SUGGEST_TITLES_SQL = """
SELECT key, title FROM search_document
WHERE title_words LIKE $1
ORDER BY title_words LIKE $2 DESC, popularity DESC, rating DESC, title, key
LIMIT $3
"""
SUGGEST_WORDS_SQL = """
SELECT display FROM search_word WHERE word LIKE $1 ORDER BY documents DESC, word LIMIT $2
"""


def fold(text: str) -> str:
    """Lower case without accents, as unaccent folds it in the database."""
    decomposed = unicodedata.normalize("NFKD", text.casefold().translate(_LIGATURES))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def query_words(text: str) -> list[str]:
    """The folded words of what someone typed: query syntax is only ever a separator."""
    text = _ELISION.sub(" ", text[:MAX_QUERY_CHARS])
    return [fold(w) for w in _WORD.findall(text) if len(w) <= MAX_WORD_CHARS][:MAX_QUERY_WORDS]


def plain_text(markdown: str) -> str:
    """Markdown without its markup, for the index and the snippets (nothing here becomes HTML)."""
    text = _MD_CODE_BLOCK.sub(" ", markdown)  # code says nothing a jobseeker searches for
    text = _MD_IMAGE.sub(r"\1", text)
    text = _MD_LINK.sub(r"\1", text)
    text = _MD_LINE_MARK.sub("", text)
    text = _MD_INLINE_MARK.sub("", text)
    text = _MD_HTML.sub(" ", text)
    return text.replace(MARK_START, "").replace(MARK_END, "")


def _label_text(document: SearchDocument) -> str:
    """The B-weight words: tags, categories and kind, with their separators turned into spaces."""
    categories = document.category_names or document.categories
    labels = [*document.tags, *categories, document.kind or ""]
    return " ".join(label.replace("-", " ").replace("_", " ") for label in labels if label)


def _title_words(title: str) -> str:
    # A leading space lets `LIKE '% queb%'` find the start of any word, the first one included.
    return " " + " ".join(fold(w) for w in _WORD.findall(title))


def _document_words(*texts: str) -> dict[str, str]:
    """Folded word → the first spelling met, for the word list."""
    words: dict[str, str] = {}
    for text in texts:
        for surface in _WORD.findall(text.lower()):
            if 2 <= len(surface) <= MAX_WORD_CHARS and not surface.isdigit():
                words.setdefault(fold(surface), surface)
    return words


def _text(value: str) -> str:
    return value.replace("\x00", "")  # PostgreSQL text cannot hold NUL


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(v for v in values if v))


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _snippet(headline: str) -> str:
    text = html.escape(_SPACES.sub(" ", headline).strip())
    return text.replace(MARK_START, "<mark>").replace(MARK_END, "</mark>")


@dataclass(frozen=True)
class _SynonymGroups:
    phrases: tuple[tuple[str, ...], ...]  # each group's phrases as the editors wrote them
    words: tuple[str, ...]  # every folded word of every phrase, for the analysis query


@functools.lru_cache(maxsize=4)
def _read_synonyms(path: pathlib.Path, mtime: float) -> _SynonymGroups:
    groups = read_synonym_groups(path)
    words = _unique(w for group in groups for phrase in group for w in query_words(phrase))
    return _SynonymGroups(tuple(groups), tuple(words))


def synonym_groups() -> _SynonymGroups:
    """search/synonyms.txt, read again when editors change it."""
    try:
        return _read_synonyms(SYNONYMS_PATH, SYNONYMS_PATH.stat().st_mtime)
    except FileNotFoundError:
        return _SynonymGroups((), ())


@dataclass(frozen=True)
class _Word:
    text: str  # folded
    lexeme: str | None  # None for a stop word
    correction: str | None = None
    correction_lexeme: str | None = None

    @property
    def keys(self) -> tuple[str, ...]:
        """What the word matches in the synonym list: its stem, or its correction's."""
        # Stop words keep their spelling so "sans emploi" does not reduce to "emploi".
        own = self.lexeme or self.text
        return (own, self.correction_lexeme) if self.correction_lexeme else (own,)


@dataclass(frozen=True)
class _Group:
    """One thing the user asked for: their words, and what else says the same."""

    typed: tuple[str, ...]  # the words as typed (and the correction of a typo)
    synonyms: tuple[str, ...]  # synonym phrases, matched with a lower weight


@dataclass
class _Sql:
    """Placeholders are numbered as values are added; nothing typed ever becomes SQL text."""

    values: list[Any]

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


class PostgresBackend:
    name = "postgres"

    def __init__(self, connection_name: str = "default") -> None:
        self._connection_name = connection_name

    def _connection(self) -> BaseDBAsyncClient:
        return Tortoise.get_connection(self._connection_name)

    async def setup(self) -> None:
        async with in_transaction(self._connection_name) as connection:
            await connection.execute_script(SETUP_SQL)

    async def clear(self) -> None:
        await self._connection().execute_script("TRUNCATE search_document, search_word")

    async def index(self, documents: Sequence[SearchDocument]) -> None:
        latest = list({d.key: d for d in documents}.values())  # one row per key: the last wins
        if not latest:
            return
        async with in_transaction(self._connection_name) as connection:
            for start in range(0, len(latest), INDEX_BATCH):
                batch = latest[start : start + INDEX_BATCH]
                rows: list[dict[str, Any]] = []
                added: Counter[str] = Counter()
                spellings: dict[str, str] = {}
                for document in batch:
                    row = self._row(document)
                    words = _document_words(row["title"], row["summary"], row["plain_body"], row["labels"])
                    row["words"] = sorted(words)
                    rows.append(row)
                    added.update(words.keys())
                    for word, surface in words.items():
                        spellings.setdefault(word, surface)
                replaced = await connection.execute_query_dict(UPSERT_SQL, [json.dumps(rows)])
                removed = Counter({r["word"]: r["documents"] for r in replaced})
                await self._adjust_words(connection, added, removed, spellings)

    async def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        async with in_transaction(self._connection_name) as connection:
            removed = await connection.execute_query_dict(DELETE_SQL, [sorted(set(keys))])
            counts = Counter({r["word"]: r["documents"] for r in removed})
            await self._adjust_words(connection, Counter(), counts, {})

    async def search(self, request: SearchRequest) -> SearchResult:
        groups = await self._groups(request.query)
        if not groups:
            return SearchResult(hits=[], total=0, facets=Facets())
        sql, values = self._search_sql(groups, request)
        rows = await self._connection().execute_query_dict(sql, values)
        row = rows[0]
        hits = [
            Hit(
                key=hit["key"],
                content_type=ContentType(hit["content_type"]),
                object_id=int(hit["object_id"]),
                score=float(hit["score"]),
                snippet=_snippet(hit["snippet"] or ""),
            )
            for hit in json.loads(row["hits"])
        ]
        facets = Facets(
            categories=json.loads(row["categories"]),
            kinds=json.loads(row["kinds"]),
            platforms=json.loads(row["platforms"]),
            content_types=json.loads(row["content_types"]),
        )
        return SearchResult(hits=hits, total=int(row["total"]), facets=facets)

    async def facets(self, request: SearchRequest) -> Facets:
        result = await self.search(
            SearchRequest(query=request.query, filter=request.filter, first=0, offset=0)
        )
        return result.facets

    async def explain(self, request: SearchRequest) -> str:
        """PostgreSQL's plan for this search (for operators and for the tests of the index)."""
        groups = await self._groups(request.query)
        if not groups:
            return ""
        sql, values = self._search_sql(groups, request)
        rows = await self._connection().execute_query_dict(f"EXPLAIN {sql}", values)
        return "\n".join(str(next(iter(row.values()))) for row in rows)

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        limit = max(0, min(limit, MAX_PAGE))
        prefix = prefix[:MAX_QUERY_CHARS]
        words = [fold(w) for w in _WORD.findall(prefix)]
        if not words or limit == 0:
            return []
        typed = _like_escape(" " + " ".join(words))
        connection = self._connection()
        titles = await connection.execute_query_dict(SUGGEST_TITLES_SQL, [f"%{typed}%", f"{typed}%", limit])
        suggestions = [Suggestion(text=row["title"], key=row["key"]) for row in titles]
        last = _WORD.search(prefix[::-1])
        if len(suggestions) < limit and last is not None and last.start() == 0:
            # The last word is still being typed: complete it from the words of the index.
            head = prefix[: len(prefix) - last.end()]
            rows = await connection.execute_query_dict(
                SUGGEST_WORDS_SQL, [_like_escape(words[-1]) + "%", limit]
            )
            seen = {s.text.casefold() for s in suggestions}
            for row in rows:
                text = head + row["display"]
                if fold(row["display"]) == words[-1]:
                    continue  # already typed in full
                if text.casefold() not in seen and len(suggestions) < limit:
                    seen.add(text.casefold())
                    suggestions.append(Suggestion(text=text))
        return suggestions

    # -- indexing ---------------------------------------------------------------------------

    @staticmethod
    def _row(document: SearchDocument) -> dict[str, Any]:
        plain_body = plain_text(_text(document.body))
        summary = plain_text(_text(document.summary))
        excerpt = summary if plain_body.strip() in ("", summary.strip()) else f"{summary}\n\n{plain_body}"
        return {
            "key": document.key,
            "content_type": ContentType(document.content_type).value,
            "object_id": document.object_id,
            "title": _text(document.title),
            "summary": _text(document.summary),
            "body": _text(document.body),
            "tags": _unique(map(_text, document.tags)),
            "categories": _unique(map(_text, document.categories)),
            "category_names": _unique(map(_text, document.category_names)),
            "kind": _text(document.kind) if document.kind else None,
            "platforms": _unique(map(_text, document.platforms)),
            "rating": rating if math.isfinite(rating := float(document.rating or 0.0)) else 0.0,
            "popularity": int(document.popularity or 0),
            "published_at": document.published_at.isoformat() if document.published_at else None,
            "excerpt": excerpt,
            "title_words": _title_words(_text(document.title)),
            "labels": _text(_label_text(document)),
            "plain_body": plain_body,
        }

    @staticmethod
    async def _adjust_words(
        connection: BaseDBAsyncClient, added: Counter[str], removed: Counter[str], spellings: dict[str, str]
    ) -> None:
        changes = {word: added[word] - removed[word] for word in sorted(added.keys() | removed.keys())}
        delta = [
            {"word": word, "display": spellings.get(word, word), "documents": change}
            for word, change in changes.items()
            if change
        ]
        if not delta:
            return
        await connection.execute_query(ADJUST_WORDS_SQL, [json.dumps(delta)])
        shrunk = [word for word, change in changes.items() if change < 0]
        if shrunk:
            await connection.execute_query(PRUNE_WORDS_SQL, [shrunk])

    # -- searching --------------------------------------------------------------------------

    async def _groups(self, query: str) -> list[_Group]:
        """What was typed, as groups of alternatives: synonyms found, typos corrected."""
        typed = query_words(query)
        if not typed:
            return []
        synonyms = synonym_groups()
        extra = [w for w in synonyms.words if w not in typed]
        # A word of the synonym list is a real word even when no document holds it yet.
        correctable = [w not in synonyms.words for w in typed] + [False] * len(extra)
        rows = await self._connection().execute_query_dict(ANALYSE_SQL, [[*typed, *extra], correctable])
        analysed = [_analysed_word(r["word"], r["lexeme"], json.loads(r["candidates"])) for r in rows]
        stems = {w.text: w.keys[0] for w in analysed}
        return _expand([w for w in analysed[: len(typed)]], synonyms, stems)

    @staticmethod
    def _search_sql(groups: list[_Group], request: SearchRequest) -> tuple[str, list[Any]]:
        sql = _Sql([])

        def tsquery(phrases: Sequence[str]) -> str:
            return " || ".join(f"phraseto_tsquery('{CONFIG}', {sql(p)}::text)" for p in phrases)

        typed = [tsquery(g.typed) for g in groups]
        every = [
            f"{t} || {tsquery(g.synonyms)}" if g.synonyms else t for t, g in zip(typed, groups, strict=True)
        ]
        group_rows = ", ".join(f"({n}, {t}, {e})" for n, (t, e) in enumerate(zip(typed, every, strict=True)))
        # The same placeholders again: any group will do for a document to be considered.
        every_query = " || ".join(f"({e})" for e in every)
        typed_query = " || ".join(f"({t})" for t in typed)
        filters = []
        wanted = request.filter
        if wanted.categories:
            filters.append(f"d.categories && {sql(list(wanted.categories))}::text[]")
        if wanted.kinds:
            filters.append(f"d.kind = ANY({sql(list(wanted.kinds))}::text[])")
        if wanted.platforms:
            filters.append(f"d.platforms && {sql(list(wanted.platforms))}::text[]")
        if wanted.content_types:
            types = [ContentType(t).value for t in wanted.content_types]
            filters.append(f"d.content_type = ANY({sql(types)}::text[])")
        where = "".join(f" AND {f}" for f in filters)
        first = sql(max(0, min(request.first, MAX_PAGE)))
        offset = sql(max(0, request.offset))
        options = sql(HEADLINE_OPTIONS)
        required = 1.0 if len(groups) <= 2 else MIN_COVERAGE
        order = "m.score DESC, m.published_at DESC NULLS LAST, m.key"
        text = f"""
WITH corpus AS (
    -- The planner's row count is enough for weights; count only when it has none yet.
    SELECT CASE WHEN reltuples > 0 THEN reltuples::float8
                ELSE (SELECT count(*) FROM search_document)::float8 END AS n
    FROM pg_class WHERE oid = 'search_document'::regclass
),
queries AS MATERIALIZED (
    -- Each group's query, built once: a prepared statement's generic plan would otherwise build it
    -- again for every document it is compared with.
    SELECT g.n, g.typed, g.query FROM (VALUES {group_rows}) AS g(n, typed, query) WHERE numnode(g.query) > 0
),
wanted AS MATERIALIZED (
    -- Read as a parameter, the query leads the planner to the GIN index, whose bitmap scan checks
    -- only the documents that may match: a scan of every document's words costs several times more.
    SELECT {every_query} AS every_query
),
hits AS MATERIALIZED (
    -- Every document holding any group, whatever the filters, with the groups it holds: their
    -- counts below are the groups' document frequencies.
    SELECT d.key, d.content_type, d.object_id, d.categories, d.kind, d.platforms, d.published_at,
           d.rating, d.popularity,
           ARRAY(SELECT q.n FROM queries q WHERE d.document @@ q.query) AS held
    FROM search_document d
    WHERE d.document @@ (SELECT every_query FROM wanted)
),
groups AS MATERIALIZED (
    -- Rare words weigh more (an inverse document frequency); a word found nowhere weighs nothing.
    SELECT q.n, q.typed, q.query,
           CASE WHEN c.documents = 0 THEN 0
                ELSE ln(1 + (SELECT n FROM corpus) / c.documents) END AS weight
    FROM queries q
    CROSS JOIN LATERAL (SELECT count(*) AS documents FROM hits h WHERE q.n = ANY(h.held)) AS c
),
terms AS MATERIALIZED (
    SELECT (SELECT every_query FROM wanted) AS every_query, {typed_query} AS typed_query,
           nullif((SELECT sum(weight) FROM groups), 0) AS total_weight
),
candidates AS MATERIALIZED (
    -- The share of the query's weight each document holds.
    SELECT d.key, d.content_type, d.object_id, d.categories, d.kind, d.platforms, d.published_at,
           d.rating, d.popularity,
           (SELECT sum(g.weight) FROM groups g WHERE g.n = ANY(d.held))
               / (SELECT total_weight FROM terms) AS coverage
    FROM hits d
    WHERE true{where}
),
matches AS MATERIALIZED (
    -- Ranked only once the coverage is known to be enough: ts_rank_cd is the costly part.
    SELECT c.*,
           (c.coverage
            + {1 - SYNONYM_SHARE} * ts_rank_cd(d.document, (SELECT typed_query FROM terms), 32)
            + {SYNONYM_SHARE} * ts_rank_cd(d.document, (SELECT every_query FROM terms), 32))
               * (1 + {RATING_BOOST} * least(greatest(c.rating, 0), 5) / 5
                    + {POPULARITY_BOOST} * ln(1 + greatest(c.popularity, 0))) AS score
    FROM candidates c
    JOIN search_document d ON d.key = c.key
    WHERE c.coverage >= (
        SELECT CASE WHEN max(coverage) >= {required} - 1e-9 THEN {required} - 1e-9 ELSE 0 END FROM candidates
    )
),
page AS (
    SELECT p.*, d.excerpt
    FROM (SELECT m.* FROM matches m ORDER BY {order} LIMIT {first} OFFSET {offset}) AS p
    JOIN search_document d ON d.key = p.key
)
SELECT
    (SELECT count(*) FROM matches) AS total,
    (SELECT coalesce(json_agg(json_build_object(
                'key', m.key, 'content_type', m.content_type, 'object_id', m.object_id, 'score', m.score,
                'snippet', ts_headline('{CONFIG}', m.excerpt, (SELECT every_query FROM terms), {options})
            ) ORDER BY {order}), '[]') FROM page m) AS hits,
    (SELECT coalesce(json_object_agg(f.value, f.n), '{{}}') FROM (
        SELECT v AS value, count(*) AS n FROM matches, unnest(categories) AS v GROUP BY v) f) AS categories,
    (SELECT coalesce(json_object_agg(f.value, f.n), '{{}}') FROM (
        SELECT kind AS value, count(*) AS n FROM matches WHERE kind IS NOT NULL GROUP BY kind) f) AS kinds,
    (SELECT coalesce(json_object_agg(f.value, f.n), '{{}}') FROM (
        SELECT v AS value, count(*) AS n FROM matches, unnest(platforms) AS v GROUP BY v) f) AS platforms,
    (SELECT coalesce(json_object_agg(f.value, f.n), '{{}}') FROM (
        SELECT content_type AS value, count(*) AS n FROM matches GROUP BY content_type) f) AS content_types
"""
        return text, sql.values


def _analysed_word(word: str, lexeme: str | None, candidates: list[dict[str, Any]]) -> _Word:
    """The word, and its correction when it looks like a typo of an indexed word.

    The closest candidate by edit distance wins (a swap of two letters counts as one edit:
    "entretein" is one edit from "entretien", two from "entretenir"); on a tie, the one with more
    trigrams in common ("letre": "lettre" rather than "être"), as pg_trgm ordered them.
    """
    allowed = 1 if len(word) <= 5 else 2
    best: tuple[int, int] | None = None
    chosen: dict[str, Any] | None = None
    for order, candidate in enumerate(candidates):
        distance = edit_distance(word, candidate["word"])
        if distance <= allowed and (best is None or (distance, order) < best):
            best, chosen = (distance, order), candidate
    if chosen is None or chosen["lexeme"] == lexeme:
        return _Word(word, lexeme)
    return _Word(word, lexeme, chosen["word"], chosen["lexeme"])


def edit_distance(a: str, b: str) -> int:
    """Levenshtein distance where swapping two neighbouring letters is one edit (OSA)."""
    previous2: list[int] = []
    previous = list(range(len(b) + 1))
    for i, ca in enumerate(a, start=1):
        current = [i] + [0] * len(b)
        for j, cb in enumerate(b, start=1):
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (ca != cb))
            if i > 1 and j > 1 and ca == b[j - 2] and a[i - 2] == cb:
                current[j] = min(current[j], previous2[j - 2] + 1)
        previous2, previous = previous, current
    return previous[-1]


def _expand(words: list[_Word], synonyms: _SynonymGroups, stems: dict[str, str]) -> list[_Group]:
    """Groups of alternatives, one per word or per phrase of the synonym list found in the query."""
    # Stems of each phrase → the phrase, and the groups it belongs to.
    by_key: dict[tuple[str, ...], tuple[set[str], set[int]]] = {}
    for number, group in enumerate(synonyms.phrases):
        for phrase in group:
            key = tuple(stems.get(w, w) for w in query_words(phrase))
            if key:
                phrases, numbers = by_key.setdefault(key, (set(), set()))
                phrases.add(phrase)
                numbers.add(number)
    longest = max((len(k) for k in by_key), default=0)
    groups: list[_Group] = []
    i = 0
    while i < len(words):
        for length in range(min(longest, len(words) - i), 0, -1):
            span = words[i : i + length]
            found = [by_key[k] for k in itertools.product(*(w.keys for w in span)) if k in by_key]
            if found:
                # The editors' spelling of what was typed ("lettres de motivation" → "lettre de
                # motivation") keeps its stop words, so the phrase matches the text as written.
                typed = sorted(set().union(*(phrases for phrases, _ in found)))
                related = sorted(set().union(*(numbers for _, numbers in found)))
                others = [p for n in related for p in synonyms.phrases[n] if p not in typed]
                groups.append(_Group(tuple(typed), tuple(_unique(others))[:MAX_ALTERNATIVES]))
                i += length
                break
        else:
            word = words[i]
            i += 1
            if word.lexeme is not None:  # a stop word on its own asks for nothing
                groups.append(_Group(tuple(_unique((word.text, word.correction or ""))), ()))
    return groups
