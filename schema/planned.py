"""Planned execution: hot read queries answered without running GraphQL field by field.

A catalogue page asks for about 235 fields; graphql-core and Strawberry spend several
microseconds on each (resolve info, argument conversion, a task per async resolver, completion),
which made executing them most of the page's cost (bench/api_load.py --profile). For the types
that have *rules* here, a validated query operation is compiled once into a plan: for each
response key, a getter on the parent's plain data and a completer built from the field's GraphQL
type. Running a plan is one call per root field that loads everything the plan needs (a few SQL
statements, whatever the page size) and one pass that builds the response dict.

A plan covers what it can prove it answers exactly as graphql-core would; anything else is left to
normal execution, which stays the reference:

- only query operations, without directives (`@include`/`@skip` depend on variables);
- only fields with a rule (any other field, or arguments on a field whose rule takes none, and the
  whole operation is executed normally);
- fragments whose type condition is the object type itself;
- a value that would be an error (null in a non-null field, anything a rule raises, any error of
  the root loader, such as a bad argument) abandons the plan and the operation runs normally,
  which then reports the error with its path and code. Planned operations only read.

tests/schema/test_planned.py compares planned and normal answers over every planned field.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLEnumType,
    GraphQLField,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLScalarType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    SelectionSetNode,
)
from graphql.execution.values import get_argument_values, get_variable_values
from strawberry.types.arguments import convert_arguments

from schema.document_cache import DocumentCache

Getter = Callable[[Any, "Run"], Any]  # (the parent's data, the run) -> the field's data
Completer = Callable[[Any, "Run"], Any]  # (the field's data, the run) -> what the response holds

PLAN_CACHE_SIZE = 1024


class NotPlannable(Exception):
    """The operation uses something without a rule: it is executed normally. Raised when compiling,
    or by a root loader that cannot serve what the plan needs (the plan is then dropped for good)."""


class Abandon(Exception):
    """A planned run met something only normal execution reports properly (an error, a null)."""


@dataclass(frozen=True)
class FieldRule:
    """How a field's data comes from its parent's data, and what the parent's loader must fetch.

    A rule with `takes_arguments` gets the field's arguments too, converted as Strawberry converts
    them for resolvers: `get(data, run, arguments)`; its loader finds every argument set the plan
    uses with Wants.arguments. A rule that does not `nest` may not appear under itself (its loader
    loads one level)."""

    get: Callable[..., Any]
    needs: frozenset[str] = frozenset()
    takes_arguments: bool = False
    nests: bool = True


def rule(get: Getter, *needs: str) -> FieldRule:
    return FieldRule(get, frozenset(needs))


def column(name: str) -> FieldRule:
    """A field that is one column of a decoded row (models/rows.py)."""
    return FieldRule(lambda row, _: row[name], frozenset({name}))


class Run:
    """One run of a plan: the request's context, and field arguments converted once."""

    __slots__ = ("_arguments", "_schema", "_variables", "context")

    def __init__(self, schema: Any, variables: Any, context: Any) -> None:
        self.context = context
        self._schema = schema
        self._variables = variables
        self._arguments: dict[int, dict[str, Any]] = {}

    def arguments(self, field_def: GraphQLField, node: FieldNode) -> dict[str, Any]:
        """The field's arguments in its resolver's terms (Python names, enums, input classes)."""
        found = self._arguments.get(id(node))
        if found is None:
            values = get_argument_values(field_def, node, self._variables)
            definition = field_def.extensions["strawberry-definition"]
            found = convert_arguments(
                values,
                definition.arguments,
                scalar_registry=self._schema.schema_converter.scalar_registry,
                config=self._schema.config,
            )
            self._arguments[id(node)] = found
        return found


@dataclass(frozen=True)
class Wants:
    """What a root field's plan asks its loader for."""

    needs: Mapping[str, frozenset[str]]  # GraphQL type name -> what its selected fields need
    argument_fields: Mapping[tuple[str, str], tuple[tuple[GraphQLField, FieldNode], ...]]
    run: Run

    def of(self, typename: str) -> frozenset[str]:
        return self.needs.get(typename, frozenset())

    def arguments(self, typename: str, field_name: str) -> list[dict[str, Any]]:
        """The distinct argument sets the plan uses on this field."""
        found: list[dict[str, Any]] = []
        for field_def, node in self.argument_fields.get((typename, field_name), ()):
            values = self.run.arguments(field_def, node)
            if values not in found:
                found.append(values)
        return found


# A root field's loader: (its converted arguments, what the plan under it wants) -> data.
RootLoader = Callable[[dict[str, Any], Wants], Awaitable[Any]]


