"""Lambda cold start (issue 10 item 7): package size, init time, first vs warm invocation, per function.

For each package (a `deployment.zip`; by default Chalice's own, which `make package` keeps as
`build/chalice/chalice.zip`, against the deployed `build/chalice/deployment.zip`):

- size zipped and unpacked, and unpacked per top-level entry (the largest);
- unzipped into a temporary directory standing in for /var/task, which is read-only in Lambda (the
  children run with PYTHONDONTWRITEBYTECODE: a module without bytecode in the package is compiled
  on every cold start, as there);
- for every function of terraform/lambda.tf, `--runs` fresh processes that load the handler as the
  Lambda runtime does (`module.attribute`, with only the package and the standard library on
  sys.path: `python -S`) in the environment Terraform gives the function, pointed at a moto server
  holding the stack built from terraform/*.tf (awslocal), then invoke it `1 + --warm` times with an
  event shaped as AWS sends it. Two modes: `lazy` (no `_HANDLER`: nothing is built at init, the
  runtime is built by the first invocation, as before item 7) and `init` (`chalicelib.warmup`
  builds it in the init phase). Init = loading the handler module; cold = init + first invocation.
- one `-X importtime` load per function: the top-level packages that cost the most.

Wall times on a shared machine are noisy, so CPU times (user + system of the child) are reported
too; runs interleave packages and modes so that load hits them alike. Medians and p99 over the runs.

    python -m bench.cold_start                      # after `make package`; ~3 min
    python -m bench.cold_start --runs 9 --package main=/tmp/main.zip --package now=build/chalice/deployment.zip
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from bench.common import summary, write_results

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "build" / "chalice"
MODES = ("lazy", "init")
DEFAULT_PACKAGES = {"chalice": BUILD / "chalice.zip", "deployed": BUILD / "deployment.zip"}
TENANT = "t_coldstart"

# Runs in the child, with nothing but the package and the standard library on sys.path.
DRIVER = r"""
import importlib, json, resource, sys, time

def cpu():
    used = resource.getrusage(resource.RUSAGE_SELF)
    return used.ru_utime + used.ru_stime

class Context:
    def __init__(self, name, request_id):
        self.function_name = name
        self.function_version = "$LATEST"
        self.invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:" + name
        self.memory_limit_in_mb = 512
        self.aws_request_id = request_id
        self.log_group_name = "/aws/lambda/" + name
        self.log_stream_name = "bench"
    def get_remaining_time_in_millis(self):
        return 30000

def outcome(result):
    if isinstance(result, dict):
        if "statusCode" in result:
            return "status %s" % result["statusCode"]
        if "batchItemFailures" in result:
            return "failed records %d" % len(result["batchItemFailures"])
        return "keys " + ",".join(sorted(result)[:4])
    return type(result).__name__

job = json.loads(sys.stdin.read())
sys.path.insert(0, job["tree"])
wall, used = time.perf_counter(), cpu()
module, _, attribute = job["handler"].rpartition(".")
handler = getattr(importlib.import_module(module), attribute)
report = {"init_ms": (time.perf_counter() - wall) * 1000, "init_cpu_ms": (cpu() - used) * 1000, "calls": []}
for n, event in enumerate(job["events"]):
    wall, used = time.perf_counter(), cpu()
    try:
        got = outcome(handler(event, Context(job["name"], "req-%d" % n)))
    except Exception as exc:
        got = type(exc).__name__
    report["calls"].append([(time.perf_counter() - wall) * 1000, (cpu() - used) * 1000, got])
