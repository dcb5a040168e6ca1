"""Type-checking of conditions at load: what is refused (with where and why), what still
works, and that what the checker accepts really runs."""

from __future__ import annotations

import cel
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from switchboard.actors.domain.cel_types import (
    CelTypeError,
    check_condition,
    infer_type,
)
from switchboard.actors.domain.classification import Outputs
from switchboard.actors.domain.model import frozen_map
from switchboard.actors.domain.routing import (
    VARIABLE_TYPES,
    ConditionError,
    base_variables,
    compile_condition,
)

# What conditions see in these tests: every context key the valid conditions below use.
CONTEXT = {
    "language": "en",
    "product": "loan-plus",
    "region": "eu-west",
    "x": "c",
    "amount": "150",
    "t": "2020-01-01T00:00:00Z",
    "type": "PE",
    "flag": "true",
}
OUTPUTS = Outputs(
    priority=4,
    severity=1,
    skills=frozen_map({"english": 2}),
    attributes=frozen_map({"t": "g"}),
    capacity_profiles=("hot",),
)


def sample_variables() -> dict:
    variables = base_variables("voice", CONTEXT, "c1", {"tier": "gold", "vip": "yes"}, 5)
    variables["outputs"] = OUTPUTS.as_variable()
    return variables


VALID = [
    'context.language == "en"',
    "context.language != 'fr'",
    '"vip" in customer.attributes',
    "has(context.product)",
    "has(context.missing) && context.missing == 'x'",
    "!has(outputs.severity) || outputs.severity > 0",
    "has(customer.attributes.tier)",
    'context.product.startsWith("loan")',
    'context.product.endsWith("plus") && context.product.contains("-")',
    'context.region.matches("^eu-")',
    'context.region.matches(r"^[a-z]{2}-\\w+$")',
    'priority >= 5 && !(context.x in ["a", "b"])',
    "int(context.amount) > 100",
    "uint(context.amount) >= 100u",
    "double(context.amount) > 99.5",
    "string(priority) == '5'",
    "outputs.priority > 3",
    "has(outputs.priority) && outputs.priority >= 4",
    "outputs.skills.english >= 2",
    "outputs.attributes.t == 'g'",
    'customer.id == "c1"',
    'customer["id"] == "c1"',
    'context["language"] == "en"',
    'work_stream == "voice"',
    # numbers of different kinds compare by value at run time
    "priority == 5.0",
    "priority < 5.5",
    "priority > 1u",
    "priority in [1, 5.0]",
    # arithmetic within one kind
    "priority * 2 + 1 > 10",
    "priority % 2 == 1",
    "-priority < 0",
    "double(priority) / 2.0 == 2.5",
    "size(context.language) == 2",
    "context.language.size() == 2",
    "size(context) > 3",
    "size(customer) == 2",
    "customer.attributes.size() == 2",
    "size([1, 2]) == 2",
    "size(b'ab') == 2",
    # comprehensions over maps (their keys) and lists
    'context.exists(k, context[k] == "en")',
    "context.all(k, k.size() > 0)",
    'customer.attributes.exists_one(k, k == "tier")',
    "outputs.skills.all(s, outputs.skills[s] > 0)",
    "[1, 2, 3].exists(n, n > priority - 3)",
    "[1, 2].map(n, n * 2).exists(n, n == 4)",
    "[1, 2, 3].map(n, n > 1, n * 10).size() == 2",
    'context.filter(k, k.startsWith("l")).size() == 1',
    "[[1], [2]].all(l, l.exists(n, n > 0))",
    "[1].exists(priority, priority == 1)",  # a comprehension variable hides `priority`
    # conditionals, literals, types
    'context.type == "PE" ? priority > 1 : false',
    "(priority > 1) == true",
    "{'a': 1}.a == 1",
    "[1, 'a'].size() == 2",
    "type(priority) == int",
    'timestamp(context.t) < timestamp("2021-01-01T00:00:00Z")',
    'duration("1h") + duration("1m") > duration("60m")',
    'timestamp(context.t) + duration("1h") > timestamp(context.t)',
    "dyn(priority) == 5",  # dyn: anything goes
    "true",
    "priority > 1 // a comment",
    'context.language == "en" &&\n  priority > 1',
]


@pytest.mark.parametrize("source", VALID)
def test_valid_conditions_are_accepted_and_run(source: str) -> None:
    compile_condition(source)
    assert isinstance(cel.evaluate(source, sample_variables()), bool)