@dataclass(frozen=True)
class Rules:
    types: Mapping[str, Mapping[str, FieldRule]]
    roots: Mapping[str, RootLoader]


@dataclass(frozen=True)
class _RootPlan:
    key: str
    field_def: GraphQLField
    node: FieldNode
    load: RootLoader
    needs: Mapping[str, frozenset[str]]
    argument_fields: Mapping[tuple[str, str], tuple[tuple[GraphQLField, FieldNode], ...]]
    complete: Completer


@dataclass(frozen=True)
class Plan:
    operation: OperationDefinitionNode
    roots: tuple[_RootPlan, ...]

    async def run(self, schema: Any, variables: dict[str, Any] | None, context: Any) -> dict[str, Any]:
        """The operation's `data`; raises Abandon when normal execution must answer instead."""
        coerced = get_variable_values(
            schema._schema, self.operation.variable_definitions or (), variables or {}
        )
        if isinstance(coerced, list):
            raise Abandon("variables do not coerce")
        data: dict[str, Any] = {}
        run = Run(schema, coerced, context)
        for root in self.roots:
            try:
                arguments = run.arguments(root.field_def, root.node)
                loaded = await root.load(arguments, Wants(root.needs, root.argument_fields, run))
                data[root.key] = root.complete(loaded, run)
            except (Abandon, NotPlannable):
                raise
            except Exception as exc:
                raise Abandon(f"{root.key}: {exc!r}") from exc
        return data


