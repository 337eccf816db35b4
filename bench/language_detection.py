"""What detecting the language costs a chunk, against decoding it in a language given.

    .venv/bin/python -m bench.language_detection [--repeat 3]

Every chunk of a job that names no language is decoded in the language detected on it (the job
then votes: transcriber/domain/language.py). This decodes three inputs built from ../shared/eval with the
engine on one thread, with the language given and without, alternating, and prints the CPU
seconds (medians) and how many 30-second windows Whisper's encoder ran over for each:

- the bundled sample (22.6 s, speech at its first sample: the sequential decoder);
- two LibriSpeech clips with pauses around them (16.1 s: batched mode, one window);
- the German long-form reading with pauses around it (69.6 s: batched mode, three windows).

Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from pydub import AudioSegment

from bench.long_audio import EVAL_DIR
from transcriber.adapters.ffmpeg import convert_to_wav
from transcriber.engines.base import DecodeOptions
from transcriber.engines.faster_whisper_engine import FasterWhisperEngine

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample.flac"
INPUTS = {
    "sample": ([SAMPLE], 0),
    "two clips": (
        [EVAL_DIR / "librispeech/1089-134686-0000.flac", EVAL_DIR / "librispeech/1089-134686-0001.flac"],
        800,
    ),
    "German reading": ([EVAL_DIR / "longform/aeneas_de.mp3"], 800),
}


def build(files: list[Path], pause_ms: int, out: Path) -> Path:
    """The files one after another as 16 kHz mono WAV, with ``pause_ms`` of silence around each."""
    audio = AudioSegment.silent(pause_ms, frame_rate=16_000)
    for index, source in enumerate(files):
        wav = out.with_name(f"{out.stem}-{index}.wav")
        convert_to_wav(source, wav)
        audio += AudioSegment.from_wav(str(wav)) + AudioSegment.silent(pause_ms, frame_rate=16_000)
    audio.set_channels(1).set_frame_rate(16_000).set_sample_width(2).export(str(out), format="wav")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    from faster_whisper import WhisperModel

    windows: list[int] = []
    encode = WhisperModel.encode

    def counted(self: WhisperModel, features: Any) -> Any:
        windows.append(1 if features.ndim == 2 else len(features))
        return encode(self, features)

    WhisperModel.encode = counted
    engine = FasterWhisperEngine(cpu_threads=1)
    engine.load()
    print("Whisper base int8, 1 thread, beam 5; CPU seconds, median of", args.repeat)
    print(f"{'input':<16} {'audio s':>7} {'language':>9} {'cpu s':>6} {'windows':>7} {'detected':>8}")
    with tempfile.TemporaryDirectory(prefix="bench-detect-") as tmp:
        for name, (files, pause_ms) in INPUTS.items():
            path = build(files, pause_ms, Path(tmp) / f"{name.replace(' ', '-')}.wav")
            duration = len(AudioSegment.from_wav(str(path))) / 1000
            detected = engine.transcribe(path, DecodeOptions(language=None)).language
            cpu: dict[str | None, list[float]] = {detected: [], None: []}
            passes: dict[str | None, int] = {}
            for _ in range(args.repeat):
                for language in (detected, None):
                    windows.clear()
                    started = time.process_time()
                    engine.transcribe(path, DecodeOptions(language=language))
                    cpu[language].append(time.process_time() - started)
                    passes[language] = sum(windows)
            for language in (detected, None):
                label = "given" if language else "detected"
                print(
                    f"{name:<16} {duration:7.1f} {label:>9} {statistics.median(cpu[language]):6.2f}"
                    f" {passes[language]:7d} {detected:>8}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
