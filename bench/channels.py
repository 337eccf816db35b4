"""Channel identification on a stereo call built from ../shared/eval: WER per channel and time.

Run: ``.venv/bin/python -m bench.channels [--repeat N] [--bleed-db DB] [--beam-size N]``

The "call" alternates turns between two people, each on a channel of their own (agent left:
LibriSpeech speaker 1089, five clips; customer right: the LibriVox reader, five clips, 6 dB quieter),
with gaps of 0.2-0.8 s and every third turn starting 0.5 s before the previous one ends (an
interruption). ``--bleed-db -30`` adds each channel to the other 30 dB down, as a headset or a
phone line leaks. Whole clips only, so every turn has its reference text; fixed seed.

It runs the chunk stage's domain code and the real engine (faster-whisper, Whisper base int8, the
weights assembled in the local cache) without the local stack: ffmpeg splits the stereo FLAC per
channel, leaked speech is muted, each channel is planned and cut, every chunk is transcribed, and
the channels are merged and interleaved (transcriber.domain.channels). For comparison the same
file runs without channel identification (ffmpeg's mono downmix), scored on the time-ordered
text of both people.
Figures: WER per channel, words attributed to the wrong channel, wall time of each phase.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path

import numpy as np

from bench.chunk_files import cut_chunks
from bench.long_audio import EVAL_DIR
from bench.scoring import normalise, wer
from transcriber.adapters.ffmpeg import convert_to_wav, ffmpeg_path, split_channels
from transcriber.domain.channels import MAX_CHANNELS, merge_by_channel, prepare_channel_chunks
from transcriber.domain.chunking import ChunkingConfig
from transcriber.domain.merge import merge_chunks
from transcriber.domain.models import ChunkTranscript
from transcriber.domain.options import JobOptions
from transcriber.domain.preparation import PreparedAudio, prepare_chunks
from transcriber.domain.recognition import transcribe_chunk
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine

RATE = 16_000
AGENT = (
    "ls-test-clean-1089-134686-0000",
    "ls-test-clean-1089-134686-0001",
    "ls-test-clean-1089-134691-0000",
    "ls-test-clean-1089-134691-0001",
    "ls-test-clean-1089-134686-0002",
)
CUSTOMER = (
    "librivox-ss01-0870",
    "librivox-ss01-0880",
    "librivox-ss01-0890",
    "librivox-ss01-0920",
    "librivox-ss01-0930",
)
CUSTOMER_GAIN_DB = -6.0
#: ../shared/eval beside the checkout (a git worktree sits one level deeper: then /work/shared/eval)
EVAL = EVAL_DIR if EVAL_DIR.is_dir() else Path("/work/shared/eval")


def build_call(out: Path, bleed_db: float | None, seed: int = 5) -> tuple[list[str], list[str], list[str]]:
    """Write the stereo call; returns each channel's reference turns and all turns in time order."""
    from faster_whisper.audio import decode_audio

    manifest = {e["id"]: e for e in map(json.loads, (EVAL / "manifest.jsonl").read_text().splitlines())}
    rng = np.random.default_rng(seed)
    turns = [turn for pair in zip(AGENT, CUSTOMER, strict=True) for turn in pair]
    placed: list[tuple[int, int, np.ndarray, str]] = []
    cursor = int(0.5 * RATE)
    for number, clip_id in enumerate(turns):
        entry = manifest[clip_id]
        samples = np.asarray(decode_audio(str(EVAL / entry["file"]), sampling_rate=RATE))
        channel = 0 if clip_id in AGENT else 1
        if number and number % 3 == 0:
            cursor -= int(0.5 * RATE)  # an interruption
        placed.append(
            (
                cursor,
                channel,
                samples * (1.0 if channel == 0 else 10 ** (CUSTOMER_GAIN_DB / 20)),
                entry["text"],
            )
        )
        cursor += len(samples) + int(rng.uniform(0.2, 0.8) * RATE)
    stereo = np.zeros((cursor + RATE // 2, 2), np.float32)
    for start, channel, samples, _ in placed:
        stereo[start : start + len(samples), channel] += samples
    if bleed_db is not None:
        leak = 10 ** (bleed_db / 20)
        stereo = stereo + leak * stereo[:, ::-1]
    stereo /= max(1.0, float(np.abs(stereo).max()))
    raw = out.with_suffix(".f32")
    raw.write_bytes(stereo.astype("<f4").tobytes())
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-y", "-f", "f32le", "-ar", str(RATE), "-ac", "2",
         "-i", str(raw), str(out)],
        check=True,
    )  # fmt: skip
    raw.unlink()
    texts = [[text for _, channel, _, text in placed if channel == c] for c in (0, 1)]
    return texts[0], texts[1], [text for *_, text in placed]


