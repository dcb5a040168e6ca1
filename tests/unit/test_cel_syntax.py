"""The reader of CEL conditions: the tree the type checker works on, and its positions."""

from __future__ import annotations

import cel
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
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
    Unreadable,
    parse,
)


def shape(node: Node) -> str:
    """The tree fully parenthesised, to compare precedence and structure in one string."""
    if isinstance(node, Literal):
        return f"{node.kind}:{node.value!r}"
    if isinstance(node, Name):
        return node.name
    if isinstance(node, Select):
        return f"{shape(node.operand)}.{node.field}"
    if isinstance(node, Index):
        return f"{shape(node.operand)}[{shape(node.index)}]"
    if isinstance(node, Call):
        args = ", ".join(shape(arg) for arg in node.args)
        target = f"{shape(node.target)}." if node.target is not None else ""
        return f"{target}{node.function}({args})"
    if isinstance(node, ListOf):
        return "[" + ", ".join(shape(item) for item in node.items) + "]"
    if isinstance(node, MapOf):
        return "{" + ", ".join(f"{shape(k)}: {shape(v)}" for k, v in node.entries) + "}"
    if isinstance(node, Unary):
        return f"({node.op}{shape(node.operand)})"
    if isinstance(node, Binary):
        return f"({shape(node.left)} {node.op} {shape(node.right)})"
    if isinstance(node, Choice):
        return f"({shape(node.test)} ? {shape(node.if_true)} : {shape(node.if_false)})"
    assert isinstance(node, Struct)
    return f"{node.type_name}{{}}"


@pytest.mark.parametrize(
    ("source", "tree"),
    [
        ("priority", "priority"),
        ('context.language == "en"', "(context.language == string:'en')"),
        ("a || b && c", "(a || (b && c))"),
        ("a && b || c", "((a && b) || c)"),
        ("a == b && c != d", "((a == b) && (c != d))"),
        ("a + b * c - d", "((a + (b * c)) - d)"),
        ("a - b - c", "((a - b) - c)"),
        ("a < b == true", "((a < b) == bool:True)"),
        ('"x" in a && !b', "((string:'x' in a) && (!b))"),
        ("!!a", "(!(!a))"),
        ("-a.b", "(-a.b)"),
        ("1 - -1", "(int:1 - (-int:1))"),
        ("a ? b : c ? d : e", "(a ? b : (c ? d : e))"),
        ("a || b ? c : d", "((a || b) ? c : d)"),
        ("(a + b) * c", "((a + b) * c)"),
        ("a.b.c(d, e)[0].f", "a.b.c(d, e)[int:0].f"),
        ("size(a) > 1", "(size(a) > int:1)"),
        ("xs.all(x, x > 0)", "xs.all(x, (x > int:0))"),
        ("[1, 2,]", "[int:1, int:2]"),
        ('{"a": 1, "b": [],}', "{string:'a': int:1, string:'b': []}"),
        ("{}", "{}"),
        (".a.b", ".a.b"),
        ("A.B{x: {1: 2}}.c", "A.B{}.c"),
        ("f()", "f()"),
        ("a // comment\n  + b", "(a + b)"),
    ],
)
def test_structure_and_precedence(source: str, tree: str) -> None:
    cel.compile(source)  # the library reads it too: these are real CEL
    assert shape(parse(source)) == tree


@pytest.mark.parametrize(
    ("source", "kind", "value"),
    [
        ("42", "int", 42),
        ("0x1F", "int", 31),
        ("7u", "uint", 7),
        ("0x10U", "uint", 16),
        ("1.5", "double", 1.5),
        (".5", "double", 0.5),
        ("1e3", "double", 1000.0),
        ("2.5E-1", "double", 0.25),
        ('"a\\"b"', "string", 'a"b'),
        ("'\\x41\\u00e9\\101\\n'", "string", "Aé" + "A\n"),
        ('r"a\\d"', "string", "a\\d"),
        ('"""one\n"two"\n"""', "string", 'one\n"two"\n'),
        ("'''x'''", "string", "x"),
        ('b"ab"', "bytes", "ab"),
        ('RB"\\x"', "bytes", "\\x"),
        ("true", "bool", True),
        ("null", "null", None),
    ],
)
def test_literals(source: str, kind: str, value: object) -> None:
    node = parse(source)
    assert isinstance(node, Literal)
    assert (node.kind, node.value) == (kind, value)


def test_positions_point_at_operators_names_and_fields() -> None:
    source = 'context.language == "en" &&\n  size(customer.attributes) > 1'
    tree = parse(source)
    assert isinstance(tree, Binary) and source[tree.at : tree.at + 2] == "&&"
    left, right = tree.left, tree.right
    assert isinstance(left, Binary) and source[left.at : left.at + 2] == "=="
    assert isinstance(left.left, Select) and source[left.left.at :].startswith("language")
    assert isinstance(right, Binary) and isinstance(right.left, Call)
    assert source[right.left.at :].startswith("size")
    assert source[right.start : right.end] == "size(customer.attributes) > 1"
    assert (tree.start, tree.end) == (0, len(source))


@pytest.mark.parametrize("source", ["a +", "(a", "a b", "'a' 'b'", "[1, 2", "'open", "a.1", "#"])
def test_text_it_cannot_read_is_unreadable(source: str) -> None:
    with pytest.raises(Unreadable):
        parse(source)


# Random expressions: whatever the library accepts, the reader must read too (otherwise the
# type checker would be skipped for it).
ATOMS = st.sampled_from(
    ["priority", "context.language", "customer.attributes", "1", "2u", "1.5", '"en"', "true",
     "null", "[1, 2]", '{"a": 1}', "b'x'", "x", "outputs.skills"]
)  # fmt: skip


def _combine(parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    binary = st.tuples(
        parts,
        st.sampled_from(["==", "!=", "<", ">=", "+", "-", "*", "%", "&&", "||", " in "]),
        parts,
    ).map(lambda t: f"{t[0]} {t[1]} {t[2]}")
    return st.one_of(
        binary,
        parts.map(lambda p: f"({p})"),
        parts.map(lambda p: f"!{p}"),
        parts.map(lambda p: f"-{p}"),
        parts.map(lambda p: f"size({p})"),
        parts.map(lambda p: f"{p}.startsWith('a')"),
        parts.map(lambda p: f"[{p}].exists(y, y == {p})"),
        parts.map(lambda p: f"{p}[0]"),
        st.tuples(parts, parts, parts).map(lambda t: f"{t[0]} ? {t[1]} : {t[2]}"),
    )


@settings(max_examples=300, deadline=None)
@given(st.recursive(ATOMS, _combine, max_leaves=8))
def test_whatever_the_library_compiles_is_readable(source: str) -> None:
    try:
        cel.compile(source)
    except ValueError:
        assume(False)  # not CEL (e.g. `!-x`): the library explains those itself
    parse(source)