# (condition, what the reason says, line, column): the column is that of the operator,
# function or field the error is about.
INVALID = [
    ('priority == "high"', '== compares values of one type, but priority is an int and "high"'
     " is a string; convert one side, e.g. string(priority)", 1, 10),
    ("context.language > 3", "context.language is a string and 3 is an int; convert one side,"
     " e.g. int(context.language)", 1, 18),
    ("priority.foo", "priority is an int and has no fields, so .foo cannot work", 1, 10),
    ("customer.attributes.tier + 1", "+ cannot add a string and an int", 1, 26),
    ('outputs.skills.english == "x"', "outputs.skills.english is an int", 1, 24),
    ("size(priority)", "size takes text, bytes, a list or a map, but priority is an int", 1, 1),
    ("priority.size() > 0", "size takes text, bytes, a list or a map", 1, 10),
    ("context.x && true", "&& needs true or false on both sides, but context.x is a string;"
     ' compare it, e.g. context.x == "yes"', 1, 11),
    ("true || priority", "|| needs true or false on both sides, but priority is an int", 1, 6),
    ("priority + 1", "a condition must give true or false, but priority + 1 gives an int", 1, 1),
    ("context.language", "a condition must give true or false, but context.language gives a"
     " string", 1, 1),
    ("[1, 2].map(n, n > 1)", "gives a list(bool)", 1, 1),
    ("!priority", "! needs true or false, but priority is an int", 1, 1),
    ("-context.x == 1", "- needs an int or a double, but context.x is a string", 1, 1),
    ("-1u < 2u", "- needs an int or a double, but 1u is a uint", 1, 1),
    ("priority + 1.5 > 2", "+ cannot add an int and a double (priority + 1.5); convert one"
     " side, e.g. double(priority)", 1, 10),
    ("priority + 1u > 2", "+ cannot add an int and a uint", 1, 10),
    ("2.5 % 1.0 > 0.0", "% cannot divide a double and a double", 1, 5),
    ("context.x - 'a' == ''", "- cannot subtract a string and a string", 1, 11),
    ("[1] < [2]", "< needs values with an order", 1, 5),
    ('duration("1h") > 1', "duration(\"1h\") is a duration and 1 is an int", 1, 16),
    ("priority == null", "priority is an int, never null", 1, 10),
    ("outputs.priority != null", "outputs.priority is an int, never null; test for a missing"
     " value with has(outputs.priority)", 1, 18),
    ("priority == true", "priority is an int and true is a bool", 1, 10),
    ("[1] == ['a']", "[1] is a list(int) and ['a'] is a list(string)", 1, 5),
    ("context == {'a': 1}", "is a map(string, string) and {'a': 1} is a map(string, int)", 1, 9),
    ("priority in context", "priority is an int, but the keys of context are of type string,"
     " so in can never be true; convert one side, e.g. string(priority)", 1, 10),
    ("1 in ['a']", "the items of ['a'] are of type string", 1, 3),
    ('"a" in context.language', "in needs a list or a map on its right, but context.language is"
     " a string; to look inside text use context.language.contains(...)", 1, 5),
    ("priority in priority", "in needs a list or a map on its right", 1, 10),
    ("has(outputs.tier)", "outputs has no field tier (its fields are priority, severity,"
     " skills, attributes, capacity_profiles)", 1, 13),
    ('customer.attribute.tier == "x"', "customer has no field attribute (did you mean"
     " attributes? its fields are id, attributes)", 1, 10),
    ('customer["nope"] == "x"', "customer has no field nope", 1, 10),
    ("has(priority.x)", "has() tests a key of a map, but priority is an int", 1, 14),
    ("outputs.skills.english.x > 1", "outputs.skills.english is an int and has no fields", 1, 24),
    ("context.x[0] == 'c'", "context.x is a string and cannot be indexed", 1, 10),
    ("[1, 2]['a'] == 1", "a list is indexed by an int, but 'a' is a string", 1, 8),
    ("context[1] == 'a'", "context has string keys, but 1 is an int", 1, 9),
    ("{1.5: 'a'}.size() > 0", "map keys must be int, uint, bool or string, but 1.5 is a double",
     1, 2),
    ("context.x ? true : false", "the test before ? must give true or false, but context.x is a"
     " string", 1, 11),
    ("context.language.startsWith(1)", "startsWith takes text, but 1 is an int", 1, 29),
    ("priority.startsWith('1')", "startsWith works on text, but priority is an int; convert it"
     " with string(priority)", 1, 10),
    ("startsWith(context.language, 'e')", "startsWith is called on text", 1, 1),
    ("context.language.matches()", "matches takes 1 argument", 1, 18),
    ('context.region.matches("(eu")', "matches: not a valid pattern (unclosed group)", 1, 24),
    ('context.region.matches("(?!us)")', "not a valid pattern (look-around, including look-ahead"
     " and look-behind, is not supported)", 1, 24),
    ("int(true) > 1", "int() takes one of double, int, string, uint, but true is a bool", 1, 1),
    ("string(context) == ''", "string() takes one of", 1, 1),
    ("bytes(1) == b''", "bytes() takes one of bytes, string, but 1 is an int", 1, 1),
    ("timestamp(1) > timestamp('2020-01-01T00:00:00Z')", "timestamp() takes one of", 1, 1),
    ("bool(context.flag)", "bool() is not available", 1, 1),
    ("context.x.int() == 1", "int is not called on a value: write int(x)", 1, 11),
    ("context.all(k, k)", "the test of all must give true or false, but k is a string", 1, 16),
    ("context.all(k, v, true)", "all is written xs.all(x, test)", 1, 9),
    ("priority.exists(n, n > 1)", "exists runs over a list or a map, but priority is an int", 1,
     10),
    ("[1].map(n, n, n) == [1]", "the test of map must give true or false, but n is an int", 1,
     12),
    ("[1].exists(n, n == 'a')", "n is an int and 'a' is a string", 1, 17),
    ("Foo{a: 1} == 1", "Foo{...} builds a message type", 1, 1),
    ('tier == "gold"', "unknown variable tier (conditions may use context, customer, outputs,"
     " priority, work_stream)", 1, 1),
    ("[1].exists(n, m > 1)", "unknown variable m", 1, 15),
    (".context.x == 'a'", "unknown variable .context", 1, 2),
    ("os.system('x')", "unknown function system", 1, 4),
    ("context.x.lowerAscii() == 'a'", "unknown function lowerAscii", 1, 11),
    ('context.language == "en" &&\n  priority == "y"', "priority is an int", 2, 12),
]  # fmt: skip


