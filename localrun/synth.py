"""Synthesize the CDK app for the local runtime (no CDK CLI needed).

Synthesis runs in a child process (jsii starts a Node.js runtime; CDK prints bundling chatter),
and its cloud assembly is kept under ``.local/assembly/`` keyed by the environment, the overrides
and the content of every source file that can change the template, so an unchanged stack is not
synthesized again.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("cdk.json", "infra", "functions", "transcriber", "layers")


def _fingerprint(env_name: str, overrides: dict[str, Any]) -> str:
    digest = hashlib.sha256(json.dumps([env_name, overrides], sort_keys=True).encode())
    for name in SOURCES:
        root = REPO_ROOT / name
        files = [root] if root.is_file() else sorted(p for p in root.rglob("*") if p.is_file())
        for path in files:
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(REPO_ROOT)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def synthesize(env_name: str = "dev", overrides: dict[str, Any] | None = None) -> tuple[Path, str]:
    """The cloud assembly folder and stack name of one environment, synthesized if needed."""
    overrides = overrides or {}
    outdir = REPO_ROOT / ".local" / "assembly" / f"{env_name}-{_fingerprint(env_name, overrides)}"
    done = outdir / "stack-name"
    if not done.exists():
        env = {
            **os.environ,
            "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION": "20",
            "JSII_RUNTIME_PACKAGE_CACHE_ROOT": os.environ.get(
                "JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(REPO_ROOT / ".cache" / "jsii")
            ),
        }
        command = [
            sys.executable,
            "-m",
            "localrun.synth",
            "--env",
            env_name,
            "--overrides",
            json.dumps(overrides),
            "--outdir",
            str(outdir),
        ]
        proc = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"cdk synth of {env_name!r} failed: {proc.stderr.strip()[-2000:]}")
    return outdir, done.read_text().strip()


def main() -> None:
    parser = argparse.ArgumentParser(description="Synthesize one environment into a folder.")
    parser.add_argument("--env", default="dev")
    parser.add_argument("--overrides", default="{}")
    parser.add_argument("--outdir", type=Path, required=True)
    args = parser.parse_args()
    from infra.app import build_app
    from infra.stack import WEB_HOSTING

    # No CloudFront here: make serve serves the web app itself (and moto has no CloudFront stack support).
    app, stack = build_app(
        args.env, overrides=json.loads(args.overrides), outdir=str(args.outdir), context={WEB_HOSTING: False}
    )
    app.synth()
    (args.outdir / "stack-name").write_text(stack.stack_name)


if __name__ == "__main__":
    main()
