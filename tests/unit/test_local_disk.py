"""The local runs' disk stays bounded: old cloud assemblies, runtime folders and asset zips are pruned,
never one a running process may be using."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from localrun import environment, pipeline, synth
from localrun.environment import prune_asset_cache, referenced_assets
from localrun.pipeline import LocalPipeline, prune_runtime_dirs
from localrun.synth import IN_USE_GRACE_S, mark_in_use, prune_assemblies

NOW = time.time()
OLD = NOW - 3 * IN_USE_GRACE_S
DEAD_PID = 2**22 + 12345  # above the kernel's pid_max: no such process


def _age(path: Path, when: float) -> None:
    os.utime(path, (when, when))


def _assembly(
    root: Path, name: str, used: float, *, complete: bool = True, assets: tuple[str, ...] = ()
) -> Path:
    folder = root / name
    (folder / "asset.x").mkdir(parents=True)
    (folder / "asset.x" / "big.bin").write_bytes(b"x" * 100)
    manifest = {"files": {h: {"source": {"path": f"asset.{h}", "packaging": "zip"}} for h in assets}}
    (folder / "Stack.assets.json").write_text(json.dumps(manifest))
    if complete:
        (folder / "stack-name").write_text("Stack")
        (folder / synth.LAST_USED).touch()
        _age(folder / synth.LAST_USED, used)
    for entry in (*folder.iterdir(), folder):
        _age(entry, used)
    return folder


# Assemblies ----------------------------------------------------------------------------------------


def test_only_the_last_used_assemblies_are_kept(tmp_path: Path) -> None:
    ages = {f"dev-{i}": OLD - i * 60 for i in range(6)}  # dev-0 used last
    for name, used in ages.items():
        _assembly(tmp_path, name, used)

    removed = prune_assemblies(tmp_path, keep=3, now=NOW)

    assert sorted(p.name for p in removed) == ["dev-3", "dev-4", "dev-5"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dev-0", "dev-1", "dev-2"]


def test_an_assembly_used_within_the_grace_period_is_kept(tmp_path: Path) -> None:
    for i in range(4):
        _assembly(tmp_path, f"dev-{i}", OLD - i * 60)
    _age(tmp_path / "dev-3" / synth.LAST_USED, NOW - 60)  # used a minute ago, though written long ago

    removed = prune_assemblies(tmp_path, keep=0, now=NOW)

    assert sorted(p.name for p in removed) == ["dev-0", "dev-1", "dev-2"]
    assert (tmp_path / "dev-3" / "stack-name").exists()


def test_an_assembly_a_live_process_runs_from_is_kept(tmp_path: Path) -> None:
    for i in range(3):
        _assembly(tmp_path, f"dev-{i}", OLD - i * 60)
    mine = mark_in_use(tmp_path / "dev-2")
    assert mine.name == f"in-use.{os.getpid()}"
    (tmp_path / "dev-1" / f"in-use.{DEAD_PID}").touch()  # its process has gone

    removed = prune_assemblies(tmp_path, keep=1, now=NOW)

    assert [p.name for p in removed] == ["dev-1"]
    assert (tmp_path / "dev-2").is_dir()


def test_an_unfinished_assembly_is_removed_only_after_the_grace_period(tmp_path: Path) -> None:
    _assembly(tmp_path, "dev-new", NOW - 30, complete=False)  # a synthesis may be writing it
    _assembly(tmp_path, "dev-old", OLD, complete=False)  # a synthesis that died

    removed = prune_assemblies(tmp_path, keep=3, now=NOW)

    assert [p.name for p in removed] == ["dev-old"]
    assert (tmp_path / "dev-new").is_dir()


def test_writing_a_new_assembly_prunes_the_old_ones(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for i in range(4):
        _assembly(tmp_path, f"dev-old{i}", OLD - i * 60)
    monkeypatch.setattr(synth, "ASSEMBLY_ROOT", tmp_path)
    calls: list[list[str]] = []

    def fake_synth(command: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        calls.append(command)
        outdir = Path(command[command.index("--outdir") + 1])
        outdir.mkdir(parents=True)
        (outdir / "stack-name").write_text("Transcriber-dev")
        return subprocess.CompletedProcess(command, 0, "", "")

    monkeypatch.setattr(synth.subprocess, "run", fake_synth)

    outdir, stack = synth.synthesize("dev", {"engine": "pocketsphinx"})

    assert stack == "Transcriber-dev" and outdir.parent == tmp_path and len(calls) == 1
    assert (outdir / synth.LAST_USED).exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([outdir.name, "dev-old0", "dev-old1"])
    # the same sources again: no synthesis, nothing removed
    assert synth.synthesize("dev", {"engine": "pocketsphinx"}) == (outdir, stack)
    assert len(calls) == 1 and (tmp_path / "dev-old1").is_dir()


# Runtime folders -----------------------------------------------------------------------------------


def _runtime(root: Path, name: str, active: float) -> Path:
    folder = root / name
    (folder / "logs").mkdir(parents=True)
    (folder / "logs" / "Fn.log").write_text("log\n")
    (folder / "functions").mkdir()
    for entry in (folder / "logs" / "Fn.log", folder / "logs", folder / "functions", folder):
        _age(entry, active)
    return folder


def test_old_runtime_folders_are_pruned_but_not_live_or_recent_ones(tmp_path: Path) -> None:
    for i in range(6):
        _runtime(tmp_path, f"run{i}", OLD - i * 60)
    for owner, folder in (
        (os.getpid(), "run4"),
        (DEAD_PID, "run3"),
    ):  # this process runs in run4; run3's crashed
        (tmp_path / folder / f"owner.{owner}").touch()
        for entry in (tmp_path / folder / f"owner.{owner}", tmp_path / folder):
            _age(entry, OLD - 4 * 60)
    (tmp_path / "run5" / "logs" / "Fn.log").touch()  # an older version's pipeline, logging now

    removed = prune_runtime_dirs(tmp_path, keep=2, now=NOW)

    assert sorted(p.name for p in removed) == ["run1", "run2", "run3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run0", "run4", "run5"]
    # beyond the newest too: one logging now or owned by a live process stays
    assert [p.name for p in prune_runtime_dirs(tmp_path, keep=0, now=NOW)] == ["run0"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run4", "run5"]


@pytest.fixture
def runtime_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(pipeline, "RUNTIME_ROOT", tmp_path)
    monkeypatch.delenv(pipeline.KEEP_LOGS_ENV, raising=False)
    return tmp_path


def _stopped(local: LocalPipeline, *, job_failed: bool = False) -> Path:
    (local.work_dir / "logs").mkdir(parents=True)
    (local.work_dir / "logs" / "Fn.log").write_text("log\n")
    if job_failed:
        local.failed_jobs.append("job-1")
    local.stop()
    return local.work_dir


def test_a_successful_run_removes_its_runtime_folder(runtime_root: Path) -> None:
    work_dir = _stopped(LocalPipeline())
    assert work_dir.parent == runtime_root
    assert list(runtime_root.iterdir()) == []


def test_a_run_with_a_failed_job_keeps_its_logs_and_says_where(
    runtime_root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    work_dir = _stopped(LocalPipeline(), job_failed=True)
    assert (work_dir / "logs" / "Fn.log").exists()
    assert str(work_dir / "logs") in capsys.readouterr().err


def test_an_error_out_of_the_run_keeps_its_logs(runtime_root: Path) -> None:
    local = LocalPipeline()
    (local.work_dir / "logs").mkdir(parents=True)
    local.__exit__(ValueError, ValueError("boom"), None)
    assert local.failed and (local.work_dir / "logs").is_dir()


def test_logs_are_kept_when_asked(runtime_root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _stopped(LocalPipeline(keep_logs=True)).is_dir()
    monkeypatch.setenv(pipeline.KEEP_LOGS_ENV, "1")
    assert _stopped(LocalPipeline()).is_dir()


def test_a_work_dir_given_by_the_caller_is_never_removed(tmp_path: Path) -> None:
    assert _stopped(LocalPipeline(work_dir=tmp_path / "mine")).is_dir()


def test_a_failed_start_keeps_its_logs_and_releases_its_markers(
    runtime_root: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    assembly = tmp_path_factory.mktemp("assembly")
    _runtime(runtime_root, "stale", OLD)  # pruned at start: beyond the newest KEEP_RUNTIME_DIRS
    for i in range(pipeline.KEEP_RUNTIME_DIRS):
        _runtime(runtime_root, f"kept{i}", NOW - 2 * IN_USE_GRACE_S)
    monkeypatch.setattr(pipeline, "synthesize", lambda env, overrides: (assembly, "Stack"))
    monkeypatch.setattr(environment.LocalAws, "start", lambda self: None)

    def fail(self: Any, assembly_dir: Path, stack_name: str) -> Any:
        assert (assembly_dir / f"in-use.{os.getpid()}").exists()
        raise RuntimeError("deploy failed")

    monkeypatch.setattr(environment.LocalAws, "deploy", fail)
    local = LocalPipeline()
    with pytest.raises(RuntimeError, match="deploy failed"):
        local.start()
    assert not (runtime_root / "stale").exists()
    assert local.failed and local.work_dir.is_dir()
    assert list(assembly.iterdir()) == [] and list(local.work_dir.glob("owner.*")) == []


# Asset zips ----------------------------------------------------------------------------------------


def test_asset_zips_no_assembly_names_are_pruned(tmp_path: Path) -> None:
    assemblies, cache = tmp_path / "assembly", tmp_path / "assets"
    _assembly(assemblies, "dev-1", NOW, assets=("aaa", "bbb"))
    cache.mkdir()
    for name in ("aaa.zip", "bbb.zip", "old.zip", "fresh.zip", "old.123.part", "fresh.456.part", "notes.txt"):
        (cache / name).write_bytes(b"zip")
        _age(cache / name, OLD)
    _age(cache / "fresh.zip", NOW - 60)  # just zipped by a deploy whose assembly this one cannot see
    _age(cache / "fresh.456.part", NOW - 60)  # being written

    assert referenced_assets(assemblies) == {"aaa", "bbb"}
    removed = prune_asset_cache(cache, assemblies, now=NOW)

    assert sorted(p.name for p in removed) == ["old.123.part", "old.zip"]
    assert sorted(p.name for p in cache.iterdir()) == [
        "aaa.zip",
        "bbb.zip",
        "fresh.456.part",
        "fresh.zip",
        "notes.txt",
    ]
