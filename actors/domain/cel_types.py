"""Static types of CEL conditions, so that a condition that cannot work is refused at load.

Without this, `priority == "high"` is simply never true and `context.language > 3` fails
only when a conversation arrives (which then goes to the fallback queue). The checker
gives every part of a condition a type from the declared variables and refuses, with the
position, any operator or function applied to types it cannot take, and a condition that
does not give true or false.

The rules follow the `cel` runtime we ship rather than a stricter reading of the spec:
numbers of different kinds compare (`1 == 1.0`, `1u < 1.5`) but do not mix in arithmetic,
and only the conversions that runtime implements are accepted (`int("42")` is, `bool(x)`
is not). Where a type is not known (`dyn`: the result of `dyn(x)`, an element of a mixed
list) anything goes: the checker refuses only what cannot work whatever the values are.
Missing values are not its business: `context.x` may be absent at run time, and `has()`
tests for that. One check is about values, not types, because it is as certain: a literal
pattern given to `matches` must be one the runtime's regex engine accepts.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import cel
from switchboard.actors.domain.cel_syntax import (
    Binary,
    Call,
    Choice,
    Index,
    ListOf,
    Literal,
    MapOf,
    Name,
    Node,
    Select,
    Struct,
    Unary,
    parse,
)


@dataclass(frozen=True, slots=True)
class CelType:
    kind: str  # int, uint, double, string, bool, bytes, null, timestamp, duration, type,
    #            list, map, object (a map with known fields), dyn (unknown)
    params: tuple[CelType, ...] = ()  # list: (element,); map: (key, value)
    fields: tuple[tuple[str, CelType], ...] = ()  # object only

    def __str__(self) -> str:
        if self.kind == "list":
            return f"list({self.params[0]})"
        if self.kind == "map":
            return f"map({self.params[0]}, {self.params[1]})"
        if self.kind == "object":
            return f"object({', '.join(name for name, _ in self.fields)})"
        return self.kind


INT = CelType("int")
UINT = CelType("uint")
DOUBLE = CelType("double")
STRING = CelType("string")
BOOL = CelType("bool")
BYTES = CelType("bytes")
NULL = CelType("null")
TIMESTAMP = CelType("timestamp")
DURATION = CelType("duration")
TYPE = CelType("type")  # the value of `type(x)` and of names such as `int`
DYN = CelType("dyn")  # not known until run time: every operation is allowed on it


def list_of(element: CelType) -> CelType:
    return CelType("list", (element,))


def map_of(key: CelType, value: CelType) -> CelType:
    return CelType("map", (key, value))


def object_of(**fields: CelType) -> CelType:
    """A map whose keys are known, as the variables we build are (`customer`, `outputs`)."""
    return CelType("object", fields=tuple(fields.items()))


class CelTypeError(ValueError):
    """A condition whose types cannot work; `line`/`column` (from 1) are within it."""

    def __init__(self, reason: str, line: int, column: int) -> None:
        super().__init__(f"{reason} at line {line}, column {column}")
        self.reason = reason
        self.line = line
        self.column = column


def check_condition(source: str, variables: Mapping[str, CelType]) -> CelType:
    """The type of the condition `source`, refused (CelTypeError) if it cannot work or does
    not give true or false. Raises cel_syntax.Unreadable for text it cannot read."""
    tree = parse(source)
    scope = _Scope(source, variables)
    result = infer(tree, scope)
    if result.kind not in ("bool", "dyn"):
        raise scope.refuse(
            tree.start,
            f"a condition must give true or false, but {scope.quote(tree)} gives {_a(result)}"
            f"{_how_to_test(scope.quote(tree), result)}",
        )
    return result


def infer_type(source: str, variables: Mapping[str, CelType]) -> CelType:
    """The type of any expression (not only a condition); refuses as check_condition does."""
    return infer(parse(source), _Scope(source, variables))


@dataclass(frozen=True, slots=True)
class _Scope:
    source: str
    variables: Mapping[str, CelType]  # declared by the caller
    bound: Mapping[str, CelType] = field(default_factory=dict)  # comprehension variables

    def lookup(self, name: str) -> CelType | None:
        if name in self.bound:  # a comprehension variable hides a declared one
            return self.bound[name]
        return self.variables.get(name)

    def bind(self, name: str, value: CelType) -> _Scope:
        return _Scope(self.source, self.variables, {**self.bound, name: value})

    def quote(self, node: Node) -> str:
        """The node as written, on one line and cut short, for error messages."""
        text = " ".join(self.source[node.start : node.end].split())
        return text if len(text) <= 40 else text[:37] + "..."

    def refuse(self, offset: int, reason: str) -> CelTypeError:
        line = self.source.count("\n", 0, offset) + 1
        column = offset - (self.source.rfind("\n", 0, offset) + 1) + 1
        return CelTypeError(reason, line, column)


def infer(node: Node, scope: _Scope) -> CelType:
    return _RULES[type(node)](node, scope)


# --- kinds of types ------------------------------------------------------------------------

NUMBERS = frozenset({"int", "uint", "double"})
ORDERED = NUMBERS | {"string", "bytes", "bool", "timestamp", "duration"}
MAP_KEYS = frozenset({"int", "uint", "bool", "string"})
TYPE_NAMES = frozenset(
    {"int", "uint", "double", "string", "bool", "bytes", "list", "map", "null_type", "type"}
)
_BY_KIND = {
    t.kind: t for t in (INT, UINT, DOUBLE, STRING, BOOL, BYTES, NULL, TIMESTAMP, DURATION, TYPE)
}


def _is(value: CelType, *kinds: str) -> bool:
    """Whether `value` may be of one of `kinds` (an unknown type may be anything)."""
    return value.kind == "dyn" or value.kind in kinds


def _as_map(value: CelType) -> CelType:
    """Objects are maps at run time: `size`, `in`, `==` and comprehensions see their keys."""
    return map_of(STRING, DYN) if value.kind == "object" else value


def _element(value: CelType) -> CelType:
    """What a comprehension over `value` binds: a list's elements, a map's keys."""
    value = _as_map(value)
    return value.params[0] if value.kind in ("list", "map") else DYN


def _field(value: CelType, name: str) -> CelType | None:
    return dict(value.fields).get(name)


def _can_equal(left: CelType, right: CelType) -> bool:
    """Whether values of these types can ever be equal (the runtime compares numbers of
    different kinds by value; any other mix is simply never equal)."""
    if "dyn" in (left.kind, right.kind):
        return True
    if left.kind in NUMBERS and right.kind in NUMBERS:
        return True
    left, right = _as_map(left), _as_map(right)
    if left.kind != right.kind:
        return False
    return all(_can_equal(a, b) for a, b in zip(left.params, right.params, strict=True))


def _can_order(left: CelType, right: CelType) -> bool:
    if left.kind == "dyn" or right.kind == "dyn":
        return _is(left, *ORDERED) and _is(right, *ORDERED)
    if left.kind in NUMBERS and right.kind in NUMBERS:
        return True
    return left.kind == right.kind and left.kind in ORDERED


def _join(left: CelType, right: CelType) -> CelType:
    """One type for two values that may each be the result (list items, the branches of ?:)."""
    if left == right:
        return left
    if left.kind == right.kind and left.kind in ("list", "map"):
        return CelType(left.kind, tuple(map(_join, left.params, right.params)))
    return DYN


def _join_all(types: list[CelType]) -> CelType:
    if not types:
        return DYN
    joined = types[0]
    for value in types[1:]:
        joined = _join(joined, value)
    return joined


# --- words for messages --------------------------------------------------------------------

_IRREGULAR = {
    "bytes": "bytes",
    "null": "null",
    "dyn": "a value of unknown type",
    "uint": "a uint",  # "you-int"
}


def _a(value: CelType) -> str:
    """`an int`, `a list(string)`: a type as it reads in a sentence."""
    text = str(value)
    if value.kind in _IRREGULAR:
        return _IRREGULAR[value.kind]
    return f"{'an' if text[0] in 'aeiou' else 'a'} {text}"


def _how_to_test(quoted: str, value: CelType) -> str:
    """A hint for turning a non-bool into a test, for someone who wrote `context.vip`."""
    if value.kind == "string":
        return f'; compare it, e.g. {quoted} == "yes"'
    if value.kind in NUMBERS:
        return f"; compare it, e.g. {quoted} > 0"
    if value.kind in ("list", "map", "object"):
        return f"; test it, e.g. size({quoted}) > 0"
    return ""


def _conversion_hint(
    left: Node | None, lt: CelType, right: Node | None, rt: CelType, scope: _Scope
) -> str:
    """How to make two values of different kinds meet: convert one side to the other's kind,
    where the runtime has that conversion. Literals are not worth converting (write the
    literal differently) and a side given as None cannot be (the keys of a map)."""
    options = [
        f"{want.kind}({scope.quote(side)})"
        for side, have, want in ((left, lt, rt), (right, rt, lt))
        if side is not None
        and not isinstance(side, Literal)
        and have.kind != want.kind
        and want.kind in _CONVERSIONS
        and have.kind in _CONVERSIONS[want.kind][1]
    ]
    return f"; convert one side, e.g. {' or '.join(options)}" if options else ""


# --- nodes ---------------------------------------------------------------------------------


def _literal(node: Literal, scope: _Scope) -> CelType:
    return _BY_KIND[node.kind]


def _name(node: Name, scope: _Scope) -> CelType:
    found = scope.lookup(node.name)
    if found is not None:
        return found
    if node.name in TYPE_NAMES:  # `type(x) == int`
        return TYPE
    allowed = ", ".join(sorted(scope.variables))
    raise scope.refuse(node.at, f"unknown variable {node.name} (conditions may use {allowed})")


def _select(node: Select, scope: _Scope) -> CelType:
    return _field_of(node.operand, infer(node.operand, scope), node.field, node.at, scope)


def _field_of(operand: Node, value: CelType, name: str, at: int, scope: _Scope) -> CelType:
    """The type of `operand.name` (also `has(operand.name)` and `operand["name"]`)."""
    quoted = scope.quote(operand)
    if value.kind == "dyn":
        return DYN
    if value.kind == "object":
        found = _field(value, name)
        if found is None:
            names = [known for known, _ in value.fields]
            close = difflib.get_close_matches(name, names, n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise scope.refuse(
                at, f"{quoted} has no field {name} ({hint}its fields are {', '.join(names)})"
            )
        return found
    if value.kind == "map":
        key, item = value.params
        if not _is(key, "string"):
            raise scope.refuse(
                at, f"{quoted} is {_a(value)}: its keys are not text, so .{name} cannot be one"
            )
        return item
    raise scope.refuse(at, f"{quoted} is {_a(value)} and has no fields, so .{name} cannot work")


def _index(node: Index, scope: _Scope) -> CelType:
    value = infer(node.operand, scope)
    key = infer(node.index, scope)
    quoted, quoted_key = scope.quote(node.operand), scope.quote(node.index)
    if value.kind == "object" and isinstance(node.index, Literal) and node.index.kind == "string":
        return _field_of(node.operand, value, str(node.index.value), node.index.at, scope)
    value = _as_map(value)
    if value.kind == "dyn":
        return DYN
    if value.kind == "list":
        if not _is(key, "int", "uint"):
            raise scope.refuse(
                node.index.start,
                f"a list is indexed by an int, but {quoted_key} is {_a(key)}",
            )
        return value.params[0]
    if value.kind == "map":
        if not _can_equal(key, value.params[0]):
            raise scope.refuse(
                node.index.start,
                f"{quoted} has {value.params[0]} keys, but {quoted_key} is {_a(key)}",
            )
        return value.params[1]
    raise scope.refuse(node.at, f"{quoted} is {_a(value)} and cannot be indexed with [...]")


def _unary(node: Unary, scope: _Scope) -> CelType:
    value = infer(node.operand, scope)
    quoted = scope.quote(node.operand)
    if node.op == "!":
        if not _is(value, "bool"):
            raise scope.refuse(
                node.at,
                f"! needs true or false, but {quoted} is {_a(value)}{_how_to_test(quoted, value)}",
            )
        return BOOL
    if not _is(value, "int", "double"):
        raise scope.refuse(node.at, f"- needs an int or a double, but {quoted} is {_a(value)}")
    return value


def _binary(node: Binary, scope: _Scope) -> CelType:
    left, right = infer(node.left, scope), infer(node.right, scope)
    return _OPERATORS[node.op](node, left, right, scope)


def _logical(node: Binary, left: CelType, right: CelType, scope: _Scope) -> CelType:
    for side, value in ((node.left, left), (node.right, right)):
        if not _is(value, "bool"):
            quoted = scope.quote(side)
            raise scope.refuse(
                node.at,
                f"{node.op} needs true or false on both sides, but {quoted} is {_a(value)}"
                f"{_how_to_test(quoted, value)}",
            )
    return BOOL


def _equality(node: Binary, left: CelType, right: CelType, scope: _Scope) -> CelType:
    if _can_equal(left, right):
        return BOOL
    if "null" in (left.kind, right.kind):
        side = node.left if right.kind == "null" else node.right
        quoted = scope.quote(side)
        # Only a field can be missing; a variable is always there.
        hint = f"; test for a missing value with has({quoted})" if isinstance(side, Select) else ""
        raise scope.refuse(
            node.at, f"{quoted} is {_a(left if side is node.left else right)}, never null{hint}"
        )
    raise scope.refuse(
        node.at,
        f"{node.op} compares values of one type, but {scope.quote(node.left)} is {_a(left)} "
        f"and {scope.quote(node.right)} is {_a(right)}"
        f"{_conversion_hint(node.left, left, node.right, right, scope)}",
    )


def _ordering(node: Binary, left: CelType, right: CelType, scope: _Scope) -> CelType:
    if _can_order(left, right):
        return BOOL
    for side, value in ((node.left, left), (node.right, right)):
        if not _is(value, *ORDERED):
            raise scope.refuse(
                node.at,
                f"{node.op} needs values with an order (numbers, text, timestamps, durations), "
                f"but {scope.quote(side)} is {_a(value)}",
            )
    raise scope.refuse(
        node.at,
        f"{node.op} compares values of one type, but {scope.quote(node.left)} is {_a(left)} "
        f"and {scope.quote(node.right)} is {_a(right)}"
        f"{_conversion_hint(node.left, left, node.right, right, scope)}",
    )


def _membership(node: Binary, left: CelType, right: CelType, scope: _Scope) -> CelType:
    container = _as_map(right)
    quoted, quoted_item = scope.quote(node.right), scope.quote(node.left)
    if container.kind == "dyn":
        return BOOL
    if container.kind not in ("list", "map"):
        hint = f"; to look inside text use {quoted}.contains(...)" if right.kind == "string" else ""
        raise scope.refuse(
            node.at, f"in needs a list or a map on its right, but {quoted} is {_a(right)}{hint}"
        )
    what = "items" if container.kind == "list" else "keys"
    if not _can_equal(left, container.params[0]):
        raise scope.refuse(
            node.at,
            f"{quoted_item} is {_a(left)}, but the {what} of {quoted} are "
            f"of type {container.params[0]}, so in can never be true"
            f"{_conversion_hint(node.left, left, None, container.params[0], scope)}",
        )
    return BOOL


# What + - * / % do; the runtime has no other overloads (no int + double, no double % double).
_ARITHMETIC: dict[tuple[str, str, str], str] = {
    **{(op, kind, kind): kind for op in "+-*/" for kind in NUMBERS},
    ("%", "int", "int"): "int",
    ("%", "uint", "uint"): "uint",
    ("+", "string", "string"): "string",
    ("+", "bytes", "bytes"): "bytes",
    ("+", "list", "list"): "list",
    ("+", "timestamp", "duration"): "timestamp",
    ("+", "duration", "duration"): "duration",
    ("-", "timestamp", "timestamp"): "duration",
    ("-", "timestamp", "duration"): "timestamp",
    ("-", "duration", "duration"): "duration",
}
_VERBS = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide", "%": "divide"}


def _arithmetic(node: Binary, left: CelType, right: CelType, scope: _Scope) -> CelType:
    results = {
        result
        for (op, a, b), result in _ARITHMETIC.items()
        if op == node.op and _is(left, a) and _is(right, b)
    }
    if not results:
        raise scope.refuse(
            node.at,
            f"{node.op} cannot {_VERBS[node.op]} {_a(left)} and {_a(right)} "
            f"({scope.quote(node.left)} {node.op} {scope.quote(node.right)})"
            f"{_conversion_hint(node.left, left, node.right, right, scope)}",
        )
    if results != {"list"}:
        return _BY_KIND[results.pop()] if len(results) == 1 else DYN
    if left.kind == right.kind == "list":
        return list_of(_join(left.params[0], right.params[0]))
    return list_of(DYN)


_OPERATORS: dict[str, Callable[[Binary, CelType, CelType, _Scope], CelType]] = {
    "&&": _logical,
    "||": _logical,
    "==": _equality,
    "!=": _equality,
    **dict.fromkeys(("<", "<=", ">", ">="), _ordering),
    "in": _membership,
    **dict.fromkeys(("+", "-", "*", "/", "%"), _arithmetic),
}


def _choice(node: Choice, scope: _Scope) -> CelType:
    test = infer(node.test, scope)
    if not _is(test, "bool"):
        quoted = scope.quote(node.test)
        raise scope.refuse(
            node.at,
            f"the test before ? must give true or false, but {quoted} is {_a(test)}"
            f"{_how_to_test(quoted, test)}",
        )
    return _join(infer(node.if_true, scope), infer(node.if_false, scope))


def _list(node: ListOf, scope: _Scope) -> CelType:
    return list_of(_join_all([infer(item, scope) for item in node.items]))


def _map(node: MapOf, scope: _Scope) -> CelType:
    keys = []
    for key_node, _ in node.entries:
        key = infer(key_node, scope)
        if not _is(key, *MAP_KEYS):
            raise scope.refuse(
                key_node.start,
                f"map keys must be int, uint, bool or string, but {scope.quote(key_node)} "
                f"is {_a(key)}",
            )
        keys.append(key)
    values = [infer(value, scope) for _, value in node.entries]
    return map_of(_join_all(keys), _join_all(values))


def _struct(node: Struct, scope: _Scope) -> CelType:
    raise scope.refuse(
        node.at,
        f"{node.type_name}{{...}} builds a message type, which conditions do not have; "
        'use a map, e.g. {"key": value}',
    )


# --- calls ---------------------------------------------------------------------------------

# Conversions the runtime implements, by the kinds of value they take. (It has no bool(),
# nor int() of a bool, timestamp or duration, though the spec lists them.)
_CONVERSIONS: dict[str, tuple[CelType, frozenset[str]]] = {
    "int": (INT, NUMBERS | {"string"}),
    "uint": (UINT, NUMBERS | {"string"}),
    "double": (DOUBLE, NUMBERS | {"string"}),
    "string": (STRING, NUMBERS | {"string", "bytes", "timestamp", "duration"}),
    "bytes": (BYTES, frozenset({"string", "bytes"})),
    "timestamp": (TIMESTAMP, frozenset({"string", "timestamp"})),
    "duration": (DURATION, frozenset({"string", "duration"})),
}
_TEXT_TESTS = frozenset({"contains", "startsWith", "endsWith", "matches"})
_SIZED = ("string", "bytes", "list", "map", "object")
_QUANTIFIERS = frozenset({"all", "exists", "exists_one"})


def _call(node: Call, scope: _Scope) -> CelType:
    name = node.function
    if name == "has":
        return _has(node, scope)
    if name in _QUANTIFIERS or name in ("map", "filter"):
        return _comprehension(node, scope)
    if name == "bool":
        raise scope.refuse(
            node.at, 'bool() is not available; compare instead, e.g. context.flag == "true"'
        )
    if name in _TEXT_TESTS:
        return _text_test(node, scope)
    if name == "size":
        return _size(node, scope)
    if name in _CONVERSIONS or name in ("type", "dyn"):
        return _conversion(node, scope)
    raise scope.refuse(node.at, f"unknown function {name}")


def _arguments(node: Call, scope: _Scope, count: int, form: str) -> list[CelType]:
    """The types of the arguments, refusing a call not written as `form`."""
    if len(node.args) != count:
        plural = "s" if count != 1 else ""
        raise scope.refuse(node.at, f"{node.function} takes {count} argument{plural}: {form}")
    return [infer(arg, scope) for arg in node.args]


def _text_test(node: Call, scope: _Scope) -> CelType:
    form = f'text.{node.function}("...")'
    if node.target is None:
        raise scope.refuse(node.at, f"{node.function} is called on text: {form}")
    target = infer(node.target, scope)
    (argument,) = _arguments(node, scope, 1, form)
    quoted = scope.quote(node.target)
    if not _is(target, "string"):
        hint = f"; convert it with string({quoted})" if target.kind in NUMBERS else ""
        raise scope.refuse(
            node.at, f"{node.function} works on text, but {quoted} is {_a(target)}{hint}"
        )
    if not _is(argument, "string"):
        raise scope.refuse(
            node.args[0].start,
            f"{node.function} takes text, but {scope.quote(node.args[0])} is {_a(argument)}",
        )
    pattern = node.args[0]
    if node.function == "matches" and isinstance(pattern, Literal):
        problem = _pattern_problem(scope.source[pattern.start : pattern.end])
        if problem:
            raise scope.refuse(pattern.start, f"matches: not a valid pattern ({problem})")
    return BOOL


def _pattern_problem(literal: str) -> str | None:
    """What is wrong with a regular expression written as the CEL string `literal`, asked of
    the runtime itself: its regex dialect (RE2-like: no look-around, no backreferences) is not
    Python's, and a bad pattern would otherwise fail on every conversation."""
    try:
        cel.evaluate(f'"".matches({literal})')
    except Exception as exc:
        found = _REGEX_ERROR.search(str(exc))
        return found.group(1) if found else str(exc).splitlines()[0]
    return None


