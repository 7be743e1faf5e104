"""Full-size API fuzzing: prints the figures of RELIABILITY.md and writes `bench/results/fuzz.json`.

Two runs against a real `scheduler serve` process:

1. the harness of `tests/fuzz/apifuzz.py` (schemathesis strategies from `/openapi.json`, positive and
   negative data, real ids half of the time, app URLs kept on loopback), `--examples` per operation
   and mode: 50 gives about 2,100 cases;
2. `--cli`: the schemathesis command line with every phase (examples, coverage, fuzzing, stateful)
   and every check, run with the server inside a fresh network namespace (`unshare -n`, only
   loopback exists), so whatever URL it makes an app deliver to, nothing leaves the machine. Its
   failures are classified: a 5xx or a response off the schema would be a bug; "schema-valid
   request rejected" / "schema-violating request accepted" measure how precisely the document
   describes what the server accepts.

    .venv/bin/python -m bench.fuzz [--examples 50] [--seed 7] [--cli] [--cli-examples 30]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from bench.common import ROOT, write_results
from tests.fuzz.apifuzz import Target, fuzz, seed_data
from tests.reliability.harness import OPERATOR_KEY, Cluster, SwitchReceiver, read_db
from tests.support.server import ADMIN_KEY

CLI_PORT = 18_765


def harness_run(examples: int, seed: int) -> dict[str, Any]:
    """The schemathesis harness against a fresh server; returns its figures."""
    data = Path(tempfile.mkdtemp(prefix="fuzz-")) / "data"
    with SwitchReceiver() as sink:
        cluster = Cluster(data).start()
        try:
            target = Target(cluster.server.url, ADMIN_KEY, OPERATOR_KEY, sink.url("/fuzz"))
            seed_data(target)
            report = fuzz(target, max_examples=examples, seed=seed)
            logged_500s = "unhandled error" in "".join(cluster.server.output)
        finally:
            cluster.kill()
    with read_db(data) as conn:
        hosts = sorted({urlsplit(url).hostname or "" for (url,) in conn.execute("SELECT url FROM apps")})
    shutil.rmtree(data.parent, ignore_errors=True)
    return {**report.as_dict(), "app_url_hosts": hosts, "server_logged_500": logged_500s}


def cli_run(examples: int, seed: int) -> dict[str, Any]:
    """The schemathesis CLI (all phases, all checks) in a network namespace; returns its JSON report's figures."""
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return {"skipped": "needs root and unshare (a network namespace keeps deliveries on this machine)"}
    out = Path(tempfile.mkdtemp(prefix="fuzz-cli-"))
    command = [sys.executable, "-m", "bench.fuzz", "--inside-namespace", str(out), "--cli-examples", str(examples)]
    command += ["--seed", str(seed)]
    finished = subprocess.run(["unshare", "-n", *command], cwd=ROOT, capture_output=True, text=True, check=False)
    reports = {name: json.loads((out / f"{name}.json").read_text()) for name in ("tenant", "operator")}
    shutil.rmtree(out, ignore_errors=True)
    if finished.returncode != 0:
        return {"error": finished.stderr[-3000:]}
    return {name: _summarize(report) for name, report in reports.items()}


def _summarize(report: dict[str, Any]) -> dict[str, Any]:
    failures = report.get("failures", [])
    return {
        "command": report["command"],
        "seconds": round(report["running_time"], 1),
        "operations": report["operations"],
        "phases": {name: phase["status"] for name, phase in report["phases"].items()},
        "test_cases": report["test_cases"],
        "failures": [{k: f[k] for k in ("code", "title", "count", "operations")} for f in failures],
        "errors": report.get("errors", []),
        "warnings": {k: v for k, v in report.get("warnings", {}).items() if v},
    }


def inside_namespace(out: Path, examples: int, seed: int) -> None:
    """Runs in `unshare -n`: bring loopback up, start a server, run the CLI twice (tenant and operator routes)."""
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    cluster = Cluster(out / "data").start()
    try:
        common = ["run", f"{cluster.server.url}/openapi.json", "--seed", str(seed), "-n", str(examples), "-w", "2"]
        common += ["--checks", "all", "--report", "json", "--max-failures", "1000"]
        for name, token, extra in (
            ("tenant", ADMIN_KEY, ["--exclude-path", "/tenants"]),
            ("operator", OPERATOR_KEY, ["--include-path", "/tenants"]),
        ):
            args = [*common, *extra, "-H", f"Authorization: Bearer {token}"]
            args += ["--report-json-path", str(out / f"{name}.json")]
            subprocess.run([str(Path(sys.executable).with_name("schemathesis")), *args], cwd=out, check=False)
    finally:
        cluster.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=50, help="harness cases per operation and mode")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--cli", action="store_true", help="also run the schemathesis CLI (all phases)")
    parser.add_argument("--cli-examples", type=int, default=30)
    parser.add_argument("--inside-namespace", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.inside_namespace:
        inside_namespace(args.inside_namespace, args.cli_examples, args.seed)
        return
    results: dict[str, Any] = {"harness": harness_run(args.examples, args.seed)}
    harness = results["harness"]
    print(f"harness: {harness['cases']} cases over {harness['operations']} operations in {harness['seconds']} s")
    print(f"  server errors: {harness['server_errors']}, check failures: {harness['failures']}")
    print(f"  statuses: {harness['by_status']}; app URL hosts: {harness['app_url_hosts']}")
    if args.cli:
        results["cli"] = cli_run(args.cli_examples, args.seed)
        print(json.dumps(results["cli"], indent=2))
    print(f"wrote {write_results('fuzz', results)}")


if __name__ == "__main__":
    main()
