"""Full-text search over published services and articles, with facets and suggestions."""

from __future__ import annotations

from typing import Annotated

import strawberry

from cms.paging import decode_cursor, encode_cursor, malformed_cursor
from models.errors import BadUserInput
from resolvers import search as resolve
from schema.catalogue import PageInfo, PlatformType, Service
from schema.cms import Article
from search.backend import ContentType, Facets, SearchResult

ContentTypeType = strawberry.enum(ContentType, name="SearchContentType", description="SERVICE or ARTICLE.")
SearchItem = Annotated[Service | Article, strawberry.union("SearchItem")]
MAX_FIRST = 100


@strawberry.type
class FacetValue:
    value: str
    count: int


@strawberry.type(description="How many matches fall in each category, kind, platform and content type.")
class SearchFacets:
    categories: list[FacetValue]
    kinds: list[FacetValue]
    platforms: list[FacetValue]
    content_types: list[FacetValue]

    @classmethod
    def of(cls, facets: Facets) -> SearchFacets:
        def values(counts: dict[str, int]) -> list[FacetValue]:
            return [
                FacetValue(value=k, count=v)
                for k, v in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
            ]

        return cls(
            categories=values(facets.categories),
            kinds=values(facets.kinds),
            platforms=values(facets.platforms),
            content_types=values(facets.content_types),
        )


@strawberry.type(description="One result: the service or article, why it matched, and how well.")
class SearchHit:
    score: float
    snippet: str = strawberry.field(
        description="An extract with the matched words in <mark>; the rest is escaped."
    )
    content_type: ContentTypeType  # type: ignore[valid-type]
    item: SearchItem


@strawberry.type
class SearchEdge:
    cursor: str
    node: SearchHit


@strawberry.type
class SearchConnection:
    edges: list[SearchEdge]
    page_info: PageInfo
    total_count: int
    facets: SearchFacets

    @strawberry.field
    def nodes(self) -> list[SearchHit]:
        return [edge.node for edge in self.edges]


@strawberry.type
class Suggestion:
    text: str
    content_type: ContentTypeType | None  # type: ignore[valid-type]


@strawberry.input
class SearchFilter:
    categories: list[str] | None = strawberry.field(default=None, description="Category slugs.")
    kinds: list[str] | None = strawberry.field(
        default=None, description="Service kinds (mooc, job_board…) or article kinds (story, article, news)."
    )
    platforms: list[PlatformType] | None = None  # type: ignore[valid-type]
    content_types: list[ContentTypeType] | None = None  # type: ignore[valid-type]


def _cursor(offset: int) -> str:
    return encode_cursor(["search", offset])


def _offset(cursor: str | None) -> int:
    """The position after the cursor's hit (relevance order is recomputed, so cursors are offsets)."""
    if not cursor:
        return 0
    payload = decode_cursor(cursor)
    if (
        not isinstance(payload, list)
        or len(payload) != 2
        or payload[0] != "search"
        or not isinstance(payload[1], int)
        or isinstance(payload[1], bool)
        or not 0 <= payload[1] < 10_000
    ):
        raise malformed_cursor()
    return payload[1] + 1


async def _connection(result: SearchResult, offset: int) -> SearchConnection:
    items = await resolve.load_items(result)
    edges = []
    for position, hit in enumerate(result.hits, start=offset):
        item = items.get(hit.key)
        if item is None:
            continue
        edges.append(
            SearchEdge(
                cursor=_cursor(position),
                node=SearchHit(
                    score=hit.score,
                    snippet=hit.snippet,
                    content_type=hit.content_type,
                    item=item,  # type: ignore[arg-type]
                ),
            )
        )
    last = offset + len(result.hits) - 1
    return SearchConnection(
        edges=edges,
        page_info=PageInfo(
            has_next_page=last + 1 < result.total,
            has_previous_page=offset > 0,
            start_cursor=edges[0].cursor if edges else None,
            end_cursor=_cursor(last) if result.hits else None,
        ),
        total_count=result.total,
        facets=SearchFacets.of(result.facets),
    )


@strawberry.type
class SearchQuery:
    @strawberry.field(description="Search published services and articles (French-aware, typo-tolerant).")
    async def search(
        self,
        query: str,
        filter: SearchFilter | None = None,
        first: int = 20,
        after: str | None = None,
    ) -> SearchConnection:
        if not 0 < first <= MAX_FIRST:
            raise BadUserInput(f"first must lie between 1 and {MAX_FIRST}", field="first")
        f = filter or SearchFilter()
        offset = _offset(after)
        result = await resolve.search(
            query,
            categories=f.categories or [],
            kinds=f.kinds or [],
            platforms=[str(p.value) for p in f.platforms or []],  # type: ignore[attr-defined]
            content_types=list(f.content_types or []),
            first=first,
            offset=offset,
        )
        return await _connection(result, offset)

    @strawberry.field(description="Completions for what someone is typing.")
    async def suggest(self, prefix: str, first: int = 8) -> list[Suggestion]:
        if not 0 < first <= 20:
            raise BadUserInput("first must lie between 1 and 20", field="first")
        if len(prefix) > 100:
            raise BadUserInput("prefix is limited to 100 characters", field="prefix")
        found = await resolve.suggest(prefix, first)
        return [
            Suggestion(text=s.text, content_type=ContentType(s.key.split(":")[0]) if s.key else None)
            for s in found
        ]
