"""Long files through the Distributed Map on the local stack: wall time, chunks, WER, and what the
parent execution costs in Step Functions (its state transitions, its child executions, its
largest state payload), read from the execution history.

    nice -n 10 .venv/bin/python -m bench.map_run --minutes 10 240

Speech with pauses from ../shared/eval (bench/long_audio.py), faster-whisper on the dev stack.
Figures only: the machine is shared and timings are noisy. The children run as Express workflows
in AWS (billed per request and duration, not per transition); moto keeps no history of them, so
they are counted from the transcribe function's invocations.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import long_audio
from bench.scoring import wer
from transcriber.domain.jobs import parse_timestamp
from transcriber.domain.options import JobOptions

STATE_PAYLOAD_LIMIT = 262_144
#: dev's duration limit is 4 hours; the 4-hour input may run a few seconds over it
OVERRIDES = {"engine": "faster-whisper", "max_duration_minutes": 720}


def history(pipeline: Any, job_id: str) -> list[dict[str, Any]]:
    sfn = pipeline.aws.client("stepfunctions")
    arn = pipeline.workflow().execution_arn(job_id)
    return [
        e
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        for e in page["events"]
    ]


def payload_sizes(events: list[dict[str, Any]]) -> list[int]:
    """The byte size of every state input and output the history shows."""
    sizes = []
    for event in events:
        for details in (event.get("stateEnteredEventDetails"), event.get("stateExitedEventDetails")):
            for field in ("input", "output"):
                if details and details.get(field) is not None:
                    sizes.append(len(details[field].encode()))
    return sizes


def run(pipeline: Any, item: long_audio.LongInput) -> None:
    runtime = pipeline.aws.runtime
    before = {name: len(runs) for name, runs in runtime.stats.runs.items()}
    t0 = time.time()
    submission = pipeline.submit(item.path, options=JobOptions(dedupe=False))
    job = pipeline.wait(submission.job_id, timeout_s=6 * 3600, poll_s=2.0)
    if job["status"] != "COMPLETED":
        raise SystemExit(f"job failed: {job.get('reason_code')}: {job.get('error_message')}")
    wall = parse_timestamp(job["completed_at"]).timestamp() - t0
    text = json.loads(pipeline.read_outputs(job)["json"])["transcript"]
    events = history(pipeline, submission.job_id)
    transitions = sum(1 for e in events if e["type"].endswith("StateEntered"))
    invocations = {
        name: len(runs) - before.get(name, 0)
        for name, runs in runtime.stats.runs.items()
        if "TranscribeFunction" in name
    }
    sizes = payload_sizes(events)
    print(
        f"\n== {item.duration_s / 60:.0f} min: {item.duration_s:.1f} s of audio, {job['chunks_total']} chunks"
    )
    print(f"wall (upload to outputs)   {wall:8.1f} s   WER {wer(item.reference, text):.3f}")
    print(f"parent history             {len(events)} events, {transitions} state transitions")
    print(f"transcribe invocations     {sum(invocations.values())} (vote + one per chunk)")
    print(f"map run                    {job['chunks_total']} child executions (one per chunk)")
    print(
        f"largest state payload      {max(sizes)} bytes"
        f" ({100 * max(sizes) / STATE_PAYLOAD_LIMIT:.2f}% of 256 KB)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--minutes", type=float, nargs="+", default=[10])
    parser.add_argument("--workers", type=int, default=None, help="local workers per function")
    args = parser.parse_args()

    from localrun.environment import RuntimeSettings
    from localrun.pipeline import LocalPipeline

    print(
        f"started {time.strftime('%Y-%m-%d %H:%M:%S UTC', time.gmtime())}; Whisper base int8 (faster-whisper)"
    )
    # A worktree at /work/wt/<name> has the evaluation set at /work/shared/eval.
    eval_dir = next(
        (d for d in (long_audio.EVAL_DIR, Path("/work/shared/eval")) if d.is_dir()), long_audio.EVAL_DIR
    )
    clips = long_audio.load_clips(eval_dir)
    with (
        tempfile.TemporaryDirectory(prefix="bench-map-") as tmp,
        LocalPipeline(overrides=OVERRIDES, runtime=RuntimeSettings(concurrency=args.workers)) as pipeline,
    ):
        print(f"pipeline: {pipeline.aws.concurrency} warm workers per function")
        for minutes in args.minutes:
            run(pipeline, long_audio.build(minutes, Path(tmp), clips))


if __name__ == "__main__":
    main()