class Planner:
    """Compiles and caches the plans of one schema's operations."""

    def __init__(self, schema: GraphQLSchema, rules: Rules) -> None:
        self.schema = schema
        self.rules = rules
        self._plans: DocumentCache[Plan | None] = DocumentCache(PLAN_CACHE_SIZE)

    def drop(self, document: DocumentNode, operation_name: str | None) -> None:
        """A loader found it could not serve this plan: the operation is executed normally from now on."""
        self._plans.put((document,), operation_name, None)

    def plan(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        return self._plans.get((document,), operation_name, lambda: self._compile(document, operation_name))

    def _compile(self, document: DocumentNode, operation_name: str | None) -> Plan | None:
        try:
            return _Compiler(self.schema, self.rules, document).compile(operation_name)
        except NotPlannable:
            return None


class _Compiler:
    def __init__(self, schema: GraphQLSchema, rules: Rules, document: DocumentNode) -> None:
        self.schema = schema
        self.rules = rules
        self.fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        self.operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        self.needs: dict[str, set[str]] = {}
        self.argument_fields: dict[tuple[str, str], list[tuple[GraphQLField, FieldNode]]] = {}
        self.within: list[tuple[str, str]] = []  # the rules that do not nest, above the field compiled

    def compile(self, operation_name: str | None) -> Plan:
        chosen = [
            o
            for o in self.operations
            if operation_name is None or (o.name and o.name.value == operation_name)
        ]
        if len(chosen) != 1 or chosen[0].operation is not OperationType.QUERY or chosen[0].directives:
            raise NotPlannable("not a single query operation")
        operation = chosen[0]
        query_type = self.schema.query_type
        assert query_type is not None
        roots = []
        for key, nodes in self._collect(query_type, [operation.selection_set]).items():
            name = nodes[0].name.value
            load = self.rules.roots.get(name)
            if load is None or len(nodes) != 1:
                raise NotPlannable(f"root field {name}")
            self.needs, self.argument_fields = {}, {}
            field_def = query_type.fields[name]
            complete = self._completer(field_def.type, nodes)
            needs = {typename: frozenset(wanted) for typename, wanted in self.needs.items()}
            argument_fields = {where: tuple(found) for where, found in self.argument_fields.items()}
            roots.append(_RootPlan(key, field_def, nodes[0], load, needs, argument_fields, complete))
        return Plan(operation, tuple(roots))

    def _collect(
        self, parent: GraphQLObjectType, selection_sets: list[SelectionSetNode], seen: set[str] | None = None
    ) -> dict[str, list[FieldNode]]:
        """Response key -> its field nodes, in order, as graphql-core's field collection gives them."""
        fields: dict[str, list[FieldNode]] = {}
        seen = set() if seen is None else seen
        for selection_set in selection_sets:
            for selection in selection_set.selections:
                if selection.directives:
                    raise NotPlannable("directives")
                if isinstance(selection, FieldNode):
                    key = selection.alias.value if selection.alias else selection.name.value
                    fields.setdefault(key, []).append(selection)
                    continue
                if isinstance(selection, InlineFragmentNode):
                    fragment: InlineFragmentNode | FragmentDefinitionNode = selection
                elif isinstance(selection, FragmentSpreadNode):
                    name = selection.name.value
                    if name in seen:
                        continue
                    seen.add(name)
                    fragment = self.fragments[name]
                    if fragment.directives:
                        raise NotPlannable("directives")
                else:  # pragma: no cover - the three kinds of selection
                    raise NotPlannable(type(selection).__name__)
                condition = fragment.type_condition
                if condition is not None and condition.name.value != parent.name:
                    raise NotPlannable("fragment on another type")
                for key, nodes in self._collect(parent, [fragment.selection_set], seen).items():
                    fields.setdefault(key, []).extend(nodes)
        return fields

    def _completer(self, gql_type: GraphQLOutputType, nodes: list[FieldNode]) -> Completer:
        if isinstance(gql_type, GraphQLNonNull):
            inner = self._completer(gql_type.of_type, nodes)

            def non_null(value: Any, run: Run) -> Any:
                if value is None:
                    raise Abandon("null in a non-null field")
                return inner(value, run)

            return non_null
        if isinstance(gql_type, GraphQLList):
            item = self._completer(gql_type.of_type, nodes)

            def listed(value: Any, run: Run) -> Any:
                return None if value is None else [item(v, run) for v in value]

            return listed
        if isinstance(gql_type, GraphQLScalarType | GraphQLEnumType):
            return _leaf(gql_type)
        if isinstance(gql_type, GraphQLObjectType):
            return self._object(gql_type, nodes)
        raise NotPlannable(f"abstract type {gql_type}")

    def _object(self, object_type: GraphQLObjectType, nodes: list[FieldNode]) -> Completer:
        rules = self.rules.types.get(object_type.name)
        if rules is None:
            raise NotPlannable(f"type {object_type.name}")
        selection_sets = [node.selection_set for node in nodes if node.selection_set is not None]
        steps: list[tuple[str, Getter, Completer]] = []
        wanted = self.needs.setdefault(object_type.name, set())
        for key, field_nodes in self._collect(object_type, selection_sets).items():
            name = field_nodes[0].name.value
            if name == "__typename":
                steps.append((key, _constant(object_type.name), _identity))
                continue
            field_rule = rules.get(name)
            field_def = object_type.fields[name]
            where = (object_type.name, name)
            if field_rule is None or where in self.within:
                raise NotPlannable(f"{object_type.name}.{name}")
            get = field_rule.get
            if field_rule.takes_arguments:
                get = _with_arguments(field_rule.get, field_def, field_nodes[0])
                self.argument_fields.setdefault(where, []).append((field_def, field_nodes[0]))
            elif any(node.arguments for node in field_nodes) or field_def.args:
                raise NotPlannable(f"{object_type.name}.{name} takes arguments")
            wanted.update(field_rule.needs)
            if not field_rule.nests:
                self.within.append(where)
            try:
                steps.append((key, get, self._completer(field_def.type, field_nodes)))
            finally:
                if not field_rule.nests:
                    self.within.pop()

        def complete(value: Any, run: Run) -> Any:
            if value is None:
                return None
            return {key: finish(get(value, run), run) for key, get, finish in steps}

        return complete


def _identity(value: Any, _: Any) -> Any:
    return value


def _with_arguments(get: Callable[..., Any], field_def: GraphQLField, node: FieldNode) -> Getter:
    return lambda data, run: get(data, run, run.arguments(field_def, node))


def _constant(value: Any) -> Getter:
    return lambda _, __: value


_NATIVE = {"String": str, "ID": str, "Int": int, "Float": float, "Boolean": bool}


def _leaf(leaf_type: GraphQLScalarType | GraphQLEnumType) -> Completer:
    """graphql-core's output coercion, skipped for values already of the JSON type it would give."""
    coerce = leaf_type.coerce_output_value
    native = _NATIVE.get(leaf_type.name)
    if isinstance(leaf_type, GraphQLEnumType):
        names: dict[Any, Any] = {}

        def enum(value: Any, _: Any) -> Any:
            if value is None:
                return None
            try:
                return names[value]
            except KeyError:
                names[value] = name = coerce(value)
                return name

        return enum

    def leaf(value: Any, _: Any) -> Any:
        if value is None:
            return None
        if native is not None and type(value) is native:
            return value
        coerced = coerce(value)
        if coerced is None:
            raise Abandon(f"{leaf_type.name} cannot represent {value!r}")
        return coerced

    return leaf
