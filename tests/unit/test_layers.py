"""Import rules between the layers and the distributions, checked by importing (in a fresh interpreter).

- The domain and the service layer do no I/O: importing them loads no HTTP, AWS or SQLite library.
- `chalicelib` is what the Lambda package holds: every module in it imports without the local backend,
  the local server, the client or the CLI (they are not in the zip).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

IMPORT_ALL = """
import importlib, json, pkgutil, sys
for blocked in {blocked!r}:
    sys.modules[blocked] = None  # importing it now raises ImportError
before = set(sys.modules)
package = importlib.import_module({package!r})
names = [package.__name__] + [m.name for m in pkgutil.walk_packages(package.__path__, package.__name__ + ".")]
for name in names:
    importlib.import_module(name)
print(json.dumps({{"modules": names, "loaded": sorted({{n.split(".")[0] for n in set(sys.modules) - before}})}}))
"""


def _import_all(package: str, blocked: tuple[str, ...] = ()) -> dict[str, list[str]]:
    code = IMPORT_ALL.format(package=package, blocked=blocked)
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


IO_LIBRARIES = {"aiohttp", "httpx", "boto3", "botocore", "chalice", "sqlite3", "waitress", "aws_lambda_powertools"}


def test_the_domain_loads_no_io_library() -> None:
    result = _import_all("chalicelib.domain")
    assert "chalicelib.domain.delivery" in result["modules"]
    assert not IO_LIBRARIES & set(result["loaded"])


def test_the_service_layer_loads_no_io_library() -> None:
    result = _import_all("chalicelib.services")
    assert "chalicelib.services.delivery" in result["modules"]
    assert not IO_LIBRARIES & set(result["loaded"])


def test_the_lambda_package_imports_without_local_or_client_code() -> None:
    result = _import_all("chalicelib", blocked=("scheduler_local", "scheduler_client", "scheduler_cli", "waitress"))
    assert "chalicelib.adapters.aws.wiring" in result["modules"]
    assert "chalicelib.triggers" in result["modules"]