def transcribe_all(
    engine: FasterWhisperEngine, prepared: PreparedAudio, options: JobOptions, config: ChunkingConfig
) -> list[ChunkTranscript]:
    """Each chunk cut from its channel's WAV by its byte range, as the transcribe step reads it."""
    parts = []
    for channel, wav in enumerate(prepared.audio):
        specs = [spec for spec, _ in prepared.chunks if (spec.channel or 0) == channel]
        paths = cut_chunks(wav, specs, wav.parent / f"chunks-{channel}")
        for spec, path in zip(specs, paths, strict=True):
            parts.append(transcribe_chunk(engine, path, spec, language="en", options=options, config=config))
    return parts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--bleed-db", type=float, default=None, help="leak each channel into the other, e.g. -30"
    )
    parser.add_argument("--beam-size", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs to time (the figures are the fastest)")
    args = parser.parse_args(argv)
    config = ChunkingConfig()
    options = JobOptions(beam_size=args.beam_size, channel_identification=True)
    engine = FasterWhisperEngine(cpu_threads=2)
    engine.load()
    with tempfile.TemporaryDirectory(prefix="bench-channels-") as tmp:
        work = Path(tmp)
        call = work / "call.flac"
        left_ref, right_ref, all_ref = build_call(call, args.bleed_db)
        best: dict[str, float] = {}
        for run in range(args.repeat):
            run_dir = work / f"run{run}"
            started = time.perf_counter()
            prepared = prepare_channel_chunks(
                call, run_dir / "stereo", config=config, max_duration_s=4 * 3600,
                split=partial(split_channels, max_channels=MAX_CHANNELS),
            )  # fmt: skip
            split_s = time.perf_counter() - started
            parts = transcribe_all(engine, prepared, options, config)
            asr_s = time.perf_counter() - started - split_s
            channel_of = {spec.index: spec.channel or 0 for spec, _ in prepared.chunks}
            merged = merge_by_channel(
                parts, channel_of, partial(merge_chunks, "bench", duration=prepared.info.duration_s)
            )
            stereo_s = time.perf_counter() - started

            started = time.perf_counter()
            mono = prepare_chunks(
                call, run_dir / "mono", config=config, max_duration_s=4 * 3600, convert=convert_to_wav
            )
            mono_parts = transcribe_all(
                engine, mono, options.model_copy(update={"channel_identification": False}), config
            )
            mixed = merge_chunks("bench", mono_parts, mono.info.duration_s)
            mono_s = time.perf_counter() - started
            for name, value in (("split", split_s), ("asr", asr_s), ("stereo", stereo_s), ("mono", mono_s)):
                best[name] = min(best.get(name, value), value)

    texts = {c: " ".join(s.text for s in merged.segments if s.channel == c) for c in (0, 1)}
    refs = {0: " ".join(left_ref), 1: " ".join(right_ref)}
    own = {c: set(normalise(refs[c]).split()) - set(normalise(refs[1 - c]).split()) for c in (0, 1)}
    leaked = {c: sum(1 for w in normalise(texts[c]).split() if w in own[1 - c]) for c in (0, 1)}
    duration = prepared.info.duration_s
    print(
        f"stereo call: {duration:.1f} s, 2 channels, {len(left_ref)} + {len(right_ref)} turns, "
        f"bleed {args.bleed_db} dB"
    )
    print(f"chunks: {len(prepared.chunks)} with channel identification, {len(mono.chunks)} on the mono mix")
    for c in (0, 1):
        print(
            f"  ch_{c}: WER {wer(refs[c], texts[c]):.1%} ({len(normalise(refs[c]).split())} ref words), "
            f"{leaked[c]} words only the other channel said"
        )
    print(
        f"  mono mix without channel identification: WER {wer(' '.join(all_ref), mixed.text):.1%} "
        "(time-ordered)"
    )
    print(
        f"time (fastest of {args.repeat}): channel identification {best['stereo']:.2f} s "
        f"(split+plan {best['split']:.2f} s, transcribe {best['asr']:.2f} s, "
        f"RTF {best['stereo'] / duration:.3f}); "
        f"mono mix {best['mono']:.2f} s (RTF {best['mono'] / duration:.3f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
