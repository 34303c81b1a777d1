"""What a GraphQL operation costs, worked out from the validated document before anything runs.

Budgets (server/ratelimit.py) are counted in these units. The rules:

- A field that returns an object, a union or an interface (or a list of them) costs 1, plus what
  is selected under it. A scalar or enum field costs 0.
- A field with a `first` argument multiplies what is selected under it by `first`: its value in
  the document or a variable, else the argument's default (null means the page size of 20). On a
  connection (a type named …Connection) only `edges` and `nodes` are multiplied: `pageInfo`,
  `totalCount` and `facets` come once per page.
- A root mutation field costs MUTATION_COST (10) instead of 1, plus what is selected under it.
- FIELD_COSTS replaces the own cost of a few dearer fields ("Query.search": 5…).
- Introspection is cheap so GraphiQL keeps working: `__schema` and `__type` cost 1 whatever is
  selected under them, `__typename` 0.
- Fragments and inline fragments are expanded. On a union or an interface, fragments on different
  types are alternatives: the dearest type counts, as only one applies to each item.
- @skip and @include are honoured. Each selected field counts, aliases included, even where
  GraphQL would merge two selections of the same field (an overestimate, never an underestimate).

Examples (tests/server/test_query_cost.py checks them):

- `{ services(first: 20) { edges { node { name categories { name } links { url } } } } }` costs 81:
  services 1 + 20 × (edges 1 + node 1 + categories 1 + links 1).
- `{ categories { name services(first: 5) { totalCount nodes { name relatedServices { name } } } } }`
  costs 12: categories 1 + services 1 + 5 × (nodes 1 + relatedServices 1).
- `mutation { rateService(serviceSlug: "x", stars: 5) { replaced rating { stars } service { name } } }`
  costs 12: rateService 10 + rating 1 + service 1.

`QueryCost` is the schema extension that applies them between validation and execution: it refuses
an operation that costs more than MAX_QUERY_COST (or more than the client's whole budget) with
COST_LIMIT_EXCEEDED, charges the cost to the client's budget (server/ratelimit.py), and reports
`extensions.cost` in the answers to API-key clients' POST requests (answers that may be cached and
shared carry no per-client figures: those are in the X-RateLimit-* headers of every answer). A
document that does not parse or validate never reaches it, so it is never charged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import orjson
from graphql import (
    DocumentNode,
    ExecutionResult,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLIncludeDirective,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSkipDirective,
    InlineFragmentNode,
    OperationType,
    SelectionNode,
    SelectionSetNode,
    get_named_type,
    get_operation_ast,
    is_abstract_type,
    is_composite_type,
)
from graphql.execution.values import VariableValues, get_argument_values, get_directive_values
from graphql.execution.values import get_variable_values as coerce_variables
from strawberry.extensions import SchemaExtension

from cms.paging import DEFAULT_PAGE_SIZE
from schema.document_cache import DocumentCache
from server.clients import Client
from server.metrics import QUERY_COST
from server.ratelimit import Decision, charge, rate_limited_message

MUTATION_COST = 10
INTROSPECTION_COST = 1
PER_ITEM_FIELDS = frozenset({"edges", "nodes"})
# A field's own cost where 1 (or MUTATION_COST) says too little of the work behind it.
FIELD_COSTS: Mapping[str, int] = MappingProxyType(
    {
        "Query.search": 5,  # full-text ranking and facets
        "Query.suggest": 2,
        "Mutation.recommend": 20,  # the recommender model runs
        "Mutation.signIn": 20,  # argon2 is slow on purpose
    }
)
COST_LIMIT_EXCEEDED = "COST_LIMIT_EXCEEDED"
# What an answer served from the response cache is charged: nothing runs to give it.
CACHE_HIT_COST = 1


@dataclass(frozen=True)
class CostRules:
    max_cost: int = 5000
    mutation_cost: int = MUTATION_COST
    introspection_cost: int = INTROSPECTION_COST
    field_costs: Mapping[str, int] = field(default_factory=lambda: FIELD_COSTS)


def operation_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None = None,
    variables: Mapping[str, Any] | None = None,
    rules: CostRules | None = None,
) -> int | None:
    """The cost of the operation the request runs, or None when there is nothing to run (no such
    operation, or variables that do not fit it: execution refuses those before running anything)."""
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        return None
    coerced = coerce_variables(schema, operation.variable_definitions or (), dict(variables or {}))
    if isinstance(coerced, list):
        return None
    root = schema.get_root_type(operation.operation)
    if root is None:
        return None
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    counter = _Counter(schema, rules or CostRules(), fragments, coerced, operation.operation)
    return counter.selection_cost(operation.selection_set, root, top_level=True)


class _Counter:
    def __init__(
        self,
        schema: GraphQLSchema,
        rules: CostRules,
        fragments: Mapping[str, FragmentDefinitionNode],
        variables: VariableValues,
        operation: OperationType,
    ) -> None:
        self.schema = schema
        self.rules = rules
        self.fragments = fragments
        self.variables = variables
        self.operation = operation

    def selection_cost(
        self,
        selection_set: SelectionSetNode,
        parent: Any,
        *,
        per_item: int | None = None,
        top_level: bool = False,
    ) -> int:
        """`per_item`: the page size by which a connection's edges and nodes are multiplied."""
        always = 0
        by_type: dict[str, int] = {}  # fragments on a narrower type than an abstract parent
        for selection in selection_set.selections:
            if not self._included(selection):
                continue
            if isinstance(selection, FieldNode):
                cost = self.field_cost(selection, parent, top_level=top_level)
                if per_item is not None and selection.name.value in PER_ITEM_FIELDS:
                    cost *= per_item
                always += cost
                continue
            if isinstance(selection, InlineFragmentNode):
                condition, fragment_selection = selection.type_condition, selection.selection_set
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is None:
                    continue
                condition, fragment_selection = fragment.type_condition, fragment.selection_set
            else:
                continue
            target = parent if condition is None else self.schema.get_type(condition.name.value)
            cost = self.selection_cost(fragment_selection, target, per_item=per_item, top_level=top_level)
            if target is None or target is parent or not is_abstract_type(parent):
                always += cost
            else:
                by_type[target.name] = by_type.get(target.name, 0) + cost
        return always + max(by_type.values(), default=0)

    def field_cost(self, node: FieldNode, parent: Any, *, top_level: bool) -> int:
        name = node.name.value
        if name == "__typename":
            return 0
        if name in ("__schema", "__type"):
            return self.rules.introspection_cost
        if not isinstance(parent, GraphQLObjectType | GraphQLInterfaceType) or name not in parent.fields:
            return 0  # validation makes this unreachable
        definition = parent.fields[name]
        returns = get_named_type(definition.type)
        assert returns is not None
        own = self.rules.field_costs.get(f"{parent.name}.{name}")
        if own is None:
            if top_level and self.operation is OperationType.MUTATION:
                own = self.rules.mutation_cost
            else:
                own = 1 if is_composite_type(returns) else 0
        if node.selection_set is None:
            return own
        first = self._first(definition, node)
        if first is None:
            return own + self.selection_cost(node.selection_set, returns)
        if returns.name.endswith("Connection"):
            return own + self.selection_cost(node.selection_set, returns, per_item=first)
        return own + first * self.selection_cost(node.selection_set, returns)

    def _first(self, definition: GraphQLField, node: FieldNode) -> int | None:
        """The `first` argument's value (a page size), or None for a field that has none."""
        argument = definition.args.get("first")
        if argument is None:
            return None
        try:
            value = get_argument_values(definition, node, self.variables).get("first")
        except GraphQLError:
            value = None
        if value is None:
            value = argument.default_value
        if not isinstance(value, int):
            value = DEFAULT_PAGE_SIZE
        return max(value, 0)

    def _included(self, selection: SelectionNode) -> bool:
        skip = get_directive_values(GraphQLSkipDirective, selection, self.variables)
        if skip is not None and skip.get("if") is True:
            return False
        include = get_directive_values(GraphQLIncludeDirective, selection, self.variables)
        return include is None or include.get("if") is not False


