"""Every third-party module a zip function imports is shipped to it (layer or Lambda runtime).

Locally every handler runs in the project's virtualenv, where everything is installed, so a
missing entry in layers/dependencies/requirements.txt would only show in AWS. This walks the
real import graph of each zip function from its handler through the shared package.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
ZIP_FUNCTIONS = (
    "ingest",
    "chunk",
    "aggregate",
    "fail",
    "sweeper",
    "api",
    "notifier",
)
FIRST_PARTY = ("functions", "transcriber")
#: What the Python 3.12 Lambda runtime provides besides the standard library.
RUNTIME = {"boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six"}
#: Imported only off Lambda: ffmpeg_path() falls back to the imageio-ffmpeg wheel when the
#: ffmpeg layer's /opt/bin/ffmpeg is absent (the local runtime).
LOCAL_ONLY = {"imageio_ffmpeg"}
#: Import names of the distributions in the dependencies layer.
IMPORT_NAMES = {
    "aws-lambda-powertools": "aws_lambda_powertools",
    "aws-xray-sdk": "aws_xray_sdk",
    "pyjwt": "jwt",
    "python-stdnum": "stdnum",
}


def _layer_modules() -> set[str]:
    names = set()
    for line in (REPO_ROOT / "layers" / "dependencies" / "requirements.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            dist = re.split(r"[\[=<>~! ]", line, maxsplit=1)[0].lower()
            names.add(IMPORT_NAMES.get(dist, dist.replace("-", "_")))
    return names


def _module_file(name: str) -> Path | None:
    base = REPO_ROOT.joinpath(*name.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _third_party_imports(start: str) -> set[str]:
    """Top-level third-party modules imported (at any depth) from ``start``, lazily or not."""
    seen, found, todo = set(), set(), [start]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        path = _module_file(name)
        if path is None:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                targets = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            for target in targets:
                top = target.split(".")[0]
                if top in FIRST_PARTY:
                    todo.append(target)
                elif top not in sys.stdlib_module_names and top != "__future__":
                    found.add(top)
    return found


@pytest.mark.parametrize("function", ZIP_FUNCTIONS)
def test_zip_function_imports_are_shipped(function: str) -> None:
    imports = _third_party_imports(f"functions.{function}.handler")
    assert "aws_lambda_powertools" in imports  # the walk really follows the handler
    missing = imports - _layer_modules() - RUNTIME - LOCAL_ONLY
    assert not missing, f"{function} imports {sorted(missing)}, which neither the layer nor the runtime ships"
