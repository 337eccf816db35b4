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
import time
import wave
from pathlib import Path

import jiwer
import numpy as np
from pydub import AudioSegment

from bench.long_audio import RATE, load_clips
from bench.scoring import normalise
from transcriber.domain.chunking import ChunkingConfig, export_chunks, plan_chunks
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


def _score(reference: str, hypothesis: str) -> tuple[int, int, int, float]:
    result = jiwer.process_words(normalise(reference), normalise(hypothesis))
    return result.deletions, result.insertions, result.substitutions, result.wer


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=2.0)
    parser.add_argument("--chunk-seconds", type=float, default=7.0)
    args = parser.parse_args()
    engine = FasterWhisperEngine(cpu_threads=2)
    engine.load()
    with tempfile.TemporaryDirectory(prefix="seams-") as tmp:
        folder = Path(tmp)
        wav, reference = _continuous_speech(args.minutes, folder)
        audio = AudioSegment.from_wav(str(wav))
        duration = len(audio) / 1000
        whole = transcribe_chunk(engine, wav, ChunkSpec(index=0, offset=0.0, duration=duration))
        baseline = _score(reference, merge_chunks("whole", [whole], duration).text)
        rows = [("one pass, no seams", 0, *baseline, 0.0)]
        for overlap in (0.0, ChunkingConfig().seam_overlap_s):
            # Silence detection off (a silence longer than the file): every cut is inside speech.
            config = ChunkingConfig(
                min_silence_ms=int(duration * 1000) + 1,
                max_chunk_s=args.chunk_seconds,
                seam_overlap_s=overlap,
            )
            specs = plan_chunks(audio, config)
            paths = export_chunks(audio, specs, folder / f"chunks-{overlap}")
            started = time.perf_counter()
            parts = [transcribe_chunk(engine, p, s) for s, p in zip(specs, paths, strict=True)]
            elapsed = time.perf_counter() - started
            merged = merge_chunks("chunked", parts, duration)
            rows.append(
                (
                    f"{len(specs) - 1} forced seams, overlap {overlap:.1f} s",
                    len(specs) - 1,
                    *_score(reference, merged.text),
                    elapsed,
                )
            )
    print(
        f"continuous speech: {duration:.1f} s, {len(reference.split())} reference words, "
        f"chunks of at most {args.chunk_seconds:.0f} s (faster-whisper base int8, beam 5)"
    )
    header = f"{'run':38} {'deleted':>8} {'inserted':>9} {'subst':>6} {'WER':>7}"
    print(f"{header} {'lost@seams':>11} {'doubled@seams':>14}")
    base_del, base_ins = baseline[0], baseline[1]
    for name, _, deleted, inserted, substituted, wer, _elapsed in rows:
        print(
            f"{name:38} {deleted:8d} {inserted:9d} {substituted:6d} {wer:7.3f} "
            f"{deleted - base_del:11d} {inserted - base_ins:14d}"
        )


if __name__ == "__main__":
    main()
