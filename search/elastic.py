"""The Elasticsearch backend, through the official async client (elasticsearch-py 9).

Every request body is built by a pure function (checked by tests without a server); the backend
class only sends them. Documents live in a concrete index (`<alias>-<timestamp>`) reached through
an alias, so that a reindex can build a fresh index and swap the alias atomically.

Writes use external versions: the outbox passes, for each key, the id of the newest outbox row it
applies, and the reindex loads its snapshot at version 0. Elasticsearch keeps a write only when its
version is higher than the stored one, so a replayed or late write never undoes a newer one.
"""

from __future__ import annotations

import datetime as dt
import html
import logging
import pathlib
import re
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, TypeVar

from elasticsearch import ApiError, AsyncElasticsearch, TransportError

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
from search.errors import DocumentsRejected, SearchUnavailable
from search.text import read_synonym_groups

log = logging.getLogger("emploi_store.search")
T = TypeVar("T")

SYNONYMS_FILE = pathlib.Path(__file__).with_name("synonyms.txt")
INDEX_ANALYZER = "french_index"
SEARCH_ANALYZER = "french_search"
SUGGEST_ANALYZER = "french_suggest"
# The elided articles of the rebuilt `french` analyzer (l'entretien, d'emploi, qu'il, jusqu'au…).
FRENCH_ARTICLES = ("l", "m", "t", "qu", "n", "s", "j", "d", "c", "jusqu", "quoiqu", "lorsqu", "puisqu")
# `_french_` spells some stop words with accents; after asciifolding they arrive without them.
FOLDED_FRENCH_STOP_WORDS = (
    "a",
    "meme",
    "ete",
    "etee",
    "etees",
    "etes",
    "etant",
    "etante",
    "etants",
    "etantes",
    "etais",
    "etait",
    "etions",
    "etiez",
    "etaient",
    "fumes",
    "futes",
    "eumes",
    "eutes",
)
SEARCH_FIELDS = ("title^4", "tags^3", "summary^2", "body")
PHRASE_FIELDS = ("title^4", "summary^2", "body")
SUGGEST_FIELDS = ("title.suggest", "title.suggest._2gram", "title.suggest._3gram")
HIGHLIGHT_FIELDS = ("summary", "body")
SOURCE_FIELDS = ("key", "content_type", "object_id", "title", "summary")
# Facet name in search.backend.Facets → keyword field.
FACET_FIELDS = {
    "categories": "categories",
    "kinds": "kind",
    "platforms": "platforms",
    "content_types": "content_type",
}
FACET_SIZE = 100
# Longer text is cut: the service refuses it anyway, and it keeps fuzzy expansion cheap.
MAX_QUERY_CHARS = 200
SNIPPET_CHARS = 160
# The reindex snapshot's version: any outbox row (ids start at 1) applied afterwards wins over it.
SNAPSHOT_VERSION = 0
BULK_CHUNK = 500
# After a failure, searches go straight to the database for this long instead of waiting on a dead node.
COOL_DOWN_SECONDS = 15.0

_MARK = re.compile(r"(</?mark>)")


# --- Index settings and mappings ------------------------------------------------------------------


def synonym_rules(path: pathlib.Path = SYNONYMS_FILE) -> list[str]:
    """The groups of search/synonyms.txt, one Solr-format rule each ("cv, curriculum vitae")."""
    return [", ".join(group) for group in read_synonym_groups(path)]


def index_settings(synonyms: Sequence[str] | None = None) -> dict[str, Any]:
    rules = synonym_rules() if synonyms is None else list(synonyms)
    folding = ["french_elision", "lowercase", "asciifolding"]
    stemming = ["french_stop", "french_stop_folded", "french_stemmer"]
    return {
        # A catalogue of a few hundred documents: one shard keeps term statistics, hence scores, exact.
        "number_of_shards": 1,
        "analysis": {
            "filter": {
                "french_elision": {
                    "type": "elision",
                    "articles_case": True,
                    "articles": list(FRENCH_ARTICLES),
                },
                "french_stop": {"type": "stop", "stopwords": "_french_"},
                "french_stop_folded": {"type": "stop", "stopwords": list(FOLDED_FRENCH_STOP_WORDS)},
                "french_stemmer": {"type": "stemmer", "language": "light_french"},
                # Search-time only (updateable filters may not run at index time): changing a group
                # never requires re-analysing the documents.
                "french_synonyms": {"type": "synonym_graph", "synonyms": rules, "updateable": True},
            },
            "analyzer": {
                INDEX_ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": [*folding, *stemming]},
                # Synonyms sit before the stop words: the rules are parsed by the filters in front of
                # them, and a removed "de" inside "lettre de motivation" would make the rule invalid.
                SEARCH_ANALYZER: {
                    "type": "custom",
                    "tokenizer": "standard",
                    "filter": [*folding, "french_synonyms", *stemming],
                },
                # Completions match what is typed, letter by letter: no stop words, no stems.
                SUGGEST_ANALYZER: {"type": "custom", "tokenizer": "standard", "filter": folding},
            },
        },
    }


