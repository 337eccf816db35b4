"""Run one file through the whole local pipeline and print what it measured.

    .venv/bin/python -m bench.pipeline_run ../shared/eval/longform/concat_librispeech_librivox_16k.flac
    .venv/bin/python -m bench.pipeline_run samples/sample.flac --repeat 5

Prints wall times (deploy, transcription; with ``--repeat`` every run's and their median, each
run transcribing again on the same warm stack), chunks, peak parallel workers, and, when a reference
``<file>.segments.json`` lies beside the audio, how far each true utterance start is from the
nearest segment start, plus the word error rate against the reference text.
"""

from __future__ import annotations

import argparse
import json
import statistics
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
    parser.add_argument("file", type=Path)
    parser.add_argument("--engine", default="faster-whisper")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--max-chunk-seconds", type=int, default=None)
    parser.add_argument("--repeat", type=int, default=1, help="runs of the file on the same stack")
    args = parser.parse_args()

    overrides: dict[str, Any] = {"engine": args.engine}
    if args.max_chunk_seconds:
        overrides["max_chunk_seconds"] = args.max_chunk_seconds
    if args.workers:
        overrides["map_max_concurrency"] = args.workers
    t0 = time.perf_counter()
    with LocalPipeline(overrides=overrides, runtime=RuntimeSettings(concurrency=args.workers)) as pipeline:
        t1 = time.perf_counter()
        walls: list[float] = []
        for _ in range(args.repeat):
            started = time.time()
            # dedupe off: a repeated run transcribes again rather than reusing the first transcript
            submission = pipeline.submit(args.file, options=JobOptions(dedupe=False))
            job = pipeline.wait(submission.job_id)
            if job["status"] != "COMPLETED":
                raise SystemExit(f"job failed: {job.get('reason_code')}: {job.get('error_message')}")
            # to the record's own COMPLETED time, not to when the polling noticed it
            walls.append(parse_timestamp(job["completed_at"]).timestamp() - started)
        document = json.loads(pipeline.read_outputs(job)["json"])
        transcribe_peak, _ = pipeline.aws.runtime.stats.busiest("TranscribeFunction")

    print(f"file                 {args.file}")
    print(f"audio duration       {job['duration']:.1f} s")
    print(f"chunks               {job['chunks_total']}")
    print(f"parallel workers     {transcribe_peak} (peak concurrent transcribe invocations)")
    print(f"start + deploy       {t1 - t0:.1f} s")
    runs = " ".join(f"{w:.2f}" for w in walls)
    print(f"upload to outputs    {statistics.median(walls):.2f} s (median of {len(walls)}: {runs})")
    print(f"language             {job['language']}")
    print(f"segments             {len(document['segments'])}")
    reference = _reference(args.file)
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
