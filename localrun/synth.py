"""Synthesize the CDK app in this process (no CDK CLI needed) for the local runtime."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]


def synthesize(
    env_name: str = "dev", overrides: dict[str, Any] | None = None, outdir: Path | None = None
) -> tuple[Path, str]:
    """Synthesize one environment; returns the cloud assembly folder and the stack name."""
    os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
    os.environ.setdefault("JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO_ROOT / ".cache" / "jsii"))
    from infra.app import build_app

    if outdir is None:
        key = hashlib.sha256(json.dumps([env_name, overrides or {}], sort_keys=True).encode()).hexdigest()[
            :12
        ]
        outdir = REPO_ROOT / ".local" / "assembly" / f"{env_name}-{key}"
    app, stack = build_app(env_name, overrides=overrides, outdir=str(outdir))
    app.synth()
    return outdir, stack.stack_name
