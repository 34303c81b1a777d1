"""Answering searches: checked input, then the external index when there is one, else the database.

The database backend is written in the same transaction as every change (search.sync), so it can
always stand in when Elasticsearch is down or unreachable.
"""

from __future__ import annotations

import dataclasses
import logging

from models.errors import BadUserInput
from search import registry
from search.backend import SearchRequest, SearchResult, Suggestion

log = logging.getLogger("emploi_store.search")
MAX_QUERY_CHARS = 200
MAX_FIRST = 100
MAX_SUGGESTIONS = 20
# What an unreachable external index raises (search.errors.SearchUnavailable is a ConnectionError).
UNAVAILABLE = (ConnectionError, TimeoutError)


def checked(request: SearchRequest) -> SearchRequest:
    query = request.query.strip()
    if not query:
        raise BadUserInput("query is empty", field="query")
    if len(query) > MAX_QUERY_CHARS:
        raise BadUserInput(f"query is limited to {MAX_QUERY_CHARS} characters", field="query")
    if not 1 <= request.first <= MAX_FIRST:
        raise BadUserInput(f"first must lie between 1 and {MAX_FIRST}", field="first")
    if request.offset < 0:
        raise BadUserInput("offset cannot be negative", field="offset")
    return dataclasses.replace(request, query=query)


async def run_search(request: SearchRequest) -> SearchResult:
    request = checked(request)
    external = registry.external_backend()
    if external is not None:
        try:
            return await external.search(request)
        except UNAVAILABLE as exc:
            log.warning("search: %s is unavailable, the database answers: %s", external.name, exc)
    return await registry.database_backend().search(request)


async def run_suggest(prefix: str, limit: int = 8) -> list[Suggestion]:
    prefix = prefix.strip()
    if len(prefix) > MAX_QUERY_CHARS:
        raise BadUserInput(f"prefix is limited to {MAX_QUERY_CHARS} characters", field="prefix")
    if not 1 <= limit <= MAX_SUGGESTIONS:
        raise BadUserInput(f"limit must lie between 1 and {MAX_SUGGESTIONS}", field="first")
    if not prefix:
        return []  # nothing typed yet: nothing to complete
    external = registry.external_backend()
    if external is not None:
        try:
            return await external.suggest(prefix, limit)
        except UNAVAILABLE as exc:
            log.warning("suggest: %s is unavailable, the database answers: %s", external.name, exc)
    return await registry.database_backend().suggest(prefix, limit)
