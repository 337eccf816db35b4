"""Does decoding several chunks' windows together pay on one thread? (what ``ItemBatcher`` would allow)

    nice -n 10 .venv/bin/python -m bench.batch_size [--minutes 5] [--batch-sizes 1 8] [--repeat 2]

A transcribe worker decodes on one thread (one vCPU at 1,769 MB). A Distributed Map batch of
several chunks per child would let one call decode their windows together, as faster-whisper's
batched mode does with ``batch_size``. This decodes one speech-with-pauses input (bench/long_audio.py)
with ``BatchedInferencePipeline`` on one thread at each batch size, alternating, with the engine's
decode options, and prints the wall and CPU time of each run. Figures only, no assertions.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from bench import long_audio
from transcriber.engines.faster_whisper_engine import decode_options
from transcriber.engines.weights import model_dir


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, default=5.0)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()

    from faster_whisper import BatchedInferencePipeline, WhisperModel

    model = WhisperModel(str(model_dir()), device="cpu", compute_type="int8", cpu_threads=1, num_workers=1)
    options = decode_options(language="en", beam_size=5, word_timestamps=True)
    with tempfile.TemporaryDirectory(prefix="batch-size-") as tmp:
        item = long_audio.build(args.minutes, Path(tmp), long_audio.load_clips())
        print(f"input {item.duration_s:.1f} s, {item.clips} clips; Whisper base int8, 1 thread, beam 5")
        print(f"{'trial':>5} {'batch':>5} {'segments':>8} {'wall s':>7} {'cpu s':>7}")
        for trial in range(1, args.repeat + 1):
            for batch_size in args.batch_sizes:
                wall, cpu = time.perf_counter(), time.process_time()
                segments, _ = BatchedInferencePipeline(model).transcribe(
                    str(item.path), batch_size=batch_size, without_timestamps=True, **options
                )
                count = len(list(segments))
                wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
                print(f"{trial:5d} {batch_size:5d} {count:8d} {wall:7.2f} {cpu:7.2f}", flush=True)


if __name__ == "__main__":
    main()