def cost_limit_error(cost: int, max_cost: int) -> GraphQLError:
    return GraphQLError(
        f"this operation costs {cost}, more than the {max_cost} allowed: ask for fewer items "
        "(smaller `first`) or fewer nested lists",
        extensions={"code": COST_LIMIT_EXCEEDED, "cost": cost, "maxCost": max_cost},
    )


def cost_extension(decision: Decision) -> dict[str, int]:
    """What `extensions.cost` of a response says about the budget after this operation."""
    return {
        "requested": decision.cost,
        "remaining": decision.remaining,
        "limit": decision.limit,
        "resetIn": decision.reset_in,
    }


# Operations already priced: the same document with the same variables always costs the same.
_COSTS: DocumentCache[int | None] = DocumentCache()


def _cached_cost(
    schema: GraphQLSchema,
    document: DocumentNode,
    *,
    operation_name: str | None,
    variables: Mapping[str, Any] | None,
    rules: CostRules,
) -> int | None:
    def price() -> int | None:
        return operation_cost(
            schema, document, operation_name=operation_name, variables=variables, rules=rules
        )

    try:
        variables_key = orjson.dumps(variables, option=orjson.OPT_SORT_KEYS) if variables else b""
    except TypeError:  # not JSON data: price it every time
        return price()
    return _COSTS.get((schema, document, rules), (operation_name, variables_key), price)