def _french_text(**extra: Any) -> dict[str, Any]:
    return {"type": "text", "analyzer": INDEX_ANALYZER, "search_analyzer": SEARCH_ANALYZER, **extra}


def mappings() -> dict[str, Any]:
    return {
        "dynamic": "strict",
        "properties": {
            "key": {"type": "keyword"},
            "content_type": {"type": "keyword"},
            "object_id": {"type": "long"},
            "title": _french_text(
                fields={
                    "suggest": {
                        "type": "search_as_you_type",
                        "analyzer": SUGGEST_ANALYZER,
                        "max_shingle_size": 3,
                    },
                    "keyword": {"type": "keyword", "ignore_above": 256},
                }
            ),
            "summary": _french_text(),
            "body": _french_text(),
            "tags": _french_text(fields={"keyword": {"type": "keyword", "ignore_above": 256}}),
            "categories": {"type": "keyword"},
            "category_names": _french_text(),
            "kind": {"type": "keyword"},
            "platforms": {"type": "keyword"},
            "rating": {"type": "float"},
            "popularity": {"type": "long"},
            "published_at": {"type": "date"},
        },
    }


def document_source(document: SearchDocument) -> dict[str, Any]:
    return {
        "key": document.key,
        "content_type": document.content_type.value,
        "object_id": document.object_id,
        "title": document.title,
        "summary": document.summary,
        "body": document.body,
        "tags": list(document.tags),
        "categories": list(document.categories),
        "category_names": list(document.category_names),
        "kind": document.kind,
        "platforms": list(document.platforms),
        "rating": document.rating,
        "popularity": document.popularity,
        "published_at": document.published_at.isoformat() if document.published_at else None,
    }


# --- Queries --------------------------------------------------------------------------------------


def _filters(search_filter: SearchFilter) -> list[dict[str, Any]]:
    wanted = {
        "categories": search_filter.categories,
        "kind": search_filter.kinds,
        "platforms": search_filter.platforms,
        "content_type": tuple(c.value for c in search_filter.content_types),
    }
    return [{"terms": {field: list(values)}} for field, values in wanted.items() if values]


def _aggregations() -> dict[str, Any]:
    return {name: {"terms": {"field": field, "size": FACET_SIZE}} for name, field in FACET_FIELDS.items()}


def _matching(request: SearchRequest) -> dict[str, Any]:
    """The text match with the request's filters, before popularity and rating are weighed in."""
    text = request.query[:MAX_QUERY_CHARS]
    return {
        "bool": {
            "must": [
                {
                    "multi_match": {
                        "query": text,
                        "type": "best_fields",
                        "fields": list(SEARCH_FIELDS),
                        "fuzziness": "AUTO",
                        "tie_breaker": 0.3,
                    }
                }
            ],
            # The words in the order typed score higher than the same words scattered.
            "should": [
                {
                    "multi_match": {
                        "query": text,
                        "type": "phrase",
                        "fields": list(PHRASE_FIELDS),
                        "slop": 1,
                        "boost": 2,
                    }
                }
            ],
            "filter": _filters(request.filter),
        }
    }


def search_body(request: SearchRequest) -> dict[str, Any]:
    return {
        "query": {
            "function_score": {
                "query": _matching(request),
                # A factor between 1 and about 1.5: a better text match still comes first.
                "functions": [
                    {"weight": 1},
                    {
                        "field_value_factor": {
                            "field": "rating",
                            "factor": 0.05,
                            "modifier": "none",
                            "missing": 0,
                        }
                    },
                    {
                        "field_value_factor": {"field": "popularity", "modifier": "log1p", "missing": 0},
                        "weight": 0.04,
                    },
                ],
                "score_mode": "sum",
                "boost_mode": "multiply",
            }
        },
        "from": request.offset,
        "size": request.first,
        "track_total_hits": True,
        "_source": list(SOURCE_FIELDS),
        "highlight": {
            "encoder": "html",
            "pre_tags": ["<mark>"],
            "post_tags": ["</mark>"],
            "fields": {
                field: {
                    "fragment_size": SNIPPET_CHARS,
                    "number_of_fragments": 1,
                    "no_match_size": SNIPPET_CHARS,
                }
                for field in HIGHLIGHT_FIELDS
            },
        },
        "aggs": _aggregations(),
    }


