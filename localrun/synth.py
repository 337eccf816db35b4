"""Synthesize the CDK app for the local runtime (no CDK CLI needed).

Synthesis runs in a child process (jsii starts a Node.js runtime; CDK prints bundling chatter),
and its cloud assembly is kept under ``.local/assembly/`` keyed by the environment, the overrides
and the content of every source file that can change the template, so an unchanged stack is not
synthesized again. Every change of the sources writes a new one (a few hundred MB each: the bundled
layers and the speech image's build context), so when one is written the older ones are pruned:
the :data:`KEEP_ASSEMBLIES` last used are kept, and so is any used in the last hour or held by a
running pipeline (:func:`mark_in_use`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
SOURCES = ("cdk.json", "requirements.lock", "infra", "functions", "transcriber", "layers")
ASSEMBLY_ROOT = REPO_ROOT / ".local" / "assembly"
#: how many cloud assemblies are kept (the last used), beyond those in use or used recently
KEEP_ASSEMBLIES = 3
#: local files touched (or held by a live process) this recently are never pruned: some process may use them
IN_USE_GRACE_S = 3600.0
#: written into an assembly each time it is used; its mtime says when that was
LAST_USED = "last-used"
#: ``in-use.<pid>``: a pipeline of that (live) process runs from the assembly
IN_USE_PREFIX = "in-use."


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
    outdir = ASSEMBLY_ROOT / f"{env_name}-{_fingerprint(env_name, overrides)}"
    done = outdir / "stack-name"
    written = not done.exists()
    if written:
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
    (outdir / LAST_USED).touch()
    if written:
        prune_assemblies(ASSEMBLY_ROOT)
    return outdir, done.read_text().strip()


def pid_alive(pid: int) -> bool:
    """Whether a process of this id runs (a reused id only keeps files longer: safe)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def held_by_live_process(folder: Path, prefix: str) -> bool:
    """Whether ``folder`` holds a ``<prefix><pid>`` marker of a running process."""
    for marker in folder.glob(f"{prefix}*"):
        pid = marker.name.removeprefix(prefix)
        if pid.isdigit() and pid_alive(int(pid)):
            return True
    return False


def last_activity(folder: Path, *names: str) -> float:
    """The newest mtime of ``folder`` itself, its direct entries and the given sub-folders' entries."""
    try:
        newest = folder.stat().st_mtime
    except FileNotFoundError:
        return 0.0
    for sub in (folder, *(folder / name for name in names)):
        try:
            entries = list(sub.iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                newest = max(newest, entry.lstat().st_mtime)
            except OSError:
                continue
    return newest


def remove_tree(folder: Path) -> None:
    """Remove a folder; renamed first, so that a half-removed one never looks complete."""
    doomed = folder.with_name(f".{folder.name}.{os.getpid()}.removing")
    try:
        folder.rename(doomed)
    except OSError:
        doomed = folder
    shutil.rmtree(doomed, ignore_errors=True)


def mark_in_use(assembly: Path) -> Path:
    """Mark an assembly as used by this process until the marker is removed (pipelines run from it)."""
    marker = assembly / f"{IN_USE_PREFIX}{os.getpid()}"
    marker.touch()
    return marker


def _last_used(assembly: Path) -> float:
    try:
        return (assembly / LAST_USED).stat().st_mtime
    except FileNotFoundError:
        return last_activity(assembly)  # written by an older version, which kept no mark


def prune_assemblies(
    root: Path = ASSEMBLY_ROOT,
    *,
    keep: int = KEEP_ASSEMBLIES,
    grace_s: float = IN_USE_GRACE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove the cloud assemblies beyond the ``keep`` last used; returns those removed.

    Never one used (or written) within ``grace_s``, nor one a live process marked in use; an
    unfinished one (no ``stack-name``: a synthesis may be writing it) only once ``grace_s`` has passed.
    """
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    complete: list[tuple[float, Path]] = []
    unfinished: list[tuple[float, Path]] = []
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name.startswith("."):
            continue
        (complete if (folder / "stack-name").exists() else unfinished).append((_last_used(folder), folder))
    complete.sort(reverse=True)
    candidates = [folder for _, folder in complete[keep:] + unfinished]
    return remove_idle(root, candidates, last_used=_last_used, marker=IN_USE_PREFIX, grace_s=grace_s, now=now)


def remove_idle(
    root: Path,
    candidates: Iterable[Path],
    *,
    last_used: Callable[[Path], float],
    marker: str,
    grace_s: float,
    now: float,
) -> list[Path]:
    """Remove each of ``candidates`` (folders under ``root``) unless it was used within ``grace_s``
    or a live process holds its ``<marker><pid>``; then what interrupted removals left. Returns
    those removed."""
    removed = []
    for folder in candidates:
        # asked again just before: removing the ones before may have taken a while
        if now - last_used(folder) < grace_s or held_by_live_process(folder, marker):
            continue
        remove_tree(folder)
        removed.append(folder)
    for leftover in root.glob(".*.removing"):  # a removal that was interrupted
        shutil.rmtree(leftover, ignore_errors=True)
    return removed


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
