"""Schemathesis against a running server's `/openapi.json`: every operation, positive and negative data.

Each operation gets `max_examples` generated cases per generation mode. Half of the time a path
parameter or a body's `appId` is replaced by a real id of the tenant (made by `seed_data`), so
the cases reach the logic behind the 404. Every response goes through schemathesis's checks:
no 5xx, a documented status, content type and headers, a body that matches the schema, and
authentication enforced where the document requires it (`ignored_auth` re-sends without it).

No delivery may leave the machine: any app URL a case would store is rewritten to the loopback
sink first (only its validity is fuzzed, not the network), and the caller checks afterwards that
every stored app URL is loopback.
"""

from __future__ import annotations

import collections
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    ignored_auth,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    ignored_auth,
]
MODES = (GenerationMode.POSITIVE, GenerationMode.NEGATIVE)


@dataclass
class FuzzReport:
    """Figures of one fuzz run."""

    max_examples: int
    seed: int
    operations: int = 0
    cases: int = 0
    server_errors: int = 0
    by_status: collections.Counter[int] = field(default_factory=collections.Counter)
    by_operation: collections.Counter[str] = field(default_factory=collections.Counter)
    with_real_ids: int = 0
    failures: list[str] = field(default_factory=list)
    not_generated: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "max_examples": self.max_examples,
            "seed": self.seed,
            "operations": self.operations,
            "cases": self.cases,
            "server_errors": self.server_errors,
            "failures": len(self.failures),
            "failure_details": self.failures[:20],
            "with_real_ids": self.with_real_ids,
            "by_status": dict(sorted(self.by_status.items())),
            "by_operation": dict(sorted(self.by_operation.items())),
            "not_generated": self.not_generated,
            "seconds": self.seconds,
        }


@dataclass
class Target:
    """The running server, its credentials, the loopback sink for app URLs, and ids to draw from."""

    base_url: str
    admin_key: str
    operator_key: str
    sink_url: str
    ids: dict[str, list[str]] = field(default_factory=dict)
    session: requests.Session = field(default_factory=requests.Session)

    def post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.session.post(f"{self.base_url}{path}", json=body, headers=self.auth(), timeout=30)
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    def auth(self, operator: bool = False) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.operator_key if operator else self.admin_key}"}

    def fresh(self, name: str) -> str:
        """A new resource for destructive operations (deleting an app or a key), so the pools stay alive."""
        if name == "keyId":
            return str(self.post("/keys", {"name": "victim", "scopes": ["read"]})["id"])
        return str(self.post("/apps", {"name": "victim", "url": self.sink_url})["id"])


def seed_data(target: Target) -> None:
    """Apps, keys and messages in several states for the cases to use."""
    apps = [
        target.post("/apps", {"name": f"app{i}", "url": target.sink_url, "headers": {"x-k": "v"}})["id"]
        for i in range(3)
    ]
    later = [{"appId": apps[i % 3], "payload": {"i": i}, "delaySeconds": 3600} for i in range(6)]
    now = [{"appId": apps[0], "payload": {"now": i}, "delaySeconds": 0} for i in range(3)]
    messages = [item["id"] for item in target.post("/messages/batch", {"messages": later + now})["items"]]
    target.session.delete(f"{target.base_url}/messages/{messages[0]}", headers=target.auth(), timeout=30)
    target.ids = {"appId": apps, "id": messages, "keyId": []}


def fuzz(target: Target, *, max_examples: int, seed: int = 7) -> FuzzReport:
    """Run every operation of the target's document; failures are collected, not raised."""
    started = time.monotonic()
    report = FuzzReport(max_examples=max_examples, seed=seed)
    schema = schemathesis.openapi.from_url(f"{target.base_url}/openapi.json")
    for result in schema.get_all_operations():
        operation = result.ok()
        report.operations += 1
        for mode in MODES:
            _fuzz_operation(target, operation, mode, report)
    report.seconds = round(time.monotonic() - started, 1)
    return report


def _fuzz_operation(target: Target, operation: Any, mode: GenerationMode, report: FuzzReport) -> None:
    security = operation.definition.raw.get("security")
    operator = security == [{"operatorKey": []}]
    headers = target.auth(operator)

    @settings(
        max_examples=report.max_examples,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @hypothesis_seed(report.seed)
    @given(case=operation.as_strategy(generation_mode=mode), draw=st.data())
    def run(case: Any, draw: st.DataObject) -> None:
        real = _use_real_ids(case, target, draw.draw)
        _keep_on_loopback(case.body, target.sink_url)
        response = case.call(base_url=target.base_url, session=target.session, headers=headers, timeout=30)
        _count(report, operation.label, response.status_code, real)
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except Exception as exc:  # a FailureGroup: record it and go on
            report.failures.append(f"{operation.label} [{mode.value}]: {str(exc)[:1500]}")

    try:
        run()
    except Exception as exc:  # nothing to generate in this mode (e.g. no parameter to make invalid)
        report.not_generated.append(f"{operation.label} [{mode.value}]: {type(exc).__name__}")


def _count(report: FuzzReport, label: str, status: int, real: bool) -> None:
    report.cases += 1
    report.by_status[status] += 1
    report.by_operation[label] += 1
    report.with_real_ids += int(real)
    if status >= 500:
        report.server_errors += 1


def _use_real_ids(case: Any, target: Target, draw: Callable[[st.SearchStrategy[Any]], Any]) -> bool:
    """Replace path parameters and body `appId`s by real ids, each with probability 1/2."""
    used = False
    for name in list(case.path_parameters or {}):
        if draw(st.booleans()):
            pool = target.ids.get(name) or []
            destructive = case.method.upper() == "DELETE" and name in ("appId", "keyId")
            case.path_parameters[name] = target.fresh(name) if destructive or not pool else draw(st.sampled_from(pool))
            used = True
    bodies = case.body.get("messages") if isinstance(case.body, dict) else None
    for body in [case.body, *(bodies if isinstance(bodies, list) else [])]:
        if isinstance(body, dict) and "appId" in body and draw(st.booleans()):
            body["appId"] = draw(st.sampled_from(target.ids["appId"]))
            used = True
    return used


def _keep_on_loopback(body: Any, sink_url: str) -> None:
    """An app URL the server would accept is replaced by the loopback sink: fuzzing never reaches the network."""
    if not isinstance(body, dict) or not isinstance(body.get("url"), str):
        return
    try:
        parts = urlsplit(body["url"])
        acceptable = parts.scheme.lower() in ("http", "https") and bool(parts.hostname)
    except ValueError:
        return
    if acceptable:
        body["url"] = sink_url
