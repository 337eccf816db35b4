"""Run one file through the whole local pipeline and print what it measured.

    .venv/bin/python -m bench.pipeline_run ../shared/eval/longform/concat_librispeech_librivox_16k.flac
    .venv/bin/python -m bench.pipeline_run samples/sample.flac --repeat 5
    .venv/bin/python -m bench.pipeline_run --minutes 10 --repeat 3 --poll 2   # bench.compare's input

Prints wall times (deploy, transcription; with ``--repeat`` every run's and their median, each
run transcribing again on the same warm stack), chunks, peak parallel workers, and, when a reference
``<file>.segments.json`` lies beside the audio, how far each true utterance start is from the
nearest segment start, plus the word error rate against the reference text.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.scoring import start_errors, wer
from localrun.environment import RuntimeSettings
from localrun.pipeline import LocalPipeline
from transcriber.domain.jobs import parse_timestamp
from transcriber.domain.options import JobOptions


def _reference(audio: Path) -> dict[str, Any] | None:
    candidate = audio.with_name(audio.name.rsplit(".", 1)[0] + ".segments.json")
    return json.loads(candidate.read_text()) if candidate.exists() else None


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("file", type=Path, nargs="?", help="the audio (or give --minutes)")
    parser.add_argument(
        "--minutes", type=float, default=None, help="instead of a file: bench.compare's synthetic input"
    )
    parser.add_argument("--engine", default="faster-whisper")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--max-chunk-seconds", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs of the file on the same stack")
    parser.add_argument("--poll", type=float, default=0.25, help="seconds between job polls")
    args = parser.parse_args()
    if (args.file is None) == (args.minutes is None):
        parser.error("give a file or --minutes")
    if args.minutes is None:
        run(args, args.file)
        return
    from bench import long_audio

    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        run(args, long_audio.build(args.minutes, Path(tmp), long_audio.load_clips()).path)


def run(args: argparse.Namespace, audio: Path) -> None:
    """Deploy the local stack, transcribe ``audio`` ``args.repeat`` times, print the figures."""

    overrides: dict[str, Any] = {"engine": args.engine}
    if args.max_chunk_seconds:
        overrides["max_chunk_seconds"] = args.max_chunk_seconds
    if args.workers:
        overrides["map_max_concurrency"] = args.workers
    t0 = time.perf_counter()
    with LocalPipeline(overrides=overrides, runtime=RuntimeSettings(concurrency=args.workers)) as pipeline:
        t1 = time.perf_counter()
        walls: list[float] = []
        host_cpu: list[float] = []
        for _ in range(args.repeat):
            # process_time: this process (the embedded AWS), not the function workers
            started, cpu_before = time.time(), time.process_time()
            # dedupe off: a repeated run transcribes again rather than reusing the first transcript
            submission = pipeline.submit(audio, options=JobOptions(dedupe=False))
            job = pipeline.wait(submission.job_id, poll_s=args.poll)
            host_cpu.append(time.process_time() - cpu_before)
            if job["status"] != "COMPLETED":
                raise SystemExit(f"job failed: {job.get('reason_code')}: {job.get('error_message')}")
            # to the record's own COMPLETED time, not to when the polling noticed it
            walls.append(parse_timestamp(job["completed_at"]).timestamp() - started)
        document = json.loads(pipeline.read_outputs(job)["json"])
        transcribe_peak, _ = pipeline.aws.runtime.stats.busiest("TranscribeFunction")

    print(f"file                 {audio}")
    print(f"audio duration       {job['duration']:.1f} s")
    print(f"chunks               {job['chunks_total']}")
    print(f"parallel workers     {transcribe_peak} (peak concurrent transcribe invocations)")
    print(f"start + deploy       {t1 - t0:.1f} s")
    runs = " ".join(f"{w:.2f}" for w in walls)
    print(f"upload to outputs    {statistics.median(walls):.2f} s (median of {len(walls)}: {runs})")
    cpu = " ".join(f"{c:.2f}" for c in host_cpu)
    print(
        f"emulator CPU         {statistics.median(host_cpu):.2f} s (median of {len(host_cpu)}: {cpu}): this "
        "process (moto, the state machines, the upload, polling every "
        f"{args.poll:g} s), taken from the workers beside it"
    )
    print(f"language             {job['language']}")
    print(f"segments             {len(document['segments'])}")
    reference = _reference(audio)
    if reference:
        errors = start_errors([u["start"] for u in reference["segments"]], document["segments"])
        within = sum(e <= 0.5 for e in errors)
        print(f"utterance starts     {within} of {len(errors)} within 0.5 s of a segment start")
        print(
            f"start error          median {statistics.median(errors):.3f} s, max {max(errors):.3f} s, "
            f"last {errors[-1]:.3f} s"
        )
        truth = " ".join(u["text"] for u in reference["segments"])
        print(f"WER                  {wer(truth, document['transcript']):.3f}")
    print(f"transcript           {document['transcript'][:300]}")


if __name__ == "__main__":
    main()
