"""What non-speech costs today: a podcast-like file with 30% non-speech against its speech alone.

    nice -n 10 .venv/bin/python -m bench.non_speech [--minutes 6] [--non-speech 0.3] [--seed 11]

The podcast-like file is built in code from the ../shared/eval speech clips (as bench/long_audio.py
does): blocks of 3-5 clips with ordinary 0.5-2 s pauses, each block after a stretch of non-speech
that together make ``--non-speech`` of the file: jingle-like chords, a ringback hold tone, a noise
bed around -30 dBFS and long silent pauses, in turn. The second file holds the same speech blocks
with nothing between them. Both go through the chunk step's planner and then, chunk by chunk,
through the transcribe step's recognition with the real engine (faster-whisper base int8, one
thread as in Lambda, the language pinned as the pipeline's vote does) and the aggregate step's merge.

Printed per file: chunks, audio handed to the engine, non-speech inside chunks, transcribe wall
and CPU seconds, WER, and the reference words found in one run but not the other. The difference
in CPU is what the non-speech costs: silent pauses are left out by the planner (no chunk covers
them) and music, tones and noise inside a chunk are dropped by the engine's own Silero VAD before
Whisper encodes anything. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from bench.long_audio import EVAL_DIR, RATE, Clip, load_clips
from bench.scoring import normalise
from transcriber.domain.chunking import ChunkingConfig, Span, export_chunks_from_file, plan_chunks_from_file
from transcriber.domain.merge import merge_chunks
from transcriber.domain.models import ChunkSpec
from transcriber.domain.recognition import transcribe_chunk
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine

NON_SPEECH_KINDS = ("music", "hold tone", "noise bed", "long pause")


def _tone(freqs: list[float], seconds: float, level: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    wave_sum = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in freqs)
    return level * np.asarray(wave_sum) / (1.3 * len(freqs))


def _music(seconds: float, rng: random.Random) -> np.ndarray:
    """Chords of half-second notes with a decaying envelope over a low pulse: jingle-like."""
    roots = [220.0, 246.9, 261.6, 293.7, 329.6, 349.2, 392.0]
    notes = []
    for _ in range(int(seconds / 0.5) + 1):
        root = rng.choice(roots)
        chord = _tone([root, root * 1.26, root * 1.5], 0.5, 0.25)
        chord *= np.exp(-np.arange(chord.size) / (0.3 * RATE))
        chord += _tone([55.0], 0.5, 0.2) * np.exp(-np.arange(chord.size) / (0.05 * RATE))
        notes.append(chord)
    return np.concatenate(notes)[: int(seconds * RATE)]


def _hold_tone(seconds: float) -> np.ndarray:
    """A ringback-style 440+480 Hz tone, 2 s on and 1 s off."""
    samples = _tone([440.0, 480.0], seconds, 0.2)
    gate = (np.arange(samples.size) / RATE) % 3.0 < 2.0
    return samples * gate


def _noise_bed(seconds: float, rng: np.random.Generator) -> np.ndarray:
    """Brownish noise around -30 dBFS: room tone or a hum, above the planner's -40 dBFS silence."""
    noise = np.cumsum(rng.normal(size=int(seconds * RATE)))
    noise -= np.convolve(noise, np.ones(400) / 400, mode="same")
    return 0.03 * noise / max(1e-9, float(np.std(noise)))


def _non_speech(kind: str, seconds: float, rng: random.Random, nrng: np.random.Generator) -> np.ndarray:
    if kind == "music":
        return _music(seconds, rng)
    if kind == "hold tone":
        return _hold_tone(seconds)
    if kind == "noise bed":
        return _noise_bed(seconds, nrng)
    return np.zeros(int(seconds * RATE))


@dataclass(frozen=True)
class TestFile:
    path: Path
    duration_s: float
    reference: str
    #: (kind, [start, end) in ms) of each stretch of non-speech
    non_speech: list[tuple[str, Span]]


def _write(samples: np.ndarray, path: Path) -> float:
    pcm = np.clip(samples * 32768.0, -32768, 32767).astype("<i2")
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes(pcm.tobytes())
    return pcm.size / RATE


