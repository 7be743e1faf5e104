"""The root module of `terraform/` as values: variables (defaults, optional attributes), locals and
resources, each computed when first asked for (`awslocal.hcl` evaluates the expressions).

A resource is a `Resource` (one instance, or a map of instances for `for_each`): its arguments and
nested blocks (`dynamic` blocks expanded) evaluate lazily, and its computed attributes (`arn`, `id`,
`url`, ...) come from a `Provider` that creates the real thing (in moto) the first time one is read,
so a reference such as `aws_sqs_queue.release_dlq.arn` creates the DLQ before the queue that names it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, Protocol

import hcl2
from hcl2 import SerializationOptions

from awslocal.hcl import HclError, Scope, evaluate, optional_defaults

ROOT = Path(__file__).resolve().parents[1]
TF_DIR = ROOT / "terraform"
_OPTIONS = SerializationOptions(strip_string_quotes=True, explicit_blocks=False, with_comments=False)
_META = frozenset({"count", "for_each", "depends_on", "lifecycle", "provider", "dynamic"})


class Provider(Protocol):
    """Computes (and creates) what a resource has beyond its arguments."""

    def computed(self, kind: str, name: str, args: Block) -> dict[str, Any]:
        """The computed attributes of one resource instance (creating it where that is needed)."""
        ...


class Lazy(Mapping[str, Any]):
    """A mapping whose values are computed on first access (`load(key)`), once."""

    def __init__(self, keys: list[str], load: Callable[[str], Any]) -> None:
        self._keys = keys
        self._load = load
        self._values: dict[str, Any] = {}
        self._loading: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        if key not in self._values:
            if key not in self._keys:
                raise KeyError(key)
            if key in self._loading:
                raise HclError(f"{key} refers to itself")
            self._loading.add(key)
            try:
                self._values[key] = self._load(key)
            finally:
                self._loading.discard(key)
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


class Block(Mapping[str, Any]):
    """A resource body or nested block: arguments evaluate on access, nested blocks are lists of `Block`."""

    def __init__(self, body: Mapping[str, Any], scope: Scope) -> None:
        self._body = body
        self._scope = scope
        names = [k for k in body if k not in _META]
        for dynamic in body.get("dynamic", []):
            names.extend(k for k in dynamic if k not in names)
        self._lazy = Lazy(names, self._load)

    def _load(self, key: str) -> Any:
        dynamic = [d[key] for d in self._body.get("dynamic", []) if key in d]
        if dynamic:
            return [*self._nested(key), *(b for spec in dynamic for b in self._expand(key, spec))]
        return self._nested(key) if _is_blocks(self._body[key]) else evaluate(self._body[key], self._scope)

    def _nested(self, key: str) -> list[Block]:
        value = self._body.get(key, [])
        return [Block(item, self._scope) for item in (value if isinstance(value, list) else [value])]

    def _expand(self, label: str, spec: Mapping[str, Any]) -> Iterator[Block]:
        items = evaluate(spec["for_each"], self._scope)
        pairs = items.items() if isinstance(items, Mapping) else enumerate(items)
        iterator = str(evaluate(spec.get("iterator", label), self._scope))
        for key, value in pairs:
            inner = self._scope.child(**{iterator: {"key": key, "value": value}})
            for content in spec.get("content", []):
                yield Block(content, inner)

    def __getitem__(self, key: str) -> Any:
        return self._lazy[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._lazy)

    def __len__(self) -> int:
        return len(self._lazy)

    def get_one(self, key: str) -> Block | None:
        """The single nested block `key`, or None."""
        found = self.get(key) or []
        return found[0] if found else None


def _is_blocks(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


class Resource(Mapping[str, Any]):
    """One resource instance: its arguments, then its computed attributes."""

    def __init__(self, kind: str, name: str, args: Block, provider: Provider) -> None:
        self.kind = kind
        self.name = name
        self.args = args
        self._provider = provider
        self._computed: dict[str, Any] | None = None

    def computed(self) -> dict[str, Any]:
        """The computed attributes (the resource is created on the first call)."""
        if self._computed is None:
            self._computed = self._provider.computed(self.kind, self.name, self.args)
        return self._computed

    def __getitem__(self, key: str) -> Any:
        if key in self.args:
            return self.args[key]
        return self.computed()[key]

    def __iter__(self) -> Iterator[str]:
        return iter({*self.args, *self.computed()})

    def __len__(self) -> int:
        return len({*self.args, *self.computed()})


class Module:
    """The root module, evaluated with `variables` overriding the defaults."""

    def __init__(
        self, provider: Provider, facts: Mapping[str, Any], variables: Mapping[str, Any] | None = None
    ) -> None:
        self._provider = provider
        self._facts = facts
        self.files = {path.name: _parse(path) for path in sorted(TF_DIR.glob("*.tf"))}
        self._variables = self._variable_values(variables or {})
        self._locals = {k: v for f in self.files.values() for b in f.get("locals", []) for k, v in b.items()}
        self._bodies: dict[str, dict[str, dict[str, Any]]] = {}
        for parsed in self.files.values():
            for block in parsed.get("resource", []):
                for kind, by_name in block.items():
                    self._bodies.setdefault(kind, {}).update(by_name)
        self.scope = Scope(self._roots())
        self.locals = Lazy(list(self._locals), lambda key: evaluate(self._locals[key], self.scope))
        self.variables = self._variables

    def _roots(self) -> dict[str, Any]:
        roots: dict[str, Any] = {kind: self._resources_of(kind) for kind in self._bodies}
        data_sources: dict[str, Any] = {
            "aws_caller_identity": {"current": {"account_id": self._facts["account_id"]}},
            "aws_partition": {"current": {"partition": self._facts["partition"]}},
            "aws_region": {"current": {"region": self._facts["region"], "name": self._facts["region"]}},
        }
        roots.update(var=self._variables, data=data_sources, path={"module": str(TF_DIR)})
        roots["local"] = Lazy(list(self._locals), lambda key: self.locals[key])
        return roots

    def _resources_of(self, kind: str) -> Lazy:
        return Lazy(list(self._bodies[kind]), lambda name: self._instance(kind, name))

    def _instance(self, kind: str, name: str) -> Any:
        body = self._bodies[kind][name]
        if "count" in body:
            raise HclError(f"{kind}.{name}: count is not supported (use for_each)")
        if "for_each" not in body:
            return Resource(kind, name, Block(body, self.scope), self._provider)
        items = evaluate(body["for_each"], self.scope)
        pairs = items.items() if isinstance(items, Mapping) else ((item, item) for item in items)
        return {
            str(key): Resource(
                kind, f"{name}[{key}]", Block(body, self.scope.child(each={"key": key, "value": value})), self._provider
            )
            for key, value in pairs
        }

    def resources(self, kind: str) -> dict[str, Resource]:
        """Every instance of a resource type, by `name` or `name[key]`."""
        found: dict[str, Resource] = {}
        for name in self._bodies.get(kind, {}):
            instance = self.scope.lookup(kind)[name]
            if isinstance(instance, Resource):
                found[name] = instance
            else:
                found.update({item.name: item for item in instance.values()})
        return found

    def resource(self, kind: str, name: str) -> Resource:
        """One resource instance."""
        return self.resources(kind)[name]

    def _variable_values(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for parsed in self.files.values():
            for block in parsed.get("variable", []):
                for name, spec in block.items():
                    value = overrides.get(name, spec.get("default"))
                    values[name] = _with_optional(str(spec.get("type", "")), value)
        return values


def _with_optional(type_text: str, value: Any) -> Any:
    """Fill in a variable's `optional(...)` attributes (their default, or null) as Terraform does."""
    attributes = {m.group(1): None for m in re.finditer(r"(\w+)\s*=\s*optional\(", type_text)}
    if not attributes:
        return value
    attributes.update(optional_defaults(type_text))
    if type_text.startswith("${map(object(") and isinstance(value, Mapping):
        return {key: {**attributes, **item} for key, item in value.items()}
    if type_text.startswith("${object(") and isinstance(value, Mapping):
        return {**attributes, **value}
    return value


def _parse(path: Path) -> dict[str, Any]:
    with path.open() as handle:
        return dict(hcl2.load(handle, serialization_options=_OPTIONS))


def parse_tfvars(path: Path) -> dict[str, Any]:
    """A `.tfvars` file's values (literals only)."""
    return _parse(path)
