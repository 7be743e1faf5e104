"""Evaluates the Terraform expressions of `terraform/*.tf` (as python-hcl2 gives them) on one machine.

python-hcl2 parses the files into Python values with every expression kept as `${...}` text. This
module evaluates that text: templates and interpolation (`$${` escapes), references with attribute
and index traversal, arithmetic, comparison and logic, conditionals, tuples and objects, `for`
expressions over lists and maps, and the built-in functions the stack uses. References are resolved
by a `Scope` (variables, locals, resources, `each`, iterators), so a value is computed only when
someone asks for it. Anything else raises `HclError` naming the expression.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any


class HclError(ValueError):
    """An expression this evaluator cannot compute."""


class Scope:
    """Resolves the root names of references; `child` adds names (for-loop and `each` variables)."""

    def __init__(self, names: Mapping[str, Any], parent: Scope | None = None) -> None:
        self._names = dict(names)
        self._parent = parent

    def lookup(self, name: str) -> Any:
        """The value of a root name."""
        if name in self._names:
            return self._names[name]
        if self._parent is not None:
            return self._parent.lookup(name)
        raise HclError(f"unknown name {name!r}")

    def child(self, **names: Any) -> Scope:
        """A scope with more names."""
        return Scope(names, self)


def evaluate(value: Any, scope: Scope) -> Any:
    """A python-hcl2 value with every `${...}` expression in it computed (recursively)."""
    if isinstance(value, str):
        return evaluate_template(value, scope)
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if isinstance(value, dict):
        return {key: evaluate(item, scope) for key, item in value.items()}
    return value


def evaluate_template(text: str, scope: Scope) -> Any:
    """A template: the value itself when it is one interpolation, else the joined string."""
    parts = list(_template_parts(text))
    if len(parts) == 1 and isinstance(parts[0], _Interpolation):
        return evaluate_expression(parts[0].source, scope)
    out = []
    for part in parts:
        if isinstance(part, _Interpolation):
            out.append(_to_string(evaluate_expression(part.source, scope)))
        else:
            out.append(part)
    return "".join(out)


def evaluate_expression(source: str, scope: Scope) -> Any:
    """One expression (the text inside `${...}`)."""
    try:
        parser = _Parser(_tokens(source))
        node = parser.expression()
        parser.expect_end()
    except HclError as exc:
        raise HclError(f"{exc} in {source!r}") from None
    return _eval(node, scope)


@dataclass(frozen=True)
class _Interpolation:
    source: str


def _template_parts(text: str) -> Iterator[str | _Interpolation]:
    literal: list[str] = []
    i = 0
    while i < len(text):
        if text.startswith("$${", i):
            literal.append("${")
            i += 3
        elif text.startswith("${", i):
            if literal:
                yield "".join(literal)
                literal = []
            end = _closing_brace(text, i + 2)
            yield _Interpolation(text[i + 2 : end])
            i = end + 1
        else:
            literal.append(text[i])
            i += 1
    if literal or not text:
        yield "".join(literal)


def _closing_brace(text: str, start: int) -> int:
    """The index of the `}` closing an interpolation opened before `start` (strings may nest)."""
    depth, i, quoted = 1, start, False
    while i < len(text):
        char = text[i]
        if quoted:
            if char == "\\":
                i += 1
            elif char == '"':
                quoted = False
            elif text.startswith("${", i):
                i = _closing_brace(text, i + 2)
        elif char == '"':
            quoted = True
        elif char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise HclError(f"unclosed interpolation in {text!r}")


# ---- tokens ----------------------------------------------------------------------------------

_PUNCTUATION = ("=>", "==", "!=", "<=", ">=", "&&", "||", "...", *"()[]{},.:?<>!+-*/%=")
_NUMBER = re.compile(r"\d+(\.\d+)?([eE][+-]?\d+)?")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")


@dataclass(frozen=True)
class _Token:
    kind: str  # "num", "str", "ident", "op", "end"
    text: str


def _tokens(source: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char == '"':
            end = _string_end(source, i + 1)
            tokens.append(_Token("str", source[i + 1 : end]))
            i = end + 1
        elif number := _NUMBER.match(source, i):
            tokens.append(_Token("num", number.group()))
            i = number.end()
        elif ident := _IDENT.match(source, i):
            tokens.append(_Token("ident", ident.group()))
            i = ident.end()
        else:
            op = next((p for p in _PUNCTUATION if source.startswith(p, i)), None)
            if op is None:
                raise HclError(f"unexpected {char!r}")
            tokens.append(_Token("op", op))
            i += len(op)
    tokens.append(_Token("end", ""))
    return tokens


def _string_end(source: str, start: int) -> int:
    i = start
    while i < len(source):
        if source[i] == "\\":
            i += 2
        elif source.startswith("${", i):
            i = _closing_brace(source, i + 2) + 1
        elif source[i] == '"':
            return i
        else:
            i += 1
    raise HclError("unclosed string")


# ---- parser: nodes are tuples (kind, ...) ------------------------------------------------------

_BINARY = [("||",), ("&&",), ("==", "!="), ("<", ">", "<=", ">="), ("+", "-"), ("*", "/", "%")]


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self._tokens = tokens
        self._at = 0

    def _peek(self, offset: int = 0) -> _Token:
        return self._tokens[min(self._at + offset, len(self._tokens) - 1)]

    def _take(self) -> _Token:
        token = self._peek()
        self._at += 1
        return token

    def _is(self, text: str, offset: int = 0) -> bool:
        token = self._peek(offset)
        return token.kind in ("op", "ident") and token.text == text

    def _expect(self, text: str) -> None:
        if not self._is(text):
            raise HclError(f"expected {text!r}, found {self._peek().text!r}")
        self._at += 1

    def expect_end(self) -> None:
        if self._peek().kind != "end":
            raise HclError(f"unexpected {self._peek().text!r}")

    def expression(self) -> tuple[Any, ...]:
        condition = self._binary(0)
        if self._is("?"):
            self._take()
            yes = self.expression()
            self._expect(":")
            return ("cond", condition, yes, self.expression())
        return condition

    def _binary(self, level: int) -> tuple[Any, ...]:
        if level == len(_BINARY):
            return self._unary()
        left = self._binary(level + 1)
        while self._peek().kind == "op" and self._peek().text in _BINARY[level]:
            op = self._take().text
            left = ("bin", op, left, self._binary(level + 1))
        return left

    def _unary(self) -> tuple[Any, ...]:
        if self._is("!") or self._is("-"):
            op = self._take().text
            return ("neg" if op == "-" else "not", self._unary())
        return self._postfix(self._primary())

    def _postfix(self, node: tuple[Any, ...]) -> tuple[Any, ...]:
        while True:
            if self._is("."):
                self._take()
                token = self._take()
                node = ("index", node, ("lit", int(token.text) if token.kind == "num" else token.text))
            elif self._is("["):
                self._take()
                index = self.expression()
                self._expect("]")
                node = ("index", node, index)
            else:
                return node

    def _primary(self) -> tuple[Any, ...]:  # noqa: PLR0911 - one case per token kind
        token = self._take()
        if token.kind == "num":
            return ("lit", float(token.text) if "." in token.text or "e" in token.text.lower() else int(token.text))
        if token.kind == "str":
            return ("template", token.text)
        if token.kind == "ident":
            if token.text in ("true", "false"):
                return ("lit", token.text == "true")
            if token.text == "null":
                return ("lit", None)
            if self._is("("):
                return self._call(token.text)
            return ("ref", token.text)
        if token.text == "(":
            inner = self.expression()
            self._expect(")")
            return inner
        if token.text == "[":
            return self._tuple()
        if token.text == "{":
            return self._object()
        raise HclError(f"unexpected {token.text!r}")

    def _call(self, name: str) -> tuple[Any, ...]:
        self._expect("(")
        args = []
        while not self._is(")"):
            args.append(self.expression())
            if not self._is(")"):
                self._expect(",")
        self._take()
        return ("call", name, args)

    def _tuple(self) -> tuple[Any, ...]:
        if self._is("for"):
            return self._for(closing="]")
        items = []
        while not self._is("]"):
            items.append(self.expression())
            if not self._is("]"):
                self._expect(",")
        self._take()
        return ("tuple", items)

    def _object(self) -> tuple[Any, ...]:
        if self._is("for"):
            return self._for(closing="}")
        entries = []
        while not self._is("}"):
            token = self._peek()
            if token.kind == "ident" and (self._is("=", 1) or self._is(":", 1)):
                self._take()
                key: tuple[Any, ...] = ("lit", token.text)
            else:
                key = self.expression()
            if not (self._is("=") or self._is(":")):
                raise HclError(f"expected '=' in an object, found {self._peek().text!r}")
            self._take()
            entries.append((key, self.expression()))
            if self._is(","):
                self._take()
        self._take()
        return ("object", entries)

    def _for(self, closing: str) -> tuple[Any, ...]:
        self._expect("for")
        names = [self._take().text]
        if self._is(","):
            self._take()
            names.append(self._take().text)
        self._expect("in")
        collection = self.expression()
        self._expect(":")
        key = self.expression() if closing == "}" else None
        if closing == "}":
            self._expect("=>")
        value = self.expression()
        condition = None
        if self._is("if"):
            self._take()
            condition = self.expression()
        self._expect(closing)
        return ("for", names, collection, key, value, condition)


# ---- evaluation --------------------------------------------------------------------------------


def _eval(node: tuple[Any, ...], scope: Scope) -> Any:  # noqa: C901, PLR0911 - one case per node kind
    kind = node[0]
    if kind == "lit":
        return node[1]
    if kind == "template":
        return evaluate_template(_unescape(node[1]), scope)
    if kind == "ref":
        return scope.lookup(node[1])
    if kind == "index":
        return _index(_eval(node[1], scope), _eval(node[2], scope))
    if kind == "call":
        return _call(node[1], [_eval(arg, scope) for arg in node[2]])
    if kind == "tuple":
        return [_eval(item, scope) for item in node[1]]
    if kind == "object":
        return {_to_string(_eval(key, scope)): _eval(value, scope) for key, value in node[1]}
    if kind == "cond":
        return _eval(node[2] if _eval(node[1], scope) else node[3], scope)
    if kind == "not":
        return not _eval(node[1], scope)
    if kind == "neg":
        return -_eval(node[1], scope)
    if kind == "bin":
        return _binary(node[1], _eval(node[2], scope), lambda: _eval(node[3], scope))
    if kind == "for":
        return _for(node, scope)
    raise HclError(f"cannot evaluate {kind}")


def _unescape(text: str) -> str:
    return re.sub(r'\\(["\\nt])', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), text)


def _index(value: Any, key: Any) -> Any:
    try:
        if isinstance(value, list) and isinstance(key, (int, float)):
            return value[int(key)]
        return value[key]
    except (KeyError, IndexError, TypeError):
        raise HclError(f"no {key!r} in {type(value).__name__}") from None


def _binary(op: str, left: Any, right: Callable[[], Any]) -> Any:
    if op == "&&":
        return bool(left) and bool(right())
    if op == "||":
        return bool(left) or bool(right())
    other = right()
    operations: dict[str, Callable[[Any, Any], Any]] = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "<": lambda a, b: a < b,
        ">": lambda a, b: a > b,
        "<=": lambda a, b: a <= b,
        ">=": lambda a, b: a >= b,
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: a / b,
        "%": lambda a, b: a % b,
    }
    return operations[op](left, other)


def _for(node: tuple[Any, ...], scope: Scope) -> Any:
    _, names, collection_node, key_node, value_node, condition = node
    collection = _eval(collection_node, scope)
    pairs = list(collection.items()) if isinstance(collection, Mapping) else list(enumerate(collection))
    as_object = key_node is not None
    out_map: dict[str, Any] = {}
    out_list: list[Any] = []
    for key, value in pairs:
        names_here = {names[0]: value} if len(names) == 1 else {names[0]: key, names[1]: value}
        inner = scope.child(**names_here)
        if condition is not None and not _eval(condition, inner):
            continue
        if as_object:
            out_map[_to_string(_eval(key_node, inner))] = _eval(value_node, inner)
        else:
            out_list.append(_eval(value_node, inner))
    return out_map if as_object else out_list


def _to_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (str, int, float)):
        return str(value)
    raise HclError(f"cannot use a {type(value).__name__} as a string")


def _json(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json(v) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _coalesce(*values: Any) -> Any:
    for value in values:
        if value is not None and value != "":
            return value
    raise HclError("coalesce: no non-null argument")


def _merge(*maps: Mapping[str, Any]) -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for mapping in maps:
        merged.update(mapping)
    return merged


_FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tostring": _to_string,
    "tonumber": lambda v: v if isinstance(v, (int, float)) else float(v) if "." in v else int(v),
    "jsonencode": lambda v: json.dumps(_json(v), separators=(",", ":")),
    "jsondecode": json.loads,
    "merge": _merge,
    "coalesce": _coalesce,
    "ceil": math.ceil,
    "floor": math.floor,
    "max": max,
    "min": min,
    "lookup": lambda m, k, default=None: m.get(k, default),
    "concat": lambda *lists: [item for items in lists for item in items],
    "keys": sorted,
    "values": lambda m: [m[k] for k in sorted(m)],
    "length": len,
    "contains": lambda items, v: v in items,
    "startswith": lambda s, p: s.startswith(p),
    "endswith": lambda s, p: s.endswith(p),
    "replace": lambda s, old, new: s.replace(old, new),
    "join": lambda sep, items: sep.join(_to_string(i) for i in items),
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "tolist": list,
    "toset": lambda items: sorted(set(items)),
    "format": lambda spec, *args: re.sub(r"%[sdv]", "{}", spec).format(*args),
}


def _call(name: str, args: list[Any]) -> Any:
    function = _FUNCTIONS.get(name)
    if function is None:
        raise HclError(f"function {name}() is not supported here")
    return function(*args)


def optional_defaults(type_text: str) -> dict[str, Any]:
    """The defaults of `optional(type, default)` attributes in a variable's `object({...})` type."""
    return {
        match.group(1): json.loads(match.group(2))
        for match in re.finditer(r"(\w+)\s*=\s*optional\(\s*\w+\s*,\s*([^()]+?)\s*\)", type_text)
    }