def facets_body(request: SearchRequest) -> dict[str, Any]:
    return {"query": _matching(request), "size": 0, "track_total_hits": True, "aggs": _aggregations()}


def suggest_body(prefix: str, limit: int = 8) -> dict[str, Any]:
    return {
        "query": {
            "multi_match": {
                "query": prefix[:MAX_QUERY_CHARS],
                "type": "bool_prefix",
                "fields": list(SUGGEST_FIELDS),
            }
        },
        "size": limit,
        "_source": ["key", "title"],
    }


# --- Writes ---------------------------------------------------------------------------------------


def index_actions(
    index: str, documents: Iterable[SearchDocument], versions: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    """Bulk operations (action line, then source) replacing these documents.

    With versions, each write is external-versioned: Elasticsearch ignores it unless its version is
    higher than the stored one. Without, the write simply replaces the document.
    """
    operations: list[dict[str, Any]] = []
    for document in documents:
        meta: dict[str, Any] = {"_index": index, "_id": document.key}
        if versions is not None:
            meta |= {"version": versions[document.key], "version_type": "external"}
        operations += [{"index": meta}, document_source(document)]
    return operations


def delete_actions(
    index: str, keys: Iterable[str], versions: Mapping[str, int] | None = None
) -> list[dict[str, Any]]:
    operations: list[dict[str, Any]] = []
    for key in keys:
        meta: dict[str, Any] = {"_index": index, "_id": key}
        if versions is not None:
            meta |= {"version": versions[key], "version_type": "external"}
        operations.append({"delete": meta})
    return operations


def _harmless(operation: str, item: Mapping[str, Any]) -> bool:
    status = int(item.get("status", 500))
    if 200 <= status < 300:
        return True
    error = item.get("error") or {}
    error_type = error.get("type") if isinstance(error, Mapping) else None
    if status == 409 and error_type == "version_conflict_engine_exception":
        return True  # the index already holds this version or a newer one: a replay
    # Deleting what is not there is done; a missing *index* is not (it comes with an error).
    return operation == "delete" and status == 404 and item.get("result") == "not_found" and not error


def bulk_failures(response: Mapping[str, Any]) -> dict[str, str]:
    """The keys a bulk response refused, with the reason, ignoring replays and absent deletes."""
    failures: dict[str, str] = {}
    for entry in response.get("items", []):
        for operation, item in entry.items():
            if not _harmless(operation, item):
                error = item.get("error") or {}
                if isinstance(error, Mapping):
                    error = f"{error.get('type')}: {error.get('reason')}"
                failures[str(item.get("_id"))] = f"{item.get('status')} {error}"
    return failures


def alias_swap_actions(
    alias: str, new_index: str, old_indices: Sequence[str] = (), *, concrete_index_named_alias: bool = False
) -> list[dict[str, Any]]:
    """One atomic update_aliases call: the alias leaves the old indices and names the new one."""
    actions: list[dict[str, Any]] = [{"remove": {"index": old, "alias": alias}} for old in old_indices]
    if concrete_index_named_alias:
        # A plain index squats the alias's name (created by a write before any setup): drop it.
        actions.append({"remove_index": {"index": alias}})
    actions.append({"add": {"index": new_index, "alias": alias, "is_write_index": True}})
    return actions


def concrete_index_name(alias: str, now: dt.datetime | None = None) -> str:
    now = now or dt.datetime.now(dt.UTC)
    return f"{alias}-{now:%Y%m%d%H%M%S%f}"


# --- Responses ------------------------------------------------------------------------------------


def safe_snippet(fragment: str) -> str:
    """Re-escapes a highlighted fragment so that only <mark> and </mark> remain as tags."""
    parts = _MARK.split(fragment)
    return "".join(
        part if part in ("<mark>", "</mark>") else html.escape(html.unescape(part)) for part in parts
    )


def _snippet(hit: Mapping[str, Any]) -> str:
    highlight = hit.get("highlight") or {}
    fragments = [fragment for field in HIGHLIGHT_FIELDS for fragment in highlight.get(field, [])]
    for fragment in fragments:
        if "<mark>" in fragment:
            return safe_snippet(fragment)
    if fragments:
        return safe_snippet(fragments[0])
    summary = str((hit.get("_source") or {}).get("summary") or "")
    return html.escape(summary[:SNIPPET_CHARS])


def _facets(aggregations: Mapping[str, Any] | None) -> Facets:
    aggregations = aggregations or {}

    def counts(name: str) -> dict[str, int]:
        buckets = (aggregations.get(name) or {}).get("buckets", [])
        return {str(bucket["key"]): int(bucket["doc_count"]) for bucket in buckets}

    return Facets(**{name: counts(name) for name in FACET_FIELDS})


def _total(hits: Mapping[str, Any]) -> int:
    total = hits.get("total", 0)
    return int(total["value"] if isinstance(total, Mapping) else total)


def search_result(response: Mapping[str, Any]) -> SearchResult:
    found = response.get("hits") or {}
    hits = []
    for hit in found.get("hits", []):
        source = hit.get("_source") or {}
        hits.append(
            Hit(
                key=str(source.get("key") or hit["_id"]),
                content_type=ContentType(source["content_type"]),
                object_id=int(source["object_id"]),
                score=float(hit.get("_score") or 0.0),
                snippet=_snippet(hit),
            )
        )
    return SearchResult(hits=hits, total=_total(found), facets=_facets(response.get("aggregations")))


def suggestions(response: Mapping[str, Any], limit: int) -> list[Suggestion]:
    result: list[Suggestion] = []
    seen: set[str] = set()
    for hit in (response.get("hits") or {}).get("hits", []):
        source = hit.get("_source") or {}
        title = str(source.get("title") or "")
        if title and title.casefold() not in seen:
            seen.add(title.casefold())
            result.append(Suggestion(text=title, key=source.get("key") or hit.get("_id")))
    return result[:limit]


# --- The backend ----------------------------------------------------------------------------------


class ElasticsearchBackend:
    name = "elasticsearch"

    def __init__(
        self,
        url: str,
        index_name: str = "emploi-store",
        *,
        request_timeout: float = 10.0,
        search_timeout: float = 3.0,
        refresh: bool | str = "wait_for",
        client: AsyncElasticsearch | None = None,
    ) -> None:
        self.alias = index_name
        self.search_timeout = search_timeout
        # Writes wait until they are searchable: an applied outbox row is a visible change.
        self.refresh = refresh
        self.client = client or AsyncElasticsearch(
            url, request_timeout=request_timeout, max_retries=2, retry_on_timeout=True
        )
        self._ready = False
        self._unavailable_until = 0.0

    async def close(self) -> None:
        await self.client.close()

    async def _call(self, work: Callable[[], Awaitable[T]]) -> T:
        """Runs one request; any transport or server error becomes SearchUnavailable."""
        if time.monotonic() < self._unavailable_until:
            raise SearchUnavailable(f"Elasticsearch failed less than {COOL_DOWN_SECONDS:.0f}s ago")
        try:
            return await work()
        except (TransportError, ApiError) as exc:
            if not isinstance(exc, ApiError) or exc.status_code >= 500 or exc.status_code == 429:
                self._unavailable_until = time.monotonic() + COOL_DOWN_SECONDS
            raise SearchUnavailable(f"Elasticsearch: {exc}") from exc

    # Index lifecycle

    async def _alias_targets(self) -> list[str]:
        response = await self.client.options(ignore_status=404).indices.get_alias(name=self.alias)
        if response.meta.status == 404:
            return []
        return sorted(response.body)

    async def setup(self) -> None:
        """Creates `<alias>-<timestamp>` behind the alias unless the alias exists; safe to run again."""

        async def run() -> None:
            if await self.client.indices.exists_alias(name=self.alias):
                return
            if await self.client.indices.exists(index=self.alias):
                raise SearchUnavailable(
                    f"{self.alias!r} is a plain index, not an alias: run `emploi-store search reindex`"
                )
            try:
                await self.client.indices.create(
                    index=concrete_index_name(self.alias),
                    settings=index_settings(),
                    mappings=mappings(),
                    # Another worker setting up at the same moment fails here: one write index per alias.
                    aliases={self.alias: {"is_write_index": True}},
                )
            except ApiError:
                if not await self.client.indices.exists_alias(name=self.alias):
                    raise

        await self._call(run)
        self._ready = True

    async def _ensure_ready(self) -> None:
        if not self._ready:
            await self.setup()

    # Writes

    async def _bulk(self, operations: list[dict[str, Any]], *, loading: bool = False) -> None:
        """One bulk request; `loading` writes into a concrete index being built (no alias, no refresh)."""
        if not operations:
            return
        response = await self._call(
            lambda: self.client.bulk(
                operations=operations,
                refresh=False if loading else self.refresh,
                # Never let a write to a missing alias auto-create a plain index under its name.
                require_alias=None if loading else True,
            )
        )
        if response.body.get("errors"):
            failures = bulk_failures(response.body)
            if any("index_not_found_exception" in reason for reason in failures.values()):
                self._ready = False  # the alias went away: the next write sets it up again
            if failures:
                raise DocumentsRejected(failures, "; ".join(sorted(set(failures.values()))[:3]))

    async def index(
        self, documents: Sequence[SearchDocument], versions: Mapping[str, int] | None = None
    ) -> None:
        """Adds or replaces documents; `versions` (key → outbox row id) makes replays harmless."""
        await self._ensure_ready()
        for start in range(0, len(documents), BULK_CHUNK):
            await self._bulk(index_actions(self.alias, documents[start : start + BULK_CHUNK], versions))

    async def delete(self, keys: Sequence[str], versions: Mapping[str, int] | None = None) -> None:
        await self._ensure_ready()
        for start in range(0, len(keys), BULK_CHUNK):
            await self._bulk(delete_actions(self.alias, keys[start : start + BULK_CHUNK], versions))

    async def clear(self) -> None:
        await self._ensure_ready()
        await self._call(
            lambda: self.client.delete_by_query(
                index=self.alias, query={"match_all": {}}, refresh=True, conflicts="proceed"
            )
        )

    # Reads

    async def search(self, request: SearchRequest) -> SearchResult:
        client = self.client.options(request_timeout=self.search_timeout)
        response = await self._call(lambda: client.search(index=self.alias, body=search_body(request)))
        return search_result(response.body)

    async def facets(self, request: SearchRequest) -> Facets:
        client = self.client.options(request_timeout=self.search_timeout)
        response = await self._call(lambda: client.search(index=self.alias, body=facets_body(request)))
        return _facets(response.body.get("aggregations"))

    async def suggest(self, prefix: str, limit: int = 8) -> list[Suggestion]:
        client = self.client.options(request_timeout=self.search_timeout)
        # Ask for a few more: titles repeated across documents are shown once.
        response = await self._call(
            lambda: client.search(index=self.alias, body=suggest_body(prefix, limit * 2))
        )
        return suggestions(response.body, limit)

    # Reindex

    async def reindex(self, progress: bool = True) -> int:
        """Builds a fresh index from every published document and swaps the alias onto it.

        Searches keep using the old index until the swap. Changes applied to the old index while
        the new one loads are put back in the outbox after the swap, so the new index gets them too.
        """
        from tqdm import tqdm

        from search.documents import all_documents
        from search.sync import LEASE, replay_applied_since

        started = dt.datetime.now(dt.UTC)
        new_index = concrete_index_name(self.alias, started)
        settings = index_settings() | {"refresh_interval": "-1"}  # no refreshes while loading
        await self._call(
            lambda: self.client.indices.create(index=new_index, settings=settings, mappings=mappings())
        )
        try:
            documents = await all_documents()
            with tqdm(
                total=len(documents), unit="doc", desc=f"Elasticsearch {new_index}", disable=not progress
            ) as bar:
                for start in range(0, len(documents), BULK_CHUNK):
                    chunk = documents[start : start + BULK_CHUNK]
                    versions = dict.fromkeys((d.key for d in chunk), SNAPSHOT_VERSION)
                    await self._bulk(index_actions(new_index, chunk, versions), loading=True)
                    bar.update(len(chunk))
            await self._call(
                lambda: self.client.indices.put_settings(index=new_index, settings={"refresh_interval": None})
            )
            await self._call(lambda: self.client.indices.refresh(index=new_index))
            old_indices = await self._call(lambda: self._swap_alias(new_index))
        except BaseException:
            try:
                await self.client.options(ignore_status=404).indices.delete(index=new_index)
            except (TransportError, ApiError) as exc:
                log.warning("search reindex: could not remove the unfinished index %s: %s", new_index, exc)
            raise
        self._ready = True
        # Outbox rows applied since the load began went to the old index: apply them again. The margin
        # covers a drain that read the database before `started` and wrote after it.
        replayed = await replay_applied_since(started - LEASE)
        log.info(
            "search reindex: %s documents in %s, %s outbox rows replayed", len(documents), new_index, replayed
        )
        await self._call(lambda: self._drop_indices(old_indices))
        return len(documents)

    async def _swap_alias(self, new_index: str) -> list[str]:
        """Points the alias at `new_index` alone, in one atomic call; returns the indices it left."""
        old_indices = await self._alias_targets()
        squatted = not old_indices and bool(await self.client.indices.exists(index=self.alias))
        actions = alias_swap_actions(self.alias, new_index, old_indices, concrete_index_named_alias=squatted)
        await self.client.indices.update_aliases(actions=actions)
        return old_indices

    async def _drop_indices(self, names: Sequence[str]) -> None:
        for name in names:
            await self.client.options(ignore_status=404).indices.delete(index=name)
