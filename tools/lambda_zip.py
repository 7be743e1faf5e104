"""What `make package` does to Chalice's `deployment.zip` before Terraform deploys it (issue 10 item 7).

Chalice zips app.py, chalicelib/ and the Linux wheels of requirements.txt as they are. Three changes,
each measured by `bench/cold_start.py` (figures in docs/aws-design.md, item 7, and BENCHMARKS.md):

- bytecode for every module (`__pycache__/<name>.cpython-311.pyc`, checked-hash: a pyc whose source
  changed is ignored, so it can never run stale code). The function's code directory is read-only,
  so without it the runtime compiles every module it imports again on every cold start.
- botocore's service models only for the services the code calls (`wiring.SERVICES`) and the X-Ray
  SDK's sampling client (`LIBRARY_SERVICES`): the 449 bundled models were 16 of the zip's 30 MB.
  boto3 and botocore stay bundled and pinned.
- no type stubs or C/Cython sources of dependencies (never run).

    python -m tools.lambda_zip build/chalice/deployment.zip

rewrites the zip in place and keeps Chalice's original beside it as `chalice.zip` (the benchmark's
baseline; Terraform reads only `deployment.zip`).
"""

from __future__ import annotations

import argparse
import importlib.util
import py_compile
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from chalicelib.adapters.aws.wiring import SERVICES

# The functions' runtime (terraform/lambda.tf): bytecode is only valid for the Python that made it.
RUNTIME = "python3.11"
BOTOCORE_DATA = "botocore/data/"
# Clients that libraries make: aws_xray_sdk (Powertools' Tracer) makes an `xray` one when it loads.
LIBRARY_SERVICES = frozenset({"xray"})
NEVER_RUN = (".pyi", ".c", ".h", ".pyx", ".pxd")
ORIGINAL = "chalice.zip"


@dataclass(frozen=True)
class Report:
    """What one rewrite changed."""

    dropped: int
    compiled: int
    not_compiled: tuple[str, ...]
    bytes_before: int
    bytes_after: int


def kept(name: str) -> bool:
    """Whether an entry of Chalice's zip goes into the deployed one."""
    if name.endswith(NEVER_RUN) or "/__pycache__/" in f"/{name}":
        return False
    if name.startswith(BOTOCORE_DATA):
        service = name[len(BOTOCORE_DATA) :].split("/", 1)
        # the top-level files (endpoints, partitions, retry and default configuration) stay
        return len(service) == 1 or service[0] in SERVICES | LIBRARY_SERVICES
    return True


def _check_python() -> None:
    running = f"python{sys.version_info.major}.{sys.version_info.minor}"
    if running != RUNTIME:
        raise SystemExit(f"bytecode for the {RUNTIME} runtime needs {RUNTIME} to compile it, not {running}")


def _pyc(name: str, source: bytes, scratch: Path) -> bytes | None:
    """The checked-hash bytecode of module `name`, or None when it does not compile."""
    path = scratch / "module.py"
    path.write_bytes(source)
    out = scratch / "module.pyc"
    try:
        py_compile.compile(
            str(path),
            cfile=str(out),
            dfile=name,
            doraise=True,
            invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH,
        )
    except py_compile.PyCompileError:
        return None
    return out.read_bytes()


def _cache_name(name: str) -> str:
    return str(PurePosixPath(importlib.util.cache_from_source(name)))


def rewrite(source: Path, target: Path) -> Report:
    """Write the deployed zip for Chalice's `source` to `target`."""
    _check_python()
    dropped = compiled = 0
    failed: list[str] = []
    with (
        zipfile.ZipFile(source) as original,
        zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as out,
        tempfile.TemporaryDirectory() as scratch,
    ):
        for info in original.infolist():
            if not kept(info.filename):
                dropped += 1
                continue
            data = original.read(info)
            out.writestr(info, data, compress_type=zipfile.ZIP_DEFLATED)
            if not info.filename.endswith(".py"):
                continue
            code = _pyc(info.filename, data, Path(scratch))
            if code is None:
                failed.append(info.filename)
                continue
            pyc = zipfile.ZipInfo(_cache_name(info.filename), date_time=info.date_time)
            pyc.external_attr = info.external_attr
            out.writestr(pyc, code, compress_type=zipfile.ZIP_DEFLATED)
            compiled += 1
    return Report(dropped, compiled, tuple(failed), source.stat().st_size, target.stat().st_size)


def main() -> None:
    """Rewrite the zip given on the command line, keeping Chalice's as `chalice.zip`."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("zip", type=Path, help="Chalice's deployment.zip (rewritten in place)")
    args = parser.parse_args()
    original = args.zip.with_name(ORIGINAL)
    args.zip.replace(original)
    report = rewrite(original, args.zip)
    print(
        f"{args.zip}: {report.bytes_before / 1e6:.1f} MB -> {report.bytes_after / 1e6:.1f} MB; "
        f"{report.compiled} modules compiled, {report.dropped} files dropped"
        + (f"; not compiled: {', '.join(report.not_compiled)}" if report.not_compiled else "")
    )


if __name__ == "__main__":
    main()
