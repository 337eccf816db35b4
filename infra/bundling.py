"""Build Lambda assets on this machine, without Docker (CDK's ``local`` bundling hook).

Function code is first-party only (the handler's package and ``transcriber``); third-party
packages go in a dependencies layer installed with pip for the target platform; ffmpeg comes
from its own layer. Each bundler also gives CDK a content hash so that an unchanged asset keeps
its hash, and so that CDK never fingerprints the whole repository.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

import aws_cdk as cdk
import jsii

from layers.ffmpeg.build import IMAGEIO_FFMPEG_VERSION, build_layer

REPO_ROOT = Path(__file__).resolve().parents[1]
CACHE_DIR = REPO_ROOT / ".cache" / "build"
# Lambda's Python 3.12 runtime is Amazon Linux 2023 (glibc 2.34): wheels tagged manylinux_2_28 run
# there as well as manylinux2014 (glibc 2.17) ones, and newer releases (numpy 2.3+) ship only the
# former. pip takes the tags as given, so both are listed.
PIP_PLATFORMS = {
    "arm64": ("manylinux_2_28_aarch64", "manylinux2014_aarch64"),
    "x86_64": ("manylinux_2_28_x86_64", "manylinux2014_x86_64"),
}
LAMBDA_PYTHON = "3.12"
# The full pinned closure (pip freeze of the development environment): the layer's pip takes it as
# constraints, so the transitive packages (botocore, cryptography, cffi, ...) are the tested ones,
# not whatever is newest when the layer is built.
CONSTRAINTS = REPO_ROOT / "requirements.lock"
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "Dockerfile", "requirements.txt")


def _files(paths: Iterable[Path]) -> list[Path]:
    found: list[Path] = []
    for path in paths:
        if path.is_file():
            found.append(path)
        else:
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file() and "__pycache__" not in p.parts)
    return found


def content_hash(paths: Iterable[Path], *extra: str) -> str:
    digest = hashlib.sha256()
    for item in extra:
        digest.update(item.encode())
    for file in _files(paths):
        digest.update(str(file.relative_to(REPO_ROOT)).encode())
        digest.update(file.read_bytes())
    return digest.hexdigest()


def _unused_image() -> cdk.DockerImage:
    # CDK requires an image for bundling; the local bundler always succeeds, so it is never pulled.
    return cdk.DockerImage.from_registry("public.ecr.aws/sam/build-python3.12")


@jsii.implements(cdk.ILocalBundling)
class _CopySources:
    def __init__(self, sources: list[Path]) -> None:
        self._sources = sources

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        out = Path(output_dir)
        for src in self._sources:
            dest = out / src.relative_to(REPO_ROOT)
            if src.is_dir():
                shutil.copytree(src, dest, ignore=_IGNORED, dirs_exist_ok=True)
            else:
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dest)
        return True


def function_code(name: str) -> cdk.aws_lambda.Code:
    """Zip asset of one function: ``functions/<name>/`` and the shared ``transcriber`` package."""
    sources = [
        REPO_ROOT / "functions" / "__init__.py",
        REPO_ROOT / "functions" / name,
        REPO_ROOT / "transcriber",
    ]
    return cdk.aws_lambda.Code.from_asset(
        str(REPO_ROOT / "functions" / name),
        asset_hash=content_hash(sources, name),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(image=_unused_image(), local=_CopySources(sources)),
    )


@jsii.implements(cdk.ILocalBundling)
class _PipInstall:
    def __init__(self, requirements: Path, architecture: str) -> None:
        self._requirements = requirements
        self._architecture = architecture

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        key = content_hash(
            [self._requirements, CONSTRAINTS], *PIP_PLATFORMS[self._architecture], LAMBDA_PYTHON
        )[:16]
        cached = CACHE_DIR / f"deps-{self._architecture}-{key}"
        if not cached.exists():
            # One staging folder per process: two synths at once (tests, make run) may build the same layer.
            staging = cached.with_name(f"{cached.name}.{os.getpid()}.tmp")
            shutil.rmtree(staging, ignore_errors=True)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target",
                    str(staging / "python"),
                    *(arg for tag in PIP_PLATFORMS[self._architecture] for arg in ("--platform", tag)),
                    "--implementation",
                    "cp",
                    "--python-version",
                    LAMBDA_PYTHON,
                    "--only-binary=:all:",
                    "--requirement",
                    str(self._requirements),
                    "--constraint",
                    str(CONSTRAINTS),
                ],
                check=True,
            )
            try:
                staging.rename(cached)
            except OSError:
                if not cached.exists():
                    raise
                shutil.rmtree(staging, ignore_errors=True)  # another process built it first: the same pins
        shutil.copytree(cached, output_dir, dirs_exist_ok=True)
        return True


def dependencies_layer_code(architecture: str) -> cdk.aws_lambda.Code:
    requirements = REPO_ROOT / "layers" / "dependencies" / "requirements.txt"
    return cdk.aws_lambda.Code.from_asset(
        str(requirements.parent),
        asset_hash=content_hash([requirements, CONSTRAINTS], architecture, LAMBDA_PYTHON),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(image=_unused_image(), local=_PipInstall(requirements, architecture)),
    )


@jsii.implements(cdk.ILocalBundling)
class _FfmpegLayer:
    def __init__(self, architecture: str) -> None:
        self._architecture = architecture

    def try_bundle(self, output_dir: str, *, image: cdk.DockerImage, **_: object) -> bool:
        build_layer(self._architecture, Path(output_dir), CACHE_DIR)
        return True


def ffmpeg_layer_code(architecture: str) -> cdk.aws_lambda.Code:
    folder = REPO_ROOT / "layers" / "ffmpeg"
    return cdk.aws_lambda.Code.from_asset(
        str(folder),
        asset_hash=content_hash([folder / "build.py"], architecture, IMAGEIO_FFMPEG_VERSION),
        asset_hash_type=cdk.AssetHashType.CUSTOM,
        bundling=cdk.BundlingOptions(image=_unused_image(), local=_FfmpegLayer(architecture)),
    )


def transcribe_image_code() -> cdk.aws_lambda.DockerImageCode:
    """The transcribe container image; built only at deploy time, never at synth."""
    return cdk.aws_lambda.DockerImageCode.from_image_asset(
        str(REPO_ROOT),
        file="functions/transcribe/Dockerfile",
        ignore_mode=cdk.IgnoreMode.DOCKER,
        exclude=["*", "!functions", "!transcriber", "**/__pycache__", "**/*.pyc"],
        cmd=["functions.transcribe.handler.handler"],
    )
