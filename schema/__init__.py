"""The Strawberry schema: one module per domain, merged here."""

from __future__ import annotations

from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.extensions import (
    AddValidationRules,
    MaskErrors,
    MaxAliasesLimiter,
    MaxTokensLimiter,
    ParserCache,
    QueryDepthLimiter,
    ValidationCache,
)
from strawberry.tools import merge_types

from models.errors import UserError
from schema.accounts import AccountsMutation, AccountsQuery
from schema.catalogue import CatalogueMutation, CatalogueQuery
from schema.cms import CmsMutation, CmsQuery
from schema.developers import DevelopersMutation, DevelopersQuery
from schema.media import MediaQuery
from schema.proposals import ProposalsMutation, ProposalsQuery
from schema.recommender import RecommenderMutation, RecommenderQuery
from schema.search import SearchQuery
from schema.webhooks import WebhooksMutation, WebhooksQuery

Query = merge_types(
    "Query",
    (
        CatalogueQuery,
        AccountsQuery,
        CmsQuery,
        WebhooksQuery,
        ProposalsQuery,
        MediaQuery,
        SearchQuery,
        RecommenderQuery,
        DevelopersQuery,
    ),
)
Mutation = merge_types(
    "Mutation",
    (
        CatalogueMutation,
        AccountsMutation,
        CmsMutation,
        WebhooksMutation,
        ProposalsMutation,
        RecommenderMutation,
        DevelopersMutation,
    ),
)


def _is_internal(error: GraphQLError) -> bool:
    """Errors from our code that are not a user's doing; parse and validation errors stay readable."""
    if error.path is None and isinstance(error.original_error, GraphQLError):
        return False  # a variable's value refused before execution (e.g. an unknown enum value)
    return error.original_error is not None and not isinstance(error.original_error, UserError)


class MaskInternalErrors(MaskErrors):
    def anonymise_error(self, error: GraphQLError) -> GraphQLError:
        masked = super().anonymise_error(error)
        masked.extensions = {"code": "INTERNAL_SERVER_ERROR"}
        return masked


DOCUMENT_CACHE_SIZE = 1024  # distinct documents parsed and validated once per process


class Schema(strawberry.Schema):
    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        # A user's mistake (a bad document, a UserError) is answered, not logged as a server error.
        unexpected = [e for e in errors if _is_internal(e)]
        if unexpected:
            super().process_errors(unexpected, execution_context)


def build_schema(*, max_depth: int, max_tokens: int, max_aliases: int, debug: bool) -> strawberry.Schema:
    # Factories, so each request gets fresh extension instances. The depth and alias rules are
    # built once and shared: the validation cache is keyed by the rule classes, and each limiter
    # instance would otherwise make new ones. Parsing and validating the same document again
    # was a sixth of the server's time on a catalogue page (bench/api_load.py --profile).
    limits = [
        *QueryDepthLimiter(max_depth=max_depth).validation_rules,
        *MaxAliasesLimiter(max_alias_count=max_aliases).validation_rules,
    ]
    extensions: list = [
        lambda: MaxTokensLimiter(max_token_count=max_tokens),
        lambda: AddValidationRules(limits),
        lambda: ParserCache(maxsize=DOCUMENT_CACHE_SIZE),
        lambda: ValidationCache(maxsize=DOCUMENT_CACHE_SIZE),
    ]
    if not debug:
        extensions.append(
            lambda: MaskInternalErrors(should_mask_error=_is_internal, error_message="Internal server error.")
        )
    return Schema(query=Query, mutation=Mutation, extensions=extensions)
