"""The chunk step's peak memory, time and state payload on long audio.

    .venv/bin/python -m bench.chunk_memory --minutes 10 60 240
    .venv/bin/python -m bench.chunk_memory --minutes 10 --max-chunk-seconds 60 30 5

For each length it writes synthetic speech with pauses (harmonic tones with a syllable-rate
envelope, 1-15 s long, between 0.2-3 s pauses of faint noise) as a 16 kHz mono FLAC file in a
temporary folder, then runs ``prepare_chunks`` (ffmpeg to 16 kHz WAV, plan, each chunk's byte range: the chunk
handler's domain work, without S3) on it in a fresh child process per chunk-length setting, so that
the peak RSS (``VmHWM``) is that run's own. ffmpeg runs as a grandchild: its peak RSS is shown apart.

It also prints the chunk manifest's size (the chunk list the step writes to S3 for the
Distributed Map; the state gets a summary of constant size) and the most local disk the step held
at once (the upload and its WAV: what Lambda's /tmp must hold; infra sizes it
with ``transcriber.domain.preparation.scratch_bytes``). Figures only: timings are noisy.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from transcriber.adapters.ffmpeg import ffmpeg_path

RATE = 16_000
#: A job id as ingest makes them (32 hex characters), so the chunk keys have their real length.
JOB_ID = "9f86d081884c7d659a2feaa0c55ad015"


@dataclass(frozen=True)
class ChunkStepRun:
    audio_s: float
    chunks: int
    wall_s: float
    rss_before_mb: float
    peak_rss_mb: float
    ffmpeg_peak_mb: float
    manifest_bytes: int
    #: the upload and its converted WAV, both on disk at once
    disk_peak_bytes: int


def _status_mb(field: str) -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _speech_with_pauses(seconds: float, seed: int) -> Iterator[np.ndarray]:
    """int16 blocks of tone bursts ("speech") and faint noise ("pauses"), ``seconds`` in all."""
    rng = np.random.default_rng(seed)
    left = int(seconds * RATE)
    while left > 0:
        n = min(left, int(rng.uniform(1, 15) * RATE))
        t = np.arange(n) / RATE
        f0 = rng.uniform(90, 250)
        voice = sum(np.sin(2 * np.pi * h * f0 * t) / h for h in range(1, 5))
        envelope = 0.55 + 0.45 * np.sin(2 * np.pi * rng.uniform(3, 6) * t + rng.uniform(0, 6.3))
        yield (4000 * envelope * voice).astype(np.int16)
        left -= n
        n = min(left, int(rng.uniform(0.2, 3.0) * RATE))
        yield np.round(rng.normal(0, 10, n)).astype(np.int16)
        left -= n


def write_flac(path: Path, minutes: float, seed: int = 11) -> None:
    """Stream generated audio into ffmpeg's FLAC encoder, so no whole-file array is ever built."""
    command = [
        ffmpeg_path(), "-nostdin", "-loglevel", "error", "-f", "s16le", "-ar", str(RATE), "-ac", "1",
        "-i", "pipe:0", "-c:a", "flac", "-y", str(path),
    ]  # fmt: skip
    with subprocess.Popen(command, stdin=subprocess.PIPE) as encoder:
        assert encoder.stdin is not None
        for block in _speech_with_pauses(minutes * 60, seed):
            encoder.stdin.write(block.tobytes())
        encoder.stdin.close()
    if encoder.returncode:
        raise SystemExit(f"ffmpeg could not write {path}")


def _chunk_step(source: str, max_chunk_seconds: float) -> ChunkStepRun:
    """One chunk step, in a fresh process: its VmHWM is this run's own peak."""
    from transcriber.adapters.ffmpeg import convert_to_wav
    from transcriber.domain.chunking import ChunkingConfig
    from transcriber.domain.jobs import audio_key
    from transcriber.domain.messages import ChunkRef
    from transcriber.domain.preparation import WAV_BYTES_PER_SECOND, prepare_chunks

    rss_before = _status_mb("VmRSS")
    with tempfile.TemporaryDirectory(prefix="chunk-bench-") as tmp:
        started = time.perf_counter()
        prepared = prepare_chunks(
            Path(source),
            Path(tmp),
            config=ChunkingConfig(max_chunk_seconds=max_chunk_seconds),
            max_duration_s=1e9,
            convert=convert_to_wav,
        )
        wall = time.perf_counter() - started
    refs = [ChunkRef.of(spec, audio_key(JOB_ID), span).to_wire() for spec, span in prepared.chunks]
    wav_bytes = int(WAV_BYTES_PER_SECOND * prepared.info.duration_s)
    return ChunkStepRun(
        audio_s=prepared.info.duration_s,
        chunks=len(refs),
        wall_s=wall,
        rss_before_mb=rss_before,
        peak_rss_mb=_status_mb("VmHWM"),
        ffmpeg_peak_mb=resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        manifest_bytes=len(json.dumps(refs).encode()),
        disk_peak_bytes=Path(source).stat().st_size + wav_bytes,
    )


def run_chunk_step(source: Path, max_chunk_seconds: float) -> ChunkStepRun:
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(_chunk_step, (str(source), max_chunk_seconds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[10, 60])
    parser.add_argument(
        "--max-chunk-seconds", type=float, nargs="+", default=[60, 30], help="chunk-length settings"
    )
    args = parser.parse_args()
    print("chunk step: prepare_chunks on synthetic speech with pauses, 16 kHz mono FLAC input")
    print(
        f"{'minutes':>7}  {'max chunk':>9}  {'chunks':>6}  {'wall s':>6}  {'RSS before':>10}  "
        f"{'peak RSS':>8}  {'ffmpeg peak':>11}  {'manifest':>13}  {'disk peak':>9}"
    )
    for minutes in args.minutes:
        with tempfile.TemporaryDirectory(prefix="chunk-memory-") as tmp:
            source = Path(tmp) / f"speech_{minutes:g}min.flac"
            write_flac(source, minutes)
            for seconds in args.max_chunk_seconds:
                run = run_chunk_step(source, seconds)
                print(
                    f"{run.audio_s / 60:>7.1f}  {seconds:>7g} s  {run.chunks:>6}  {run.wall_s:>6.1f}  "
                    f"{run.rss_before_mb:>6.0f} MiB  {run.peak_rss_mb:>4.0f} MiB  "
                    f"{run.ffmpeg_peak_mb:>7.0f} MiB  {run.manifest_bytes:>7,} bytes  "
                    f"{run.disk_peak_bytes / 2**20:>5,.0f} MiB",
                    flush=True,
                )


if __name__ == "__main__":
    main()