_REGEX_ERROR = re.compile(r"^error: (.+?)\. Check function", re.M | re.S)


def _size(node: Call, scope: _Scope) -> CelType:
    if node.target is not None:
        _arguments(node, scope, 0, "x.size() or size(x)")
        subject, value = node.target, infer(node.target, scope)
    else:
        (value,) = _arguments(node, scope, 1, "size(x)")
        subject = node.args[0]
    if not _is(value, *_SIZED):
        raise scope.refuse(
            node.at,
            f"size takes text, bytes, a list or a map, but {scope.quote(subject)} is {_a(value)}",
        )
    return INT


def _conversion(node: Call, scope: _Scope) -> CelType:
    form = f"{node.function}(x)"
    if node.target is not None:
        raise scope.refuse(node.at, f"{node.function} is not called on a value: write {form}")
    (value,) = _arguments(node, scope, 1, form)
    if node.function == "type":
        return TYPE
    if node.function == "dyn":
        return DYN
    result, accepted = _CONVERSIONS[node.function]
    if not _is(value, *accepted):
        kinds = ", ".join(sorted(accepted))
        raise scope.refuse(
            node.at,
            f"{node.function}() takes one of {kinds}, "
            f"but {scope.quote(node.args[0])} is {_a(value)}",
        )
    return result