sys.stdout.flush()
print("\n" + json.dumps(report))
"""


# ---- sizes ----------------------------------------------------------------------------------------


def _is_model(name: str) -> bool:
    return name.startswith("botocore/data/") and name.count("/") > 2


def sizes(path: Path, top: int = 12) -> dict[str, Any]:
    """Zipped and unpacked bytes, and the largest top-level entries (unpacked MB, zipped MB)."""
    unpacked: Counter[str] = Counter()
    packed: Counter[str] = Counter()
    with zipfile.ZipFile(path) as archive:
        entries = archive.infolist()
        for info in entries:
            name = info.filename.split("/", 1)[0]
            unpacked[name] += info.file_size
            packed[name] += info.compress_size
    return {
        "zip_mb": round(path.stat().st_size / 1e6, 2),
        "unpacked_mb": round(sum(unpacked.values()) / 1e6, 2),
        "files": len(entries),
        "pyc_files": sum(1 for i in entries if i.filename.endswith(".pyc")),
        "botocore_models": len({i.filename.split("/")[2] for i in entries if _is_model(i.filename)}),
        "largest": {k: [round(v / 1e6, 2), round(packed[k] / 1e6, 2)] for k, v in unpacked.most_common(top)},
    }


# ---- the stack and the events ---------------------------------------------------------------------


@contextmanager
def stack() -> Iterator[tuple[str, dict[str, Any]]]:
    """A moto server with the stack from terraform/*.tf: (endpoint, functions by key)."""
    from awslocal.deployment import apply
    from awslocal.processes import Child, base_env, python
    from awslocal.provision import MotoProvider
    from awslocal.run import ACCOUNT, REGION, session
    from awslocal.terraform import Module

    moto = Child("moto", python("awslocal.motoserver", "--port", "0"), base_env({}), ready="moto listening")
    endpoint = moto.start()
    try:
        facts = {"account_id": ACCOUNT, "region": REGION, "partition": "aws"}
        deployment = apply(Module(MotoProvider(session(endpoint), account_id=ACCOUNT, region=REGION), facts, {}))
        yield endpoint, dict(deployment.functions)
    finally:
        moto.stop()


def events(key: str, count: int) -> list[dict[str, Any]]:
    """`count` events for function `key`, shaped as AWS sends them (each does real work on the stack)."""
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    authorizer = {"tenantId": TENANT, "plan": "unlimited", "scopes": "admin", "keyId": "", "operator": "false"}
    made: dict[str, Any] = {
        "api_handler": lambda n: {  # GET /messages: a query of the tenant's messages
            "resource": "/messages", "path": "/messages", "httpMethod": "GET",
            "headers": {"Host": "api.example.com"}, "multiValueHeaders": {"Host": ["api.example.com"]},
            "queryStringParameters": None, "multiValueQueryStringParameters": None, "pathParameters": None,
            "stageVariables": None, "body": None, "isBase64Encoded": False,
            "requestContext": {"resourcePath": "/messages", "httpMethod": "GET", "path": "/api/messages",
                               "stage": "api", "requestId": f"r{n}", "identity": {"sourceIp": "127.0.0.1"},
                               "authorizer": authorizer},
        },
        "authorizer": lambda n: {  # an API key that is not there: one read of the keys table, then 401
            "type": "TOKEN", "authorizationToken": f"Bearer sk_unknown_{uuid.uuid4().hex}",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/api/GET/messages",
        },
        "deliver": lambda n: {"Records": [{  # a release of a message that is not there
            "messageId": str(uuid.uuid4()), "receiptHandle": "AQEB", "attributes": {"ApproximateReceiveCount": "1"},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:release",
            "body": json.dumps({"tenantId": TENANT, "messageId": f"msg_{uuid.uuid4().hex}", "gen": 1, "dueAt": 0}),
        }]},
        "cleanup": lambda n: {
            "version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
            "account": "123456789012", "time": now, "region": "us-east-1", "resources": [], "detail": {},
        },
        "post_confirmation": lambda n: {  # a new sign-up: a tenant and its API key
            "version": "1", "region": "us-east-1", "userPoolId": "us-east-1_Bench", "userName": f"u{n}",
            "triggerSource": "PostConfirmation_ConfirmSignUp", "callerContext": {"clientId": "c"},
            "request": {"userAttributes": {"sub": str(uuid.uuid4()), "email": f"u{uuid.uuid4().hex[:8]}@example.com"}},
            "response": {},
        },
    }  # fmt: skip
    return [made[key](n) for n in range(count)]


# ---- one cold start -------------------------------------------------------------------------------


def child_env(function: Any, endpoint: str, mode: str) -> dict[str, str]:
    """The function's environment as Lambda sets it; `lazy` leaves out `_HANDLER` (no warm-up)."""
    from awslocal.lambdas import runtime_env
    from awslocal.run import REGION

    env = {**function.environment, **runtime_env(function, region=REGION, endpoint=endpoint)}
    if mode == "lazy":
        env.pop("_HANDLER")
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "TZ")}
    return {**keep, **env, "PYTHONDONTWRITEBYTECODE": "1", "PYTHONUNBUFFERED": "1"}


def cold_start(tree: Path, function: Any, endpoint: str, mode: str, warm: int) -> dict[str, Any]:
    """One fresh process: load the handler, invoke it 1 + `warm` times."""
    job = {"tree": str(tree), "handler": function.handler, "name": function.name}
    job["events"] = events(function.key, 1 + warm)
    done = subprocess.run(
        [sys.executable, "-S", "-c", DRIVER],
        input=json.dumps(job),
        cwd=tree,
        env=child_env(function, endpoint, mode),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{function.key} ({mode}) failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def import_offenders(tree: Path, function: Any, endpoint: str, top: int = 8) -> dict[str, float]:
    """Self import time (ms) per top-level package of loading the handler with `-X importtime` (lazy)."""
    module = function.handler.rpartition(".")[0]
    load = f"import sys; sys.path.insert(0, {str(tree)!r}); import {module}"
    done = subprocess.run(
        [sys.executable, "-S", "-X", "importtime", "-c", load],
        cwd=tree,
        env=child_env(function, endpoint, "lazy"),
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    spent: Counter[str] = Counter()
    for line in done.stderr.splitlines():
        found = re.match(r"import time:\s+(\d+) \|\s+\d+ \|\s*(\S+)", line)
        if found:
            spent[found.group(2).split(".")[0]] += int(found.group(1)) / 1000
    return {"total": round(sum(spent.values()), 1), **{k: round(v, 1) for k, v in spent.most_common(top)}}


# ---- the run --------------------------------------------------------------------------------------


def _figures(samples: list[dict[str, Any]]) -> dict[str, Any]:
    def of(values: list[float]) -> dict[str, float]:
        got = summary(values)
        return {"p50": round(got["p50"], 1), "p99": round(got["p99"], 1)}

    first = [s["calls"][0] for s in samples]
    warm = [c for s in samples for c in s["calls"][1:]]
    return {
        "init_ms": of([s["init_ms"] for s in samples]),
        "init_cpu_ms": of([s["init_cpu_ms"] for s in samples]),
        "first_ms": of([c[0] for c in first]),
        "first_cpu_ms": of([c[1] for c in first]),
        "cold_ms": of([s["init_ms"] + s["calls"][0][0] for s in samples]),
        "cold_cpu_ms": of([s["init_cpu_ms"] + s["calls"][0][1] for s in samples]),
        "warm_ms": of([c[0] for c in warm]),
        "outcomes": sorted({c[2] for s in samples for c in s["calls"]}),
    }


def run(packages: dict[str, Path], runs: int, warm: int) -> dict[str, Any]:
    """Every package x function x mode, `runs` times, interleaved."""
    results: dict[str, Any] = {name: {"size": sizes(path), "functions": {}} for name, path in packages.items()}
    with tempfile.TemporaryDirectory(prefix="cold-start-") as scratch, stack() as (endpoint, functions):
        trees = {}
        for name, path in packages.items():
            trees[name] = Path(scratch) / name
            with zipfile.ZipFile(path) as archive:
                archive.extractall(trees[name])
        samples: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for n in range(runs):
            for key, function in functions.items():
                for name, tree in trees.items():
                    for mode in MODES:
                        got = cold_start(tree, function, endpoint, mode, warm)
                        samples.setdefault((name, key, mode), []).append(got)
            print(f"run {n + 1}/{runs} done", flush=True)
        for (name, key, mode), taken in samples.items():
            results[name]["functions"].setdefault(key, {})[mode] = _figures(taken)
        for name, tree in trees.items():
            for key, function in functions.items():
                results[name]["functions"][key]["imports_ms"] = import_offenders(tree, function, endpoint)
            shutil.rmtree(tree)
    return results


def _row(key: str, mode: str, f: dict[str, Any]) -> str:
    def pair(name: str, width: int) -> str:
        return f"{f[name]['p50']:{width}.0f}/{f[name]['p99']:<{width}.0f}"

    return (
        f"   {key:18} {mode:5} {pair('init_ms', 6)} {pair('init_cpu_ms', 5)} {pair('first_ms', 6)} "
        f"{pair('cold_ms', 6)} {pair('cold_cpu_ms', 5)} {f['warm_ms']['p50']:8.1f}   {', '.join(f['outcomes'])}"
    )


def show(results: dict[str, Any]) -> None:
    """Print the figures."""
    for name, got in results.items():
        size = got["size"]
        print(
            f"\n== {name}: {size['zip_mb']} MB zipped, {size['unpacked_mb']} MB unpacked, {size['files']} files "
            f"({size['pyc_files']} pyc, {size['botocore_models']} botocore models)"
        )
        largest = ", ".join(f"{k} {v[0]}/{v[1]}" for k, v in size["largest"].items())
        print(f"   largest (unpacked MB, zipped MB): {largest}")
        print(
            f"   {'function':18} {'mode':5} {'init ms p50/p99':>13} {'init cpu':>11} {'first ms':>13} "
            f"{'cold ms':>13} {'cold cpu':>11} {'warm ms p50':>11}"
        )
        for key, modes in got["functions"].items():
            for mode in MODES:
                print(_row(key, mode, modes[mode]))
            top = ", ".join(f"{k} {v:.0f}" for k, v in modes["imports_ms"].items())
            print(f"   {'':18} -X importtime (self ms by package): {top}")


def main() -> None:
    """Parse the options, run, print, write bench/results/cold_start.json."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--package", action="append", default=[], metavar="NAME=ZIP", help="a package (repeatable)")
    parser.add_argument("--runs", type=int, default=7, help="cold starts per package, function and mode")
    parser.add_argument("--warm", type=int, default=5, help="warm invocations after the first")
    args = parser.parse_args()
    chosen = [p.partition("=") for p in args.package]
    packages = {name: Path(path) for name, _, path in chosen} or DEFAULT_PACKAGES
    for name, path in packages.items():
        if not path.exists():
            raise SystemExit(f"{name}: {path} is missing (run `make package`)")
    results = run(packages, args.runs, args.warm)
    show(results)
    named = {k: str(v.relative_to(ROOT) if v.is_relative_to(ROOT) else v) for k, v in packages.items()}
    path = write_results("cold_start", {"runs": args.runs, "warm": args.warm, "packages": named, "results": results})
    print(f"\nwrote {path}")


if __name__ == "__main__":
    main()
