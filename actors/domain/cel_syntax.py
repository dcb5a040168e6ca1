"""Reads a CEL expression into a syntax tree with positions, so that it can be type-checked.

The `cel` package compiles and runs expressions but shows neither its syntax tree nor a type
checker, so conditions are read a second time here. This reader only ever sees text that
`cel.compile` has already accepted: syntax errors are explained by the library, with its
positions. Anything this reader does not recognise raises `Unreadable`, and the caller then
skips type-checking rather than refusing a condition the library would run.

Every node keeps three offsets into the source: where it starts and ends (to quote it in an
error) and `at`, the character an error about it points to (an operator, a function or field
name), as cel-go does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class Unreadable(ValueError):
    """Text this reader does not understand (it has already been accepted by `cel`)."""


@dataclass(frozen=True, slots=True)
class Node:
    start: int
    end: int
    at: int


@dataclass(frozen=True, slots=True)
class Literal(Node):
    kind: str  # int, uint, double, string, bytes, bool, null
    value: object


@dataclass(frozen=True, slots=True)
class Name(Node):
    name: str  # ".x" for a name written with a leading dot


@dataclass(frozen=True, slots=True)
class Select(Node):
    operand: Node
    field: str


@dataclass(frozen=True, slots=True)
class Index(Node):
    operand: Node
    index: Node


@dataclass(frozen=True, slots=True)
class Call(Node):
    function: str
    target: Node | None  # `x` in `x.f(...)`; None for `f(...)`
    args: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class ListOf(Node):
    items: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class MapOf(Node):
    entries: tuple[tuple[Node, Node], ...]


@dataclass(frozen=True, slots=True)
class Struct(Node):
    """`Name{field: value}`: building a protobuf message, which our conditions cannot do."""

    type_name: str


@dataclass(frozen=True, slots=True)
class Unary(Node):
    op: str  # ! or -
    operand: Node


@dataclass(frozen=True, slots=True)
class Binary(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True, slots=True)
class Choice(Node):
    """`test ? if_true : if_false`"""

    test: Node
    if_true: Node
    if_false: Node


@dataclass(frozen=True, slots=True)
class Token:
    kind: str  # number, string, name, op, end
    text: str
    value: object
    start: int
    end: int


# Strings are matched only up to their opening quote: the body is scanned by hand because
# whether a backslash escapes the closing quote depends on the prefix (raw or not).
_TOKEN = re.compile(
    r"""
    (?P<space>\s+|//[^\n]*)
  | (?P<number>0[xX][0-9a-fA-F]+[uU]?
      |(?:\d+\.\d+|\.\d+)(?:[eE][+-]?\d+)?
      |\d+[eE][+-]?\d+
      |\d+[uU]?)
  | (?P<string>(?:[rR][bB]?|[bB][rR]?)?(?:'''|\"\"\"|'|"))
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|&&|\|\||[-+*/%!<>?:.,()\[\]{}])
    """,
    re.VERBOSE,
)

_SIMPLE_ESCAPES = {
    "a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v",
    "\\": "\\", "'": "'", '"': '"', "`": "`", "?": "?",
}  # fmt: skip
_ESCAPE = re.compile(r"\\(?:x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-3][0-7]{2}|.)", re.S)


def tokens(source: str) -> list[Token]:
    found: list[Token] = []
    offset = 0
    while offset < len(source):
        match = _TOKEN.match(source, offset)
        if not match:
            raise Unreadable(f"unexpected character {source[offset]!r} at offset {offset}")
        kind = match.lastgroup or ""
        if kind == "string":
            token = _string_token(source, offset, match.group())
        elif kind == "number":
            token = Token("number", match.group(), _number(match.group()), offset, match.end())
        elif kind != "space":
            token = Token(kind, match.group(), None, offset, match.end())
        if kind != "space":
            found.append(token)
            offset = token.end
        else:
            offset = match.end()
    found.append(Token("end", "", None, len(source), len(source)))
    return found


def _number(text: str) -> tuple[str, object]:
    """(CEL kind, value) of a number literal."""
    lowered = text.lower()
    if lowered.startswith("0x"):
        kind = "uint" if lowered.endswith("u") else "int"
        return kind, int(lowered.rstrip("u"), 16)
    if lowered.endswith("u"):
        return "uint", int(lowered[:-1])
    if "." in lowered or "e" in lowered:
        return "double", float(lowered)
    return "int", int(lowered)


def _string_token(source: str, start: int, opening: str) -> Token:
    prefix = opening.rstrip("'\"").lower()
    quote = opening[len(prefix) :]
    raw = "r" in prefix
    offset = start + len(opening)
    while True:
        if offset >= len(source) or (len(quote) == 1 and source[offset] == "\n"):
            raise Unreadable(f"unterminated string at offset {start}")
        if source.startswith(quote, offset):
            break
        offset += 2 if source[offset] == "\\" and not raw else 1
    body = source[start + len(opening) : offset]
    kind = "bytes" if "b" in prefix else "string"
    value = body if raw else _unescape(body)
    end = offset + len(quote)
    return Token("string", source[start:end], (kind, value), start, end)


def _unescape(body: str) -> str:
    """The text of a string literal. Bytes literals are decoded as text too: only their type
    matters to the checker."""

    def replace(match: re.Match) -> str:
        escape = match.group()[1:]
        if escape[0] in "xuU":
            return chr(int(escape[1:], 16))
        if escape[0].isdigit():
            return chr(int(escape, 8))
        return _SIMPLE_ESCAPES.get(escape, escape)

    return _ESCAPE.sub(replace, body)


# Binding power of the binary operators, loosest first (CEL's precedence; all left-assoc).
_BINARY = {
    "||": 1,
    "&&": 2,
    **dict.fromkeys(("==", "!=", "<", "<=", ">", ">=", "in"), 3),
    **dict.fromkeys(("+", "-"), 4),
    **dict.fromkeys(("*", "/", "%"), 5),
}
_KEYWORD_LITERALS = {"true": ("bool", True), "false": ("bool", False), "null": ("null", None)}


def parse(source: str) -> Node:
    reader = _Reader(tokens(source))
    tree = reader.expression()
    reader.expect("end")
    return tree


class _Reader:
    """A Pratt parser over the token list: one method per level of CEL's grammar."""

    def __init__(self, found: list[Token]) -> None:
        self.found = found
        self.position = 0

    @property
    def next(self) -> Token:
        return self.found[self.position]

    def take(self) -> Token:
        token = self.found[self.position]
        if token.kind != "end":  # the end stays next, so a reader that runs on fails cleanly
            self.position += 1
        return token

    def at(self, text: str) -> bool:
        token = self.next
        return token.kind in ("op", "name") and token.text == text

    def expect(self, text: str) -> Token:
        if text == "end" and self.next.kind == "end":
            return self.next
        if not self.at(text):
            raise Unreadable(f"expected {text!r} at offset {self.next.start}")
        return self.take()

    def expression(self) -> Node:
        test = self.binary(1)
        if not self.at("?"):
            return test
        mark = self.take()
        if_true = self.binary(1)
        self.expect(":")
        if_false = self.expression()
        return Choice(test.start, if_false.end, mark.start, test, if_true, if_false)

    def binary(self, loosest: int) -> Node:
        left = self.unary()
        while True:
            token = self.next
            power = _BINARY.get(token.text) if token.kind in ("op", "name") else None
            if power is None or power < loosest:
                return left
            self.take()
            right = self.binary(power + 1)
            left = Binary(left.start, right.end, token.start, token.text, left, right)

    def unary(self) -> Node:
        if self.at("!") or self.at("-"):
            token = self.take()
            operand = self.unary()
            return Unary(token.start, operand.end, token.start, token.text, operand)
        return self.member(self.primary())

    def member(self, node: Node) -> Node:
        while True:
            if self.at("."):
                self.take()
                name = self.take()
                if name.kind != "name":
                    raise Unreadable(f"expected a name at offset {name.start}")
                if self.at("("):
                    self.take()
                    args, end = self.arguments(")")
                    node = Call(node.start, end, name.start, name.text, node, args)
                else:
                    node = Select(node.start, name.end, name.start, node, name.text)
            elif self.at("["):
                mark = self.take()
                index = self.expression()
                end = self.expect("]").end
                node = Index(node.start, end, mark.start, node, index)
            elif self.at("{") and isinstance(node, Name | Select):
                node = self.struct(node)
            else:
                return node

    def primary(self) -> Node:
        token = self.take()
        if token.kind == "number":
            kind, value = token.value  # type: ignore[misc]
            return Literal(token.start, token.end, token.start, kind, value)
        if token.kind == "string":
            kind, value = token.value  # type: ignore[misc]
            return Literal(token.start, token.end, token.start, kind, value)
        if token.kind == "name":
            if token.text in _KEYWORD_LITERALS:
                kind, value = _KEYWORD_LITERALS[token.text]
                return Literal(token.start, token.end, token.start, kind, value)
            return self.name_or_call(token.start, token, token.text)
        if token.text == "." and self.next.kind == "name":
            name = self.take()
            return self.name_or_call(token.start, name, "." + name.text)
        if token.text == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token.text == "[":
            items, end = self.arguments("]")
            return ListOf(token.start, end, token.start, items)
        if token.text == "{":
            return self.map_literal(token)
        raise Unreadable(f"unexpected {token.text!r} at offset {token.start}")

    def name_or_call(self, start: int, name: Token, spelled: str) -> Node:
        """`x` or `f(...)`; `spelled` is the name with its leading dot if it had one."""
        if self.at("("):
            self.take()
            args, end = self.arguments(")")
            return Call(start, end, name.start, spelled, None, args)
        return Name(start, name.end, name.start, spelled)

    def arguments(self, closing: str) -> tuple[tuple[Node, ...], int]:
        """Comma-separated expressions up to `closing` (a trailing comma is allowed, as in
        CEL's lists), the opening bracket already taken; returns them and the offset after the
        closing bracket."""
        items: list[Node] = []
        while not self.at(closing):
            items.append(self.expression())
            if not self.at(closing):
                self.expect(",")
        return tuple(items), self.take().end

    def map_literal(self, opening: Token) -> Node:
        entries: list[tuple[Node, Node]] = []
        while not self.at("}"):
            key = self.expression()
            self.expect(":")
            entries.append((key, self.expression()))
            if not self.at("}"):
                self.expect(",")
        end = self.take().end
        return MapOf(opening.start, end, opening.start, tuple(entries))

    def struct(self, name: Node) -> Node:
        """Skips over `Name{...}`; only its name matters, to say it is not supported."""
        self.take()
        depth = 1
        while depth:
            token = self.take()
            if token.kind == "end":
                raise Unreadable("unterminated message literal")
            depth += {"{": 1, "}": -1}.get(token.text, 0) if token.kind == "op" else 0
        return Struct(name.start, token.end, name.start, _dotted(name))


def _dotted(node: Node) -> str:
    if isinstance(node, Select):
        return f"{_dotted(node.operand)}.{node.field}"
    return node.name if isinstance(node, Name) else "?"