class QueryCost(SchemaExtension):
    """Prices each operation after validation and charges the client's budget before execution.

    It reads what the HTTP layer (server/graphql.py) put on the request: `request.state.client`
    (server.clients.Client) and `request.state.cost_rules` (CostRules); without them (a schema run
    outside the server) it does nothing. It leaves `request.state.query_cost` and
    `request.state.rate_limit` (the Decision) for the HTTP layer's status code and headers.
    """

    def __init__(self, *, execution_context: Any = None) -> None:
        self.decision: Decision | None = None

    async def on_execute(self) -> AsyncIterator[None]:
        refusal = await self._price_and_charge()
        if refusal is not None:
            # Set before execution: Strawberry then returns it instead of running the operation.
            self.execution_context.result = ExecutionResult(data=None, errors=[refusal])
        yield

    async def _price_and_charge(self) -> GraphQLError | None:
        context = self.execution_context
        request = getattr(context.context, "request", None)
        state = getattr(request, "state", None)
        client = getattr(state, "client", None)
        rules = getattr(state, "cost_rules", None)
        if (
            state is None
            or not isinstance(client, Client)
            or not isinstance(rules, CostRules)
            or not context.graphql_document
        ):
            return None
        cost = _cached_cost(
            context.schema._schema,
            context.graphql_document,
            operation_name=context.operation_name,
            variables=context.variables,
            rules=rules,
        )
        if cost is None:
            return None
        state.query_cost = cost
        # A cost above the client's whole budget could never be paid: refused like one above the maximum.
        max_cost = min(rules.max_cost, client.budget_per_minute)
        if cost > max_cost:
            return cost_limit_error(cost, max_cost)
        decision = await charge(client, cost)
        state.rate_limit = decision
        if not decision.allowed:
            return GraphQLError(
                rate_limited_message(decision),
                extensions={"code": "RATE_LIMITED", "retryAfter": decision.retry_after},
            )
        QUERY_COST.observe(cost)
        # In the body for API-key clients, and not over GET: an answer that may be cached and shared
        # (anonymous, or any GET) must be the same for everyone. The X-RateLimit-* headers say it all.
        if client.api_key_id is not None and getattr(request, "method", "GET") != "GET":
            self.decision = decision
        return None

    def get_results(self) -> dict[str, Any]:
        return {"cost": cost_extension(self.decision)} if self.decision is not None else {}