def build_files(
    minutes: float, non_speech_share: float, clips: list[Clip], out_dir: Path, seed: int
) -> tuple[TestFile, TestFile]:
    """The podcast-like file and the same speech blocks back to back."""
    rng, nrng = random.Random(seed), np.random.default_rng(seed)
    speech_target = minutes * 60 * RATE * (1 - non_speech_share)
    order: list[Clip] = []
    blocks: list[np.ndarray] = []
    texts: list[str] = []
    total = 0
    while total < speech_target:
        parts = []
        for _ in range(rng.randint(3, 5)):
            if not order:
                order = list(clips)
                rng.shuffle(order)
            clip = order.pop()
            parts += [clip.samples.astype(np.float64) / 32768.0, np.zeros(int(rng.uniform(0.5, 2.0) * RATE))]
            texts.append(clip.text)
        blocks.append(np.concatenate(parts))
        total += blocks[-1].size
    gap_s = non_speech_share / (1 - non_speech_share) * total / RATE / len(blocks)
    pieces: list[np.ndarray] = []
    non_speech: list[tuple[str, Span]] = []
    at = 0
    for k, block in enumerate(blocks):
        kind = NON_SPEECH_KINDS[k % len(NON_SPEECH_KINDS)]
        filler = _non_speech(kind, gap_s, rng, nrng)
        non_speech.append((kind, (at * 1000 // RATE, (at + filler.size) * 1000 // RATE)))
        at += filler.size + block.size
        pieces += [filler, block]
    reference = " ".join(texts)
    podcast = out_dir / "podcast.wav"
    speech = out_dir / "speech-only.wav"
    return (
        TestFile(podcast, _write(np.concatenate(pieces), podcast), reference, non_speech),
        TestFile(speech, _write(np.concatenate(blocks), speech), reference, []),
    )


@dataclass(frozen=True)
class Run:
    name: str
    chunks: int
    audio_s: float
    non_speech_s: float
    wall_s: float
    cpu_s: float
    text: str
    specs: list[ChunkSpec]


def _seconds_within(specs: list[ChunkSpec], spans: list[Span]) -> float:
    return sum(
        max(0.0, min(spec.end, e / 1000) - max(spec.offset, s / 1000)) for spec in specs for s, e in spans
    )


def run_file(name: str, item: TestFile, engine: FasterWhisperEngine, folder: Path) -> Run:
    """Plan as the chunk step does, recognise each chunk as the transcribe step does, then merge."""
    specs = plan_chunks_from_file(item.path, ChunkingConfig())
    paths = export_chunks_from_file(item.path, specs, folder / name.replace(" ", "-"))
    wall, cpu = time.perf_counter(), time.process_time()
    parts = [
        transcribe_chunk(engine, path, spec, language="en") for spec, path in zip(specs, paths, strict=True)
    ]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    text = merge_chunks(name, parts, item.duration_s).text
    inside = _seconds_within(specs, [span for _, span in item.non_speech])
    return Run(name, len(specs), sum(s.duration for s in specs), inside, wall, cpu, text, specs)


def _found_words(reference: str, hypothesis: str) -> set[int]:
    """Indices of the (normalised) reference words the hypothesis got right."""
    result = jiwer.process_words(reference, hypothesis)
    return {
        i
        for chunk in result.alignments[0]
        if chunk.type == "equal"
        for i in range(chunk.ref_start_idx, chunk.ref_end_idx)
    }


def measure(minutes: float, non_speech_share: float, eval_dir: Path, seed: int) -> None:
    engine = FasterWhisperEngine(cpu_threads=1)
    engine.load()
    with tempfile.TemporaryDirectory(prefix="non-speech-") as tmp:
        folder = Path(tmp)
        podcast, speech = build_files(minutes, non_speech_share, load_clips(eval_dir), folder, seed)
        gaps = sum(e - s for _, (s, e) in podcast.non_speech) / 1000
        print(
            f"podcast-like file {podcast.duration_s:.1f} s: non-speech {gaps:.1f} s "
            f"({gaps / podcast.duration_s:.0%}; {', '.join(NON_SPEECH_KINDS)} in turn); "
            f"speech alone {speech.duration_s:.1f} s; {len(podcast.reference.split())} reference words"
        )
        runs = [
            run_file("podcast", podcast, engine, folder),
            run_file("speech alone", speech, engine, folder),
        ]
    by_kind = {kind: 0.0 for kind in NON_SPEECH_KINDS}
    for kind, span in podcast.non_speech:
        by_kind[kind] += _seconds_within(runs[0].specs, [span])
    reference = normalise(podcast.reference)
    print(
        f"{'file':14} {'chunks':>6} {'to engine s':>11} {'non-speech s':>13} "
        f"{'wall s':>7} {'cpu s':>7} {'WER':>6}"
    )
    for run in runs:
        wer = jiwer.wer(reference, normalise(run.text))
        print(
            f"{run.name:14} {run.chunks:6d} {run.audio_s:11.1f} {run.non_speech_s:13.1f} "
            f"{run.wall_s:7.1f} {run.cpu_s:7.1f} {wer:6.3f}"
        )
    print(
        "non-speech inside the podcast's chunks, by kind: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in by_kind.items())
    )
    with_gaps, alone = runs
    extra = with_gaps.cpu_s - alone.cpu_s
    print(
        f"what the {gaps:.0f} s of non-speech cost: transcribe CPU {extra:+.1f} s "
        f"({extra / alone.cpu_s:+.1%} over the speech alone; "
        f"{extra / gaps * 3600:+.0f} CPU s per hour of non-speech)"
    )
    found = [_found_words(reference, normalise(run.text)) for run in runs]
    print(
        f"reference words found in the speech alone but not in the podcast: {len(found[1] - found[0])} "
        f"(and {len(found[0] - found[1])} the other way) of {len(reference.split())}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--non-speech", type=float, default=0.3, help="share of the file that is not speech")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--seed", type=int, default=11, help="the order of clips and non-speech")
    args = parser.parse_args()
    measure(args.minutes, args.non_speech, args.eval_dir, args.seed)


if __name__ == "__main__":
    main()
