"""Build the ffmpeg Lambda layer from the imageio-ffmpeg wheel: nothing outside PyPI is fetched.

The layer holds ``bin/ffmpeg`` (Lambda mounts it at ``/opt/bin/ffmpeg``). The wheel for the
target architecture is downloaded once into a cache folder and the binary extracted from it.
imageio-ffmpeg 0.8.x needs glibc 2.28+, which the Python 3.12 runtime (Amazon Linux 2023) has.

    python layers/ffmpeg/build.py --arch arm64 --dest build/ffmpeg-layer
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from pathlib import Path

IMAGEIO_FFMPEG_VERSION = "0.8.1"
PLATFORMS = {"arm64": "manylinux_2_28_aarch64", "x86_64": "manylinux_2_28_x86_64"}
DEFAULT_CACHE = Path(__file__).resolve().parents[2] / ".cache" / "build"


def _wheel(arch: str, cache: Path) -> Path:
    folder = cache / f"imageio-ffmpeg-{IMAGEIO_FFMPEG_VERSION}-{arch}"
    found = sorted(folder.glob("imageio_ffmpeg-*.whl"))
    if found:
        return found[0]
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--quiet",
            "--no-deps",
            "--only-binary=:all:",
            "--platform",
            PLATFORMS[arch],
            "--dest",
            str(folder),
            f"imageio-ffmpeg=={IMAGEIO_FFMPEG_VERSION}",
        ],
        check=True,
    )
    return sorted(folder.glob("imageio_ffmpeg-*.whl"))[0]


def extracted_binary(arch: str, cache: Path = DEFAULT_CACHE) -> Path:
    """The ffmpeg binary for ``arch``, extracted once into the cache."""
    if arch not in PLATFORMS:
        raise ValueError(f"unknown architecture {arch!r}; choose one of {sorted(PLATFORMS)}")
    target = cache / f"ffmpeg-{IMAGEIO_FFMPEG_VERSION}-{arch}" / "ffmpeg"
    if target.exists():
        return target
    wheel = _wheel(arch, cache)
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if "/binaries/ffmpeg" in n]
        if len(names) != 1:
            raise RuntimeError(f"expected one ffmpeg binary in {wheel.name}, found {names}")
        target.parent.mkdir(parents=True, exist_ok=True)
        partial = target.with_suffix(".part")
        with zf.open(names[0]) as src, partial.open("wb") as dst:
            shutil.copyfileobj(src, dst)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(target)
    return target


def build_layer(arch: str, dest: Path, cache: Path = DEFAULT_CACHE) -> Path:
    """Lay out the layer folder: ``dest/bin/ffmpeg``."""
    binary = extracted_binary(arch, cache)
    out = dest / "bin" / "ffmpeg"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.unlink(missing_ok=True)
    try:
        os.link(binary, out)  # the binary is large; a hard link avoids a copy per synth
    except OSError:
        shutil.copy2(binary, out)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--arch", choices=sorted(PLATFORMS), default="arm64")
    parser.add_argument("--dest", type=Path, required=True)
    args = parser.parse_args()
    print(build_layer(args.arch, args.dest))


if __name__ == "__main__":
    main()
