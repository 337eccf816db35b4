"""What non-speech costs, and what planning from Silero's speech regions would save.

    nice -n 10 .venv/bin/python -m bench.non_speech [--minutes 6] [--non-speech 0.3] [--seeds 11 12 13]

The podcast-like file is built in code from the ../shared/eval speech clips (as bench/long_audio.py
does): blocks of 3-5 clips with ordinary 0.5-2 s pauses, each block after a stretch of non-speech
that together make ``--non-speech`` of the file: jingle-like chords, a ringback hold tone, a noise
bed around -30 dBFS and long silent pauses, in turn. The second file holds the same speech blocks
with nothing between them. Each plan below goes through the chunk export and then, chunk by chunk,
through the transcribe step's recognition with the real engine (faster-whisper base int8, one
thread as in Lambda, the language pinned as the pipeline's vote does) and the aggregate step's merge:

- ``current``: the chunk step's plan (its silence scan: silent pauses are left out, music, tones
  and noise count as sound and are dropped later by the engine's own Silero VAD inside a chunk);
- ``silero``: the same planner fed only the sound within ``--margin`` of a speech region that
  Silero (faster-whisper's VAD, the engine's options) finds in the whole file, so music, tones and
  noise neither make chunks nor fill a chunk's speech budget; once at the planner's speech share
  and once at ``--silero-share``;
- ``control``: the current plan at ``--control-share``, a change of plan that has nothing to do with
  non-speech, to show how many words any change of the decoded windows moves by itself;
- ``speech alone``: the speech-only file with the current plan, the floor.

Printed per seed and plan: chunks, audio handed to the engine, transcribe wall and CPU seconds,
WER, and the reference words the current plan found that the plan lost (and the other way).
Figures only, no assertions. The Silero plan is not what the chunk step does: onnxruntime, which
Silero runs on, is in the transcribe image only (see docs/performance.md).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
import wave
from dataclasses import dataclass
from pathlib import Path

import jiwer
import numpy as np

from bench.chunk_files import cut_chunks
from bench.long_audio import EVAL_DIR, RATE, Clip, load_clips
from bench.scoring import normalise
from transcriber.domain.chunking import (
    ChunkingConfig,
    Span,
    merge_overlaps,
    plan_from_speech,
    sound_spans_from_file,
)
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
    wall_s: float
    cpu_s: float
    wer: float
    found: set[int]


def silero_speech_ms(path: Path, block_s: int = 600) -> list[Span]:
    """Silero's speech regions in a 16 kHz mono WAV, ms, with the options the engine's batched
    mode uses; read ``block_s`` at a time, so a 12-hour file would not be held in memory."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    options = VadOptions(max_speech_duration_s=30, min_silence_duration_ms=160)
    spans: list[Span] = []
    with wave.open(str(path), "rb") as wav:
        first = 0
        while block := wav.readframes(block_s * RATE):
            audio = np.frombuffer(block, dtype="<i2").astype(np.float32) / 32768.0
            for found in get_speech_timestamps(audio, options):
                spans.append(((first + found["start"]) * 1000 // RATE, (first + found["end"]) * 1000 // RATE))
            first += audio.size
    return spans


def near(sound: list[Span], speech: list[Span], margin_ms: int) -> list[Span]:
    """The parts of ``sound`` within ``margin_ms`` of a ``speech`` span (both sorted)."""
    widened = merge_overlaps([(max(0, start - margin_ms), end + margin_ms) for start, end in speech])
    kept: list[Span] = []
    k = 0
    for start, end in sound:
        while k < len(widened) and widened[k][1] <= start:
            k += 1
        j = k
        while j < len(widened) and widened[j][0] < end:
            kept.append((max(start, widened[j][0]), min(end, widened[j][1])))
            j += 1
    return kept


def run_plan(
    name: str, item: TestFile, specs: list[ChunkSpec], engine: FasterWhisperEngine, folder: Path
) -> Run:
    """Cut the plan's chunks, recognise each as the transcribe step does, then merge and score."""
    paths = cut_chunks(item.path, specs, folder / name.replace(" ", "-"))
    wall, cpu = time.perf_counter(), time.process_time()
    parts = [
        transcribe_chunk(engine, path, spec, language="en") for spec, path in zip(specs, paths, strict=True)
    ]
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    reference = normalise(item.reference)
    text = normalise(merge_chunks(name, parts, item.duration_s).text)
    return Run(
        name,
        len(specs),
        sum(s.duration for s in specs),
        wall,
        cpu,
        jiwer.wer(reference, text),
        _found_words(reference, text),
    )


def _found_words(reference: str, hypothesis: str) -> set[int]:
    """Indices of the (normalised) reference words the hypothesis got right."""
    result = jiwer.process_words(reference, hypothesis)
    return {
        i
        for chunk in result.alignments[0]
        if chunk.type == "equal"
        for i in range(chunk.ref_start_idx, chunk.ref_end_idx)
    }


@dataclass(frozen=True)
class Settings:
    minutes: float
    non_speech: float
    margin_ms: int
    silero_share: float
    control_share: float


def measure_seed(seed: int, settings: Settings, clips: list[Clip], engine: FasterWhisperEngine) -> list[Run]:
    with tempfile.TemporaryDirectory(prefix="non-speech-") as tmp:
        folder = Path(tmp)
        podcast, speech = build_files(settings.minutes, settings.non_speech, clips, folder, seed)
        gaps = sum(e - s for _, (s, e) in podcast.non_speech) / 1000
        sound, duration_ms = sound_spans_from_file(podcast.path)
        t0 = time.perf_counter()
        speech_regions = silero_speech_ms(podcast.path)
        vad_s = time.perf_counter() - t0
        print(
            f"\n== seed {seed}: podcast-like file {podcast.duration_s:.1f} s, non-speech {gaps:.1f} s "
            f"({gaps / podcast.duration_s:.0%}); {len(podcast.reference.split())} reference words; "
            f"Silero over the whole file {vad_s:.2f} s"
        )
        speech_near = near(sound, speech_regions, settings.margin_ms)
        plans = {
            "current": plan_from_speech(sound, duration_ms, ChunkingConfig()),
            "silero": plan_from_speech(speech_near, duration_ms, ChunkingConfig()),
            f"silero {settings.silero_share}": plan_from_speech(
                speech_near, duration_ms, ChunkingConfig(speech_share=settings.silero_share)
            ),
            f"control {settings.control_share}": plan_from_speech(
                sound, duration_ms, ChunkingConfig(speech_share=settings.control_share)
            ),
        }
        runs = [run_plan(name, podcast, specs, engine, folder) for name, specs in plans.items()]
        alone = sound_spans_from_file(speech.path)
        runs.append(
            run_plan("speech alone", speech, plan_from_speech(*alone, ChunkingConfig()), engine, folder)
        )
    current = runs[0]
    print(
        f"{'plan':16} {'chunks':>6} {'to engine s':>11} {'wall s':>7} {'cpu s':>7} {'vs current':>10} "
        f"{'WER':>6} {'words lost':>10} {'gained':>6}"
    )
    for run in runs:
        print(
            f"{run.name:16} {run.chunks:6d} {run.audio_s:11.1f} {run.wall_s:7.1f} {run.cpu_s:7.1f} "
            f"{run.cpu_s / current.cpu_s - 1:+10.1%} {run.wer:6.3f} "
            f"{len(current.found - run.found):10d} {len(run.found - current.found):6d}"
        )
    return runs


def measure(seeds: list[int], settings: Settings, eval_dir: Path) -> None:
    engine = FasterWhisperEngine(cpu_threads=1)
    engine.load()
    clips = load_clips(eval_dir)
    by_plan: dict[str, list[Run]] = {}
    for seed in seeds:
        for run in measure_seed(seed, settings, clips, engine):
            by_plan.setdefault(run.name, []).append(run)
    current = by_plan["current"]
    print(f"\n== {len(seeds)} seed(s), summed (words: of the reference words the current plan found)")
    for name, runs in by_plan.items():
        cpu = sum(r.cpu_s for r in runs)
        lost = sum(len(c.found - r.found) for c, r in zip(current, runs, strict=True))
        gained = sum(len(r.found - c.found) for c, r in zip(current, runs, strict=True))
        wer = statistics.mean(r.wer for r in runs)
        print(
            f"{name:16} chunks {sum(r.chunks for r in runs):4d}  cpu {cpu:6.1f} s "
            f"({cpu / sum(r.cpu_s for r in current) - 1:+.1%})  mean WER {wer:.3f}  "
            f"words lost {lost}, gained {gained}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=6.0)
    parser.add_argument("--non-speech", type=float, default=0.3, help="share of the file that is not speech")
    parser.add_argument("--eval-dir", type=Path, default=EVAL_DIR)
    parser.add_argument("--seeds", type=int, nargs="+", default=[11, 12, 13], help="arrangements of clips")
    parser.add_argument("--margin", type=float, default=1.0, help="s of sound kept around Silero's speech")
    parser.add_argument("--silero-share", type=float, default=0.7)
    parser.add_argument("--control-share", type=float, default=0.8)
    args = parser.parse_args()
    settings = Settings(
        args.minutes, args.non_speech, round(args.margin * 1000), args.silero_share, args.control_share
    )
    measure(args.seeds, settings, args.eval_dir)


if __name__ == "__main__":
    main()