@pytest.mark.parametrize(("source", "reason", "line", "column"), INVALID)
def test_conditions_whose_types_cannot_work_are_refused(
    source: str, reason: str, line: int, column: int
) -> None:
    with pytest.raises(ConditionError) as info:
        compile_condition(source)
    error = info.value
    assert reason in error.reason
    assert (error.line, error.column) == (line, column), str(error)
    assert str(error).endswith(f"at line {line}, column {column}")


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("context", "map(string, string)"),
        ("customer", "object(id, attributes)"),
        ("customer.attributes.tier", "string"),
        ("outputs.skills.english", "int"),
        ("[1, 2].map(n, n * 2)", "list(int)"),
        ("[1, 'a']", "list(dyn)"),
        ("[]", "list(dyn)"),
        ("{'a': [1]}", "map(string, list(int))"),
        ("true ? 1 : 'x'", "dyn"),
        ("true ? [1] : []", "list(dyn)"),
        ("context.filter(k, k != '')", "list(string)"),
        ("[1] + [2]", "list(int)"),
        ("[1] + ['a']", "list(dyn)"),
        ("dyn(priority) + 1", "int"),
        ("dyn(priority) + dyn(1)", "dyn"),
        ("timestamp('2020-01-01T00:00:00Z') - timestamp('2019-01-01T00:00:00Z')", "duration"),
        ("type(priority)", "type"),
        ("customer['id']", "string"),
        ("double(priority) / 2.0", "double"),
        ("b'a' + b'b'", "bytes"),
    ],
)
def test_inferred_types(source: str, expected: str) -> None:
    assert str(infer_type(source, VARIABLE_TYPES)) == expected


def test_the_declared_types_are_the_variables_conditions_see() -> None:
    """VARIABLE_TYPES must follow base_variables and Outputs.as_variable, or the checker
    would judge conditions against variables that do not exist."""
    variables = sample_variables()
    assert set(variables) == set(VARIABLE_TYPES)
    for name, value in variables.items():
        declared = VARIABLE_TYPES[name]
        if declared.kind == "object":
            assert set(value) == {field for field, _ in declared.fields}, name
        assert _fits(value, declared), (name, value, declared)