def _has(node: Call, scope: _Scope) -> CelType:
    """`has(x.f)`: whether map `x` holds key `f` (or object `x` has field `f` set)."""
    if node.target is not None or len(node.args) != 1 or not isinstance(node.args[0], Select):
        raise scope.refuse(node.at, "has takes one field: has(x.field)")
    selected = node.args[0]
    value = infer(selected.operand, scope)
    if not _is(value, "map", "object"):
        raise scope.refuse(
            selected.at,
            f"has() tests a key of a map, but {scope.quote(selected.operand)} is {_a(value)}",
        )
    _field_of(selected.operand, value, selected.field, selected.at, scope)
    return BOOL


def _comprehension(node: Call, scope: _Scope) -> CelType:
    """`xs.all(x, test)`, `exists`, `exists_one`, `filter(x, test)`, `map(x, value)` and
    `map(x, test, value)`: the macros that run an expression over a list or a map's keys."""
    name = node.function
    counts = (2, 3) if name == "map" else (2,)
    form = f"xs.{name}(x, {'value' if name == 'map' else 'test'})"
    variable = node.args[0] if node.args else None
    if (
        node.target is None
        or len(node.args) not in counts
        or not isinstance(variable, Name)
        or variable.name.startswith(".")
    ):
        raise scope.refuse(node.at, f"{name} is written {form}")
    source = infer(node.target, scope)
    if not _is(source, "list", "map", "object"):
        raise scope.refuse(
            node.at,
            f"{name} runs over a list or a map, but {scope.quote(node.target)} is {_a(source)}",
        )
    inner = scope.bind(variable.name, _element(source))
    tests = node.args[1:] if name != "map" else node.args[1:-1]
    for test in tests:
        result = infer(test, inner)
        if not _is(result, "bool"):
            quoted = scope.quote(test)
            raise scope.refuse(
                test.start,
                f"the test of {name} must give true or false, but {quoted} is {_a(result)}"
                f"{_how_to_test(quoted, result)}",
            )
    if name == "map":
        return list_of(infer(node.args[-1], inner))
    if name == "filter":
        return list_of(_element(source))
    return BOOL


_RULES: dict[type, Callable[..., CelType]] = {
    Literal: _literal,
    Name: _name,
    Select: _select,
    Index: _index,
    Unary: _unary,
    Binary: _binary,
    Choice: _choice,
    ListOf: _list,
    MapOf: _map,
    Struct: _struct,
    Call: _call,
}
