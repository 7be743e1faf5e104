"""The AWS provider's schema, offline, and the check of terraform/*.tf against it.

Source: the npm package `@cdktf/provider-aws` (`PACKAGE`), whose bindings are generated from the
schema of one provider release (its `package.json` `cdktf.provider.version`; `PROVIDER_VERSION`,
within terraform/versions.tf's `~> 6.0`). Its jsii assembly (`.jsii`) describes every resource and
data source class ("Represents a {@link .../docs/resources/<type> aws_<type>}") with a config struct
whose properties are the arguments and nested blocks; each property's docs link ends in the
Terraform name (`#hash_key`), optional properties are optional arguments, and a property typed as
another struct (or a list of them) is a nested block. `make provider-schema` fetches the package with
npm (pinned by version and sha512) and `derive` boils the 130 MB assembly down to
`.cache/provider-aws/schema.json`: `{resources|data_sources: {type: block}, provider: block}`,
block = `{"arguments": {name: required}, "blocks": {name: {"required": bool, "block": block}}}`.

`problems(files, schema)` lists every resource or data source type, argument or nested block name
that the schema does not have, and every required argument that is not set.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = "@cdktf/provider-aws@21.22.1"
PROVIDER_VERSION = "6.25.0"
SCHEMA = ROOT / ".cache" / "provider-aws" / "schema.json"

META = frozenset({"count", "for_each", "depends_on", "lifecycle", "provider", "provisioner", "connection"})
_REPRESENTS = re.compile(
    r"Represents a \{@link https://registry\.terraform\.io/providers/hashicorp/aws/"
    r"([\d.]+)/docs(?:/(resources|data-sources)/(\w+))? (\w+)\}"
)
_NAME = re.compile(r"#(\w+) \w+#\w+\}")
Block = dict[str, Any]


# ---- deriving the schema from the jsii assembly ------------------------------------------------


def derive(assembly: Mapping[str, Any]) -> dict[str, Any]:
    """The compact schema of every resource, data source and the provider block."""
    types = assembly["types"]
    schema: dict[str, Any] = {"package": PACKAGE, "provider_version": None, "resources": {}, "data_sources": {}}
    for spec in types.values():
        match = _REPRESENTS.search(spec.get("docs", {}).get("summary", ""))
        if spec.get("kind") != "class" or match is None:
            continue
        version, section, _, name = match.groups()
        config = _config_type(spec)
        if config is None:
            continue
        block = _block(types, types[config], set())
        schema["provider_version"] = version
        if section is None:
            schema["provider"] = block
        else:
            schema["resources" if section == "resources" else "data_sources"][name] = block
    return schema


def _config_type(spec: Mapping[str, Any]) -> str | None:
    for parameter in spec.get("initializer", {}).get("parameters", []):
        if parameter["name"] == "config":
            return str(parameter["type"]["fqn"])
    return None


def _block(types: Mapping[str, Any], struct: Mapping[str, Any], seen: set[str]) -> Block:
    arguments: dict[str, bool] = {}
    nested: dict[str, Any] = {}
    for prop in _properties(types, struct):
        docs = prop.get("docs", {})
        match = _NAME.search(docs.get("summary", "") + " " + docs.get("remarks", ""))
        if match is None:
            continue  # meta-arguments (count, for_each, ...) have no provider docs link
        name = match.group(1)
        element = _struct_of(types, prop["type"])
        if element is None:
            arguments[name] = not prop.get("optional", False)
        elif element not in seen:
            inner = _block(types, types[element], seen | {element})
            nested[name] = {"required": not prop.get("optional", False), "block": inner}
    return {"arguments": arguments, "blocks": nested}


def _properties(types: Mapping[str, Any], struct: Mapping[str, Any]) -> Iterator[Mapping[str, Any]]:
    yield from struct.get("properties", [])
    for parent in struct.get("interfaces", []):
        if parent in types and not parent.startswith("cdktf."):
            yield from _properties(types, types[parent])


def _struct_of(types: Mapping[str, Any], kind: Mapping[str, Any]) -> str | None:
    """The struct a property's type holds (itself, in a list, or in a union with IResolvable)."""
    if "fqn" in kind:
        fqn = str(kind["fqn"])
        return fqn if types.get(fqn, {}).get("datatype") else None
    if "collection" in kind and kind["collection"]["kind"] == "array":
        return _struct_of(types, kind["collection"]["elementtype"])
    if "union" in kind:
        found = [s for t in kind["union"]["types"] if (s := _struct_of(types, t))]
        return found[0] if found else None
    return None


