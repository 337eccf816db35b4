"""``make run`` as a user meets it: a process of its own, exit codes, files, one paragraph on failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO_ROOT
from transcriber.domain.formats import parse_srt


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "localrun.cli", *args, "--quiet"],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_the_cli_writes_four_files_and_prints_the_transcript(tmp_path: Path, sample_flac: Path) -> None:
    out = tmp_path / "out"
    run = _cli(str(sample_flac), "--out", str(out), "--engine", "pocketsphinx", "--workers", "2")
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["sample.json", "sample.srt", "sample.txt", "sample.vtt"]
    assert run.stdout.strip() == (out / "sample.txt").read_text().strip()
    assert parse_srt((out / "sample.srt").read_text())
    assert "Done:" in run.stderr


def test_a_text_file_named_mp3_exits_non_zero_with_the_reason(tmp_path: Path) -> None:
    fake = tmp_path / "notes.mp3"
    fake.write_text("Minutes of the meeting.\n" * 30)
    run = _cli(str(fake), "--out", str(tmp_path / "out"), "--engine", "pocketsphinx")
    assert run.returncode == 2, run.stderr
    assert "UNSUPPORTED_FORMAT" in run.stderr and "Traceback" not in run.stderr
    assert not (tmp_path / "out").exists()


def test_a_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    run = _cli(str(tmp_path / "nope.wav"))
    assert run.returncode == 1 and "does not exist" in run.stderr and "Traceback" not in run.stderr