def _fits(value: object, declared) -> bool:
    kinds = {"int": int, "string": str, "bool": bool, "double": float}
    if declared.kind in kinds:
        return isinstance(value, kinds[declared.kind])
    if declared.kind == "map":
        key, item = declared.params
        return isinstance(value, dict) and all(
            _fits(k, key) and _fits(v, item) for k, v in value.items()
        )
    if declared.kind == "object":
        return isinstance(value, dict) and all(
            _fits(value[name], kind) for name, kind in declared.fields if name in value
        )
    return True


def test_a_condition_that_could_not_be_read_falls_back_to_the_name_checks(monkeypatch) -> None:
    from switchboard.actors.domain import routing
    from switchboard.actors.domain.cel_syntax import Unreadable

    def unreadable(source: str, variables: object) -> None:
        raise Unreadable("as if the reader had a gap")

    monkeypatch.setattr(routing, "check_condition", unreadable)
    assert compile_condition('priority == "high"')  # not type-checked: accepted
    with pytest.raises(ConditionError, match="unknown variable tier"):
        compile_condition('tier == "gold"')
    with pytest.raises(ConditionError, match="unknown function lowerAscii"):
        compile_condition('context.x.lowerAscii() == "a"')


def test_check_condition_gives_the_type_and_the_position() -> None:
    assert str(check_condition("priority > 1", VARIABLE_TYPES)) == "bool"
    assert str(check_condition("dyn(priority)", VARIABLE_TYPES)) == "dyn"
    with pytest.raises(CelTypeError) as info:
        check_condition("priority > 1 &&\n   size(3) > 0", VARIABLE_TYPES)
    assert (info.value.line, info.value.column) == (2, 4)


# Random conditions: whatever the checker accepts must run without a type error on the
# sample variables. Missing keys, division by zero and text that is not a number are value
# problems, not type problems. This keeps the checker from promising what the runtime does
# not do; the generator leaves out what gives values of unknown type.
ATOMS = st.sampled_from(
    ["priority", "context.language", "context.amount", "customer.attributes", "customer.id",
     "outputs.skills", "outputs.priority", "1", "2u", "1.5", '"en"', "true", "null", "[1, 2]",
     "['a']", '{"a": 1}', "b'x'", 'duration("1h")', 'timestamp("2020-01-01T00:00:00Z")']
)  # fmt: skip


def _combine(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    operators = ["==", "!=", "<", ">=", "+", "-", "*", "/", "%", "&&", "||", " in "]
    functions = ["size", "int", "uint", "double", "string", "bytes", "type", "timestamp"]
    return st.one_of(
        st.tuples(parts, st.sampled_from(operators), parts).map(
            lambda t: f"({t[0]} {t[1]} {t[2]})"
        ),
        parts.map(lambda p: f"!({p})"),
        parts.map(lambda p: f"-({p})"),
        st.tuples(st.sampled_from(functions), parts).map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(parts, st.sampled_from(["startsWith", "contains", "matches"]), parts).map(
            lambda t: f"{t[0]}.{t[1]}({t[2]})"
        ),
        parts.map(lambda p: f"({p})[0]"),
        parts.map(lambda p: f'({p})["a"]'),
        parts.map(lambda p: f"({p}).english"),
        parts.map(lambda p: f"({p}).exists(v, v == v)"),
        parts.map(lambda p: f"({p}).map(v, [v])"),
        parts.map(lambda p: f"[{p}]"),
    )  # no `?:` nor mixed lists: their type is dyn, which the checker lets through by design


# How the runtime words a value it cannot use: a missing key, a function refusing its argument
# ("Function 'int' error: ..."), arithmetic out of range.
VALUE_PROBLEMS = ("no such key", "' error:", "division by zero", "remainder by zero", "overflow",
                  "out of bounds")  # fmt: skip


@settings(max_examples=400, deadline=None)
@given(st.recursive(ATOMS, _combine, max_leaves=6))
def test_what_the_checker_accepts_runs_without_type_errors(source: str) -> None:
    try:
        cel.compile(source)
        result = infer_type(source, VARIABLE_TYPES)
    except (ValueError, CelTypeError):
        return
    try:
        value = cel.evaluate(source, sample_variables())
    except KeyError:
        return  # a missing key: a value problem
    except Exception as exc:
        assert any(problem in str(exc).lower() for problem in VALUE_PROBLEMS), (
            f"{source} was accepted as {result} but fails at run time: {exc}"
        )
        return
    if result.kind == "bool":
        assert isinstance(value, bool), (source, value)
