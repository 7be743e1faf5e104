"""What `terraform validate` would catch first, without the binary: every reference names something the
module declares, and the dependency graph (resources, data sources, locals, as Terraform builds it:
one node per block, whatever its `for_each`) has no cycle."""

from __future__ import annotations

import json
import re
from typing import Any

from tests.terraform.hcl import stack

ESCAPED = re.compile(r"\$\$\{[^}]*\}")  # `$${...}` is literal text, not a reference
DATA_REF = re.compile(r"(?<![\w.])data\.([a-z0-9_]+)\.([a-z0-9_]+)")
RESOURCE_REF = re.compile(r"(?<![\w.\-/:])(aws_[a-z0-9_]+)\.([a-z0-9_]+)")
LOCAL_REF = re.compile(r"(?<![\w.])local\.([a-z0-9_]+)")
VAR_REF = re.compile(r"(?<![\w.])var\.([a-z0-9_]+)")


def references(value: Any) -> set[str]:
    text = ESCAPED.sub("", json.dumps(value))
    found = {f"data.{kind}.{name}" for kind, name in DATA_REF.findall(text)}
    text = DATA_REF.sub("", text)
    found |= {f"{kind}.{name}" for kind, name in RESOURCE_REF.findall(text)}
    found |= {f"local.{name}" for name in LOCAL_REF.findall(text)}
    found |= {f"var.{name}" for name in VAR_REF.findall(text)}
    return found


def nodes() -> dict[str, set[str]]:
    """Every block -> the blocks it refers to."""
    s = stack()
    graph: dict[str, set[str]] = {}
    for kind, by_name in s.resources.items():
        for name, block in by_name.items():
            graph[f"{kind}.{name}"] = references(block)
    for kind, by_name in s.data.items():
        for name, block in by_name.items():
            graph[f"data.{kind}.{name}"] = references(block)
    for name, value in s.locals.items():
        graph[f"local.{name}"] = references(value)
    for name in s.variables:
        graph[f"var.{name}"] = set()
    return graph


def test_every_reference_is_declared() -> None:
    graph = nodes()
    unresolved = {f"{node} -> {ref}" for node, refs in graph.items() for ref in refs if ref not in graph}
    for name, output in stack().outputs.items():
        unresolved |= {f"output.{name} -> {ref}" for ref in references(output) if ref not in graph}
    assert not unresolved, sorted(unresolved)


def test_the_dependency_graph_has_no_cycle() -> None:
    graph = nodes()
    state: dict[str, int] = {}  # 1 visiting, 2 done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for ref in sorted(graph.get(node, ())):
            if ref == node:
                continue
            if state.get(ref) == 1:
                cycle = [*path[path.index(ref) :], ref]
                raise AssertionError("dependency cycle: " + " -> ".join(cycle))
            if ref not in state:
                visit(ref)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)


def test_the_api_body_does_not_depend_on_the_functions_it_invokes() -> None:
    """The cycle this module breaks on purpose: the body uses ARNs built from names."""
    body = stack().locals["chalice_openapi"]
    assert not {ref for ref in references(body) if ref.startswith("aws_lambda_function.")}
