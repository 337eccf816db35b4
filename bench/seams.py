"""Lost and doubled words where chunks must be cut inside speech.

    .venv/bin/python -m bench.seams [--minutes 2] [--chunk-seconds 7]

Continuous read speech (the ../shared/eval clips back to back, no pauses) is planned with
silence detection switched off, so every cut falls inside speech, and transcribed chunk by chunk
with the real engine, once without overlap and once with the seam overlap the pipeline uses.
Both are scored against the reference, beside one pass over the whole file (no seams): the
deletions and insertions above that baseline are the words lost and doubled at seams.
"""

from __future__ import annotations

import argparse
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np
from pydub import AudioSegment

from bench.chunk_files import cut_chunks
from bench.long_audio import RATE, load_clips
from bench.scoring import normalise
from transcriber.domain.chunking import ChunkingConfig, plan_chunks
from transcriber.domain.merge import merge_chunks
from transcriber.domain.models import ChunkSpec
from transcriber.domain.recognition import transcribe_chunk
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine


def _continuous_speech(minutes: float, folder: Path) -> tuple[Path, str]:
    clips = load_clips()
    samples, texts, total = [], [], 0
    while total < minutes * 60 * RATE:
        for clip in clips:
            samples.append(clip.samples)
            texts.append(clip.text)
            total += len(clip.samples)
            if total >= minutes * 60 * RATE:
                break
    path = folder / "continuous.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(np.concatenate(samples).tobytes())
    return path, " ".join(texts)


def word_errors(reference: str, hypothesis: str) -> tuple[int, int, int, float]:
    result = jiwer.process_words(normalise(reference), normalise(hypothesis))
    return result.deletions, result.insertions, result.substitutions, result.wer


@dataclass(frozen=True)
class SeamRun:
    """One way of transcribing the speech, scored; lost/doubled are relative to the one-pass run."""

    run: str
    deleted: int
    inserted: int
    substituted: int
    wer: float
    lost: int
    doubled: int


@dataclass(frozen=True)
class SeamReport:
    duration_s: float
    reference_words: int
    chunk_seconds: float
    #: one pass with no seams first, then forced seams without and with the overlap
    runs: list[SeamRun]

    def table(self) -> str:
        lines = [
            f"continuous speech: {self.duration_s:.1f} s, {self.reference_words} reference words, "
            f"chunks of at most {self.chunk_seconds:.0f} s (faster-whisper base int8, beam 5)",
            f"{'run':38} {'deleted':>8} {'inserted':>9} {'subst':>6} {'WER':>7} "
            f"{'lost@seams':>11} {'doubled@seams':>14}",
        ]
        lines += [
            f"{r.run:38} {r.deleted:8d} {r.inserted:9d} {r.substituted:6d} {r.wer:7.3f} "
            f"{r.lost:11d} {r.doubled:14d}"
            for r in self.runs
        ]
        return "\n".join(lines)


def scored_runs(reference: str, transcripts: list[tuple[str, str]]) -> list[SeamRun]:
    """Score each (run name, transcript); the first is the one-pass baseline that lost and doubled
    words are counted against."""
    scores = [(name, word_errors(reference, text)) for name, text in transcripts]
    base_deleted, base_inserted = scores[0][1][0], scores[0][1][1]
    return [
        SeamRun(name, d, i, sub, wer, lost=d - base_deleted, doubled=i - base_inserted)
        for name, (d, i, sub, wer) in scores
    ]


def measure(minutes: float = 2.0, chunk_seconds: float = 7.0) -> SeamReport:
    """Transcribe continuous speech in one pass and with forced seams, without and with overlap."""
    engine = FasterWhisperEngine(cpu_threads=2)
    engine.load()
    with tempfile.TemporaryDirectory(prefix="seams-") as tmp:
        folder = Path(tmp)
        wav, reference = _continuous_speech(minutes, folder)
        audio = AudioSegment.from_wav(str(wav))
        duration = len(audio) / 1000
        whole = transcribe_chunk(engine, wav, ChunkSpec(index=0, offset=0.0, duration=duration))
        transcripts = [("one pass, no seams", merge_chunks("whole", [whole], duration).text)]
        for overlap in (0.0, ChunkingConfig().seam_overlap_s):
            # Silence detection off (a silence longer than the file): every cut is inside speech.
            config = ChunkingConfig(
                min_silence_ms=int(duration * 1000) + 1,
                max_chunk_seconds=chunk_seconds,
                seam_overlap_s=overlap,
            )
            specs = plan_chunks(audio, config)
            paths = cut_chunks(wav, specs, folder / f"chunks-{overlap}")
            parts = [transcribe_chunk(engine, p, s) for s, p in zip(specs, paths, strict=True)]
            name = f"{len(specs) - 1} forced seams, overlap {overlap:.1f} s"
            transcripts.append((name, merge_chunks("chunked", parts, duration).text))
    return SeamReport(duration, len(reference.split()), chunk_seconds, scored_runs(reference, transcripts))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--chunk-seconds", type=float, default=7.0)
    args = parser.parse_args()
    print(measure(args.minutes, args.chunk_seconds).table())


if __name__ == "__main__":
    main()
