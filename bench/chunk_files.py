"""Chunk WAV files for the benches that run the engine on chunks directly, cut as the pipeline cuts
them: each chunk's byte range of the converted WAV (``chunk_byte_ranges``), written as the
transcribe step writes it (``write_chunk_wav``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from transcriber.domain.chunking import chunk_byte_ranges, write_chunk_wav
from transcriber.domain.models import ChunkSpec


def cut_chunks(wav_path: Path, specs: Sequence[ChunkSpec], folder: Path) -> list[Path]:
    """``chunk-0000.wav``... in ``folder``, one per spec, in spec order, from a 16 kHz mono WAV."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    with wav_path.open("rb") as wav:
        for spec, span in zip(specs, chunk_byte_ranges(wav_path, specs), strict=True):
            wav.seek(span.first)
            paths.append(
                write_chunk_wav(folder / f"chunk-{spec.index:04d}.wav", wav.read(span.stop - span.first))
            )
    return paths
