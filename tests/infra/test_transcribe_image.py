"""The transcribe image's weights step, run as the Dockerfile runs it (no Docker engine here).

The Dockerfile copies a few files into /tmp/build and runs ``python -m transcriber.engines.weights``
there, before the rest of the code is in the image. This test copies exactly the files its COPY
instructions name into a folder and runs the same command in it: a module the step needs but
the Dockerfile does not copy fails here instead of at deploy time.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from transcriber.engines import weights

REPO = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO / "functions" / "transcribe" / "Dockerfile"
BUILD_DIR = "/tmp/build"


def _instructions(text: str) -> list[str]:
    """Dockerfile instructions, continuation lines joined and comments dropped."""
    joined = text.replace("\\\n", " ")
    return [
        line.strip() for line in joined.splitlines() if line.strip() and not line.lstrip().startswith("#")
    ]


def _weights_step() -> tuple[list[tuple[str, str]], str]:
    """(source, destination) pairs copied into the build folder, and the RUN that assembles the weights."""
    copies: list[tuple[str, str]] = []
    for instruction in _instructions(DOCKERFILE.read_text()):
        words = shlex.split(instruction)
        if words[0] == "COPY" and words[-1].startswith(BUILD_DIR):
            copies += [(source, words[-1]) for source in words[1:-1]]
        if words[0] == "RUN" and "transcriber.engines.weights" in instruction:
            return copies, instruction
    raise AssertionError("the Dockerfile has no RUN that assembles the weights")


@pytest.mark.slow
def test_the_weights_step_needs_only_the_files_the_dockerfile_copies(tmp_path: Path) -> None:
    copies, run = _weights_step()
    assert "--dest /opt/models/whisper-base" in run
    build = tmp_path / "build"
    for source, destination in copies:
        target = build / destination.removeprefix(BUILD_DIR).lstrip("/")
        if destination.endswith("/"):
            target = target / Path(source).name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(REPO / source, target)
    models = tmp_path / "models"
    # The folder's own copy of the package comes first on sys.path: nothing else of the repository
    # is importable under that name from there (the project's editable install finder comes later).
    done = subprocess.run(
        [sys.executable, "-m", "transcriber.engines.weights", "--dest", str(models)],
        cwd=build,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == models
    assert weights.is_assembled(models)
    assert weights._hash(models / "model.bin") == weights.MODEL_SHA256
