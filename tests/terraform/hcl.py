"""The Terraform of `terraform/`, read with python-hcl2 (there is no terraform binary here).

`stack()` parses every `.tf` file into one `Stack`: blocks by type and name, with string literals
unquoted and expressions kept as `${...}` text. Helpers resolve the few expression shapes the
contract tests need: `merge(local.x, {K = v, ...})` maps and `local.x` references.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import hcl2
from hcl2 import SerializationOptions

ROOT = Path(__file__).resolve().parents[2]
TF_DIR = ROOT / "terraform"
OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)


def parse(path: Path) -> dict[str, Any]:
    """One `.tf` or `.tfvars` file as python-hcl2 reads it."""
    with path.open() as handle:
        return dict(hcl2.load(handle, serialization_options=OPTIONS))


def tf_files() -> list[Path]:
    """Every `.tf` file of the root module."""
    return sorted(TF_DIR.glob("*.tf"))


@dataclass(frozen=True)
class Stack:
    """The root module: `resources[type][name]`, `data[type][name]`, `locals`, `variables`, `outputs`."""

    resources: dict[str, dict[str, dict[str, Any]]]
    data: dict[str, dict[str, dict[str, Any]]]
    locals: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    outputs: dict[str, dict[str, Any]]
    files: dict[str, dict[str, Any]]

    def resource(self, kind: str, name: str) -> dict[str, Any]:
        """One resource block."""
        return self.resources[kind][name]

    def of_kind(self, kind: str) -> dict[str, dict[str, Any]]:
        """Every resource of a type, by name."""
        return self.resources.get(kind, {})


@functools.cache
def stack() -> Stack:
    """The parsed root module (cached: the files do not change during a test run)."""
    resources: dict[str, dict[str, dict[str, Any]]] = {}
    data: dict[str, dict[str, dict[str, Any]]] = {}
    local_values: dict[str, Any] = {}
    variables: dict[str, dict[str, Any]] = {}
    outputs: dict[str, dict[str, Any]] = {}
    files: dict[str, dict[str, Any]] = {}
    for path in tf_files():
        parsed = parse(path)
        files[path.name] = parsed
        for kind, by_name in _labelled(parsed.get("resource", [])):
            resources.setdefault(kind, {}).update(by_name)
        for kind, by_name in _labelled(parsed.get("data", [])):
            data.setdefault(kind, {}).update(by_name)
        for block in parsed.get("locals", []):
            local_values.update(block)
        for block in parsed.get("variable", []):
            variables.update(block)
        for block in parsed.get("output", []):
            outputs.update(block)
    return Stack(resources, data, local_values, variables, outputs, files)


def _labelled(blocks: list[dict[str, Any]]) -> Iterator[tuple[str, dict[str, dict[str, Any]]]]:
    for block in blocks:
        yield from block.items()


def one(block: dict[str, Any], name: str) -> dict[str, Any]:
    """The single nested block `name` (python-hcl2 gives nested blocks as lists)."""
    value = block[name]
    if isinstance(value, list):
        assert len(value) == 1, f"expected one {name} block, found {len(value)}"
        return dict(value[0])
    return dict(value)


def blocks(block: dict[str, Any], name: str) -> list[dict[str, Any]]:
    """Every nested block `name` (none: an empty list)."""
    value = block.get(name, [])
    return [dict(v) for v in (value if isinstance(value, list) else [value])]


def unwrap(expression: Any) -> str:
    """The text of an expression without its `${...}` wrapper."""
    text = str(expression)
    return text[2:-1] if text.startswith("${") and text.endswith("}") else text


def split_top_level(text: str, separator: str = ",") -> list[str]:
    """Split at separators outside brackets, braces, parentheses and strings."""
    parts, depth, start, quoted = [], 0, 0, False
    for i, char in enumerate(text):
        if char == '"' and (i == 0 or text[i - 1] != "\\"):
            quoted = not quoted
        elif not quoted and char in "([{":
            depth += 1
        elif not quoted and char in ")]}":
            depth -= 1
        elif not quoted and depth == 0 and char == separator:
            parts.append(text[start:i].strip())
            start = i + 1
    tail = text[start:].strip()
    if tail:
        parts.append(tail)
    return parts


def object_entries(text: str) -> dict[str, str]:
    """`{K = v, L = w}` (HCL object text) as key -> expression text."""
    body = text.strip()
    assert body.startswith("{") and body.endswith("}"), body
    entries = {}
    for part in split_top_level(body[1:-1]):
        key, _, value = part.partition("=")
        entries[key.strip().strip('"')] = value.strip()
    return entries


def env_map(expression: Any, local_values: dict[str, Any]) -> dict[str, str]:
    """A function's `environment.variables` as name -> expression: a map literal, `local.x`, or
    `merge(...)` of those."""
    if isinstance(expression, dict):
        return {k: str(v) for k, v in expression.items()}
    text = unwrap(expression).strip()
    if text.startswith("local."):
        return env_map(local_values[text.removeprefix("local.")], local_values)
    match = re.fullmatch(r"merge\((.*)\)", text, flags=re.DOTALL)
    if match:
        merged: dict[str, str] = {}
        for part in split_top_level(match.group(1)):
            merged.update(env_map("${" + part + "}" if not part.startswith("{") else part, local_values))
        return merged
    if text.startswith("{"):
        return object_entries(text)
    raise AssertionError(f"cannot read an environment map from {expression!r}")