def load() -> dict[str, Any]:
    """The derived schema (`make provider-schema` writes it)."""
    if not SCHEMA.exists():
        raise FileNotFoundError(f"{SCHEMA} is missing: run `make provider-schema` (make test does)")
    return dict(json.loads(SCHEMA.read_text()))


# ---- checking the module -----------------------------------------------------------------------


def problems(files: Mapping[str, Mapping[str, Any]], schema: Mapping[str, Any]) -> list[str]:
    """Every mismatch between the parsed `.tf` files and the schema (see the module docstring)."""
    found: list[str] = []
    for filename, parsed in files.items():
        for section, key in (("resource", "resources"), ("data", "data_sources")):
            for block in parsed.get(section, []):
                for kind, by_name in block.items():
                    for name, body in by_name.items():
                        where = f"{filename}: {section} {kind}.{name}"
                        spec = schema[key].get(kind)
                        if spec is None:
                            found.append(f"{where}: the provider has no {section} type {kind}")
                        else:
                            found.extend(check_block(where, body, spec))
        for block in parsed.get("provider", []):
            for name, body in block.items():
                if name == "aws":
                    found.extend(check_block(f"{filename}: provider aws", body, schema["provider"]))
    return found


def check_block(where: str, body: Mapping[str, Any], spec: Block) -> list[str]:
    """One block's argument and nested block names, recursively; required arguments set."""
    found: list[str] = []
    for name, value in body.items():
        if name in META:
            continue
        if name == "dynamic":
            found.extend(_check_dynamic(where, value, spec))
        elif name in spec["blocks"]:
            for item in value if isinstance(value, list) else [value]:
                if isinstance(item, Mapping):
                    found.extend(check_block(f"{where}.{name}", item, spec["blocks"][name]["block"]))
        elif name not in spec["arguments"]:
            found.append(f"{where}: unknown argument or block {name!r}")
    dynamic = {label for item in body.get("dynamic", []) for label in item}
    for name, required in spec["arguments"].items():
        if required and name not in body:
            found.append(f"{where}: required argument {name!r} is not set")
    for name, nested in spec["blocks"].items():
        if nested["required"] and name not in body and name not in dynamic:
            found.append(f"{where}: required block {name!r} is missing")
    return found


def _check_dynamic(where: str, items: list[Mapping[str, Any]], spec: Block) -> list[str]:
    found: list[str] = []
    for item in items:
        for label, dynamic in item.items():
            if label not in spec["blocks"]:
                found.append(f"{where}: dynamic {label!r} is not a block of this type")
                continue
            for content in dynamic.get("content", []):
                found.extend(check_block(f"{where}.{label}", content, spec["blocks"][label]["block"]))
    return found


def main() -> None:
    """`python -m tests.terraform.provider_schema derive PACKAGE_DIR OUT`."""
    _, command, package_dir, out = sys.argv
    assert command == "derive", "usage: derive PACKAGE_DIR OUT"
    meta = json.loads((Path(package_dir) / "package.json").read_text())
    declared = meta["cdktf"]["provider"]["version"]
    if declared != PROVIDER_VERSION:
        raise SystemExit(f"{PACKAGE} is generated from provider {declared}, expected {PROVIDER_VERSION}")
    schema = derive(json.loads((Path(package_dir) / ".jsii").read_text()))
    if schema["provider_version"] != PROVIDER_VERSION:
        raise SystemExit(f"the assembly documents provider {schema['provider_version']}, expected {PROVIDER_VERSION}")
    Path(out).write_text(json.dumps(schema, sort_keys=True))
    print(f"{out}: {len(schema['resources'])} resources, {len(schema['data_sources'])} data sources")


if __name__ == "__main__":
    main()
