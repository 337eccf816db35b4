"""Throughput: N short uploads at once on the local stack; what became of each, and where the time went.

    nice -n 10 .venv/bin/python -m bench.throughput --jobs 1000 [--seconds 3] [--identical]

One local stack is deployed (pocketsphinx engine by default: this measures the pipeline, not
the speech model). N clips of a few seconds of eval speech are put into the input bucket at
once, so every job starts from its S3 event (ingest), as an upload does in AWS. Each clip is
the same speech with a tiny, inaudible per-upload change (one sample's lowest bit pattern), so
each has its own content hash and is really transcribed; ``--identical`` uploads the very same
bytes N times with de-duplication on, to see how many the service reuses.

Prints jobs completed, failed and lost (lost: no terminal job record, an execution still
running, or a completed job without its outputs), duplicates detected, jobs per hour over the
wall time, and where the time went: per job (upload to ingest's record, record to the start
of the chunk step, start to completion) and per function (time waiting for a free worker, run
time, workers and peak parallel invocations), plus peak memory, Step Functions retries and S3
notification retries. Prints figures only; exits non-zero when a job was lost.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import statistics
import subprocess
import tempfile
import time
import wave
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from bench.api_uploads import api_uploads
from bench.long_audio import EVAL_DIR
from bench.soak import Outcome, _drain_dead_letters, _vm_hwm_mb, count_history
from localrun.environment import RuntimeSettings
from localrun.pipeline import LocalPipeline, Submission
from transcriber.adapters.ffmpeg import ffmpeg_path
from transcriber.domain.jobs import JobStatus, parse_timestamp
from transcriber.domain.options import JobOptions

#: ../shared/eval beside the checkout (a git worktree sits one level deeper: then /work/shared/eval)
EVAL = EVAL_DIR if EVAL_DIR.is_dir() else Path("/work/shared/eval")
EVAL_CLIP = EVAL / "librispeech" / "1089-134686-0000.flac"
_FUNCTION = re.compile(r"-(\w+?)Function[0-9A-F]{8}-")
RATE = 16_000


def speech_pcm(source: Path, seconds: float) -> bytes:
    """The first ``seconds`` of ``source`` as 16 kHz mono 16-bit PCM (decoded in memory)."""
    return subprocess.run(
        [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-i", str(source), "-t", str(seconds),
         "-ac", "1", "-ar", str(RATE), "-f", "s16le", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip


def distinct_wav(pcm: bytes, index: int) -> bytes:
    """``pcm`` as a WAV whose last 3 samples carry ``index`` in their low byte: new content, same speech."""
    body = bytearray(pcm)
    for n, byte in enumerate(index.to_bytes(3, "big")):
        body[len(body) - 6 + 2 * n] = byte  # little-endian: the low byte of each of the last samples
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(RATE)
        wav.writeframes(bytes(body))
    return out.getvalue()


def _seconds(later: Any, earlier: Any) -> float | None:
    if not later or not earlier:
        return None
    return (parse_timestamp(str(later)) - parse_timestamp(str(earlier))).total_seconds()


def _role(function_name: str) -> str:
    """The function's part of its deployed name: ``Transcriber-dev-ChunkFunction1A2B3C4D-X`` -> chunk."""
    match = _FUNCTION.search(function_name + "-")
    return match.group(1).lower() if match else function_name


def _spread(values: list[float]) -> str:
    if not values:
        return "-"
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return f"median {statistics.median(ordered):6.2f} s  p95 {p95:6.2f} s  max {ordered[-1]:6.2f} s"


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time a live process has used, in seconds (Linux; 0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _scan_jobs(pipeline: LocalPipeline) -> dict[str, dict[str, Any]]:
    """Every job record, by id: one paginated Scan instead of a GetItem per job and poll.

    The embedded AWS serves every request in this process; a thousand GetItems every half
    second would take the CPU the pipeline is being measured on.
    """
    table = pipeline.aws.resource("dynamodb").Table(pipeline.stack.jobs_table)
    records: dict[str, dict[str, Any]] = {}
    kwargs: dict[str, Any] = {}
    while True:
        page = table.scan(**kwargs)
        records.update({str(item["job_id"]): item for item in page["Items"]})
        if "LastEvaluatedKey" not in page:
            return records
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def settle(
    pipeline: LocalPipeline, outcomes: list[Outcome], timeout_s: float, started: float
) -> list[Outcome]:
    """Wait until every job is terminal with its execution ended (or dead-lettered), or time is up.

    Prints a progress line every 30 s, so a run stopped early still tells the rate it reached.
    Returns the jobs still unsettled when time ran out.
    """
    workflow, sqs = pipeline.workflow(), pipeline.aws.client("sqs")
    dead_letters: set[str] = set()
    deadline = time.monotonic() + timeout_s
    pending, reported = list(outcomes), time.monotonic()
    while pending and time.monotonic() < deadline:
        dead_letters |= _drain_dead_letters(pipeline, sqs)
        # runs first, records second: a job failed in between is seen FAILED, not lost
        ended = _ended_unsuccessfully(pipeline)
        records, still = _scan_jobs(pipeline), []
        for outcome in pending:
            outcome.record = records.get(outcome.submission.job_id)
            if outcome.submission.job_id in ended:  # a failed run: if its job is not terminal, it is lost
                outcome.execution = ended[outcome.submission.job_id]
                outcome.settled_at = time.monotonic() - started
                continue
            if not outcome.observe(outcome.record, workflow, dead_letters, time.monotonic() - started):
                still.append(outcome)
        pending = still
        if time.monotonic() - reported >= 30 or not pending:
            reported, elapsed = time.monotonic(), time.monotonic() - started
            done = len(outcomes) - len(pending)
            rate = done * 3600 / elapsed
            print(f"  [{elapsed:7.0f} s] settled {done}/{len(outcomes)}  ({rate:.0f} jobs/h)", flush=True)
        if pending:
            time.sleep(5)
    for outcome in pending:  # out of time: whatever they are now is what they are
        outcome.execution = workflow.status(outcome.submission.job_id)
    return pending


def _ended_unsuccessfully(pipeline: LocalPipeline) -> dict[str, str]:
    """Execution name -> status of every execution that failed, timed out or was aborted: a few
    list calls, where asking after each unsettled job would be a call per job and poll."""
    sfn, ended = pipeline.aws.client("stepfunctions"), {}
    paginator = sfn.get_paginator("list_executions")
    for status in ("FAILED", "TIMED_OUT", "ABORTED"):
        pages = paginator.paginate(stateMachineArn=pipeline.stack.state_machine_arn, statusFilter=status)
        ended.update({e["name"]: status for page in pages for e in page["executions"]})
    return ended


def _stored_keys(pipeline: LocalPipeline) -> set[str]:
    """s3://bucket/key of every object in the results bucket."""
    bucket = pipeline.stack.results_bucket
    paginator = pipeline.aws.client("s3").get_paginator("list_objects_v2")
    return {
        f"s3://{bucket}/{o['Key']}"
        for page in paginator.paginate(Bucket=bucket)
        for o in page.get("Contents", [])
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=3.0, help="length of each clip")
    parser.add_argument("--source", type=Path, default=EVAL_CLIP, help="speech the clips are cut from")
    parser.add_argument("--identical", action="store_true", help="the same bytes N times, dedup on")
    parser.add_argument("--engine", default="pocketsphinx", choices=("pocketsphinx", "faster-whisper"))
    parser.add_argument("--workers", type=int, default=None, help="warm workers per function")
    parser.add_argument("--uploaders", type=int, default=16, help="threads putting the uploads")
    parser.add_argument(
        "--throttle-at", type=int, default=None, help="refuse the state machine's calls to a function "
        "with this many invocations in flight, as Lambda's concurrency limit does (default: queue)",
    )  # fmt: skip
    parser.add_argument(
        "--inline-queues", action="store_true",
        help="moto's SQS-to-Lambda delivery inside SendMessage (default: apart, as in AWS)",
    )  # fmt: skip
    parser.add_argument("--api-share", type=float, default=0.0, help="0 to 1: uploads via the HTTP API")
    parser.add_argument("--timeout", type=float, default=3600, help="seconds to wait for all jobs")
    args = parser.parse_args()
    if args.jobs < 1 or not 0 <= args.api_share <= 1:
        parser.error("--jobs must be at least 1 and --api-share between 0 and 1")
    via_api = round(args.jobs * args.api_share)

    pcm = speech_pcm(args.source, args.seconds)
    options = JobOptions(dedupe=args.identical)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="throughput-") as scratch:
        clips = []
        for index in range(1 if args.identical else args.jobs):
            clips.append(Path(scratch) / f"clip-{index:05d}.wav")
            clips[-1].write_bytes(distinct_wav(pcm, index))
        with (
            LocalPipeline(
                overrides={"engine": args.engine},
                runtime=RuntimeSettings(
                    concurrency=args.workers,
                    throttle_at=args.throttle_at,
                    async_queues=not args.inline_queues,
                ),
            ) as pipeline,
            api_uploads(pipeline) as api,
        ):
            deployed = time.perf_counter() - t0
            started = time.monotonic()
            upload_times: dict[str, float] = {}

            def upload(index: int) -> Submission:
                clip = clips[0 if args.identical else index]
                if index < via_api:  # the first ones, so that they are not all behind the S3 burst
                    # The API creates the job record before the upload: no "upload -> ingested" span.
                    return api.submit(clip.read_bytes(), clip.name, options)
                submission = pipeline.submit(clip, options=options)
                upload_times[submission.job_id] = time.time()
                return submission

            with ThreadPoolExecutor(max_workers=args.uploaders) as uploads:
                submissions = list(uploads.map(upload, range(args.jobs)))
            submitted = time.monotonic() - started
            outcomes = [Outcome(submission) for submission in submissions]
            unsettled = settle(pipeline, outcomes, args.timeout, started)
            wall = max((o.settled_at or time.monotonic() - started) for o in outcomes)
            history = count_history(pipeline, outcomes)
            completed = [o for o in outcomes if o.status == JobStatus.COMPLETED.value and o.record]
            stored = _stored_keys(pipeline)
            no_outputs = [
                o
                for o in completed
                if o.record and not (o.record.get("outputs") and set(o.record["outputs"].values()) <= stored)
            ]
            runtime = pipeline.aws.runtime
            notifications = pipeline.aws.s3_notifications
            functions = {
                name: (
                    runtime.stats.waits.get(name, []),
                    [end - start for _, start, end in runs],
                    runtime.stats.workers(name),
                    runtime.stats.peak_parallel(name),
                    max(runtime.peak_rss_mb(name).values(), default=0.0),
                    sum(cpu_seconds(pid) for pid in runtime.worker_pids(name)),
                )
                for name, runs in runtime.stats.runs.items()
            }
            queues = pipeline.aws.queue_deliveries
            queue_retries = f"{queues.retried}; dead-lettered {queues.dead_lettered}" if queues else "inline"
            notify_retries = notifications.retried if notifications else 0
            notify_dead = notifications.dead_lettered if notifications else 0
            concurrency = pipeline.aws.concurrency
            limit = pipeline.aws.concurrency_limit
            throttled = {_role(name): n for name, n in limit.throttled.items()} if limit else {}

    statuses = Counter(o.status or "no record" for o in outcomes)
    reasons = Counter(
        str(o.record.get("reason_code")) for o in outcomes if o.record and o.status == JobStatus.FAILED.value
    )
    unsettled = [o for o in unsettled if o.execution in (None, "RUNNING")]  # the rest have ended
    lost = [o for o in outcomes if o.lost and o not in unsettled] + no_outputs
    duplicates = sum(1 for o in completed if o.record and o.record.get("duplicate_of"))
    records = [o.record for o in outcomes if o.record]
    to_ingest = [
        (parse_timestamp(str(r["created_at"])).timestamp() - upload_times[r["job_id"]])
        for r in records
        if r.get("created_at") and r["job_id"] in upload_times
    ]

    print(f"clips                {args.jobs} x {args.seconds:g} s of {args.source.name}", end="")
    print(" (identical bytes, dedup on)" if args.identical else " (each distinct, dedup off)")
    print(f"engine               {args.engine}")
    print(f"start + deploy       {deployed:.1f} s")
    print(f"uploads              {args.jobs} in {submitted:.1f} s from {args.uploaders} threads", end="")
    print(f" ({via_api} via the HTTP API, {args.jobs - via_api} straight to S3)")
    print(f"completed            {statuses.get(JobStatus.COMPLETED.value, 0)}")
    print(f"failed               {statuses.get(JobStatus.FAILED.value, 0)}", end="")
    print(f"  {dict(sorted(reasons.items()))}" if reasons else "")
    print(
        f"lost                 {len(lost)}"
        + (f" ({len(no_outputs)} completed without outputs)" if no_outputs else "")
    )
    if unsettled:
        print(f"unsettled            {len(unsettled)} still running when --timeout ran out")
    for outcome in lost[:20]:
        print(f"  {outcome.submission.job_id}: record {outcome.status}, execution {outcome.execution}")
    print(f"duplicates detected  {duplicates}")
    print(f"wall time            {wall:.1f} s (first upload until every job settled)")
    print(f"jobs per hour        {len(completed) * 3600 / wall:.0f} completed (wall)")
    print("per job (from the job records' timestamps):")
    if to_ingest:  # uploads straight to S3 only: an API job's record exists before its upload
        print(f"  upload -> ingested {_spread(to_ingest)}")
    for label, later, earlier in (("record -> chunk   ", "started_at", "created_at"),
                                  ("chunk -> completed", "completed_at", "started_at")):  # fmt: skip
        spans = [_seconds(r.get(later), r.get(earlier)) for r in records]
        print(f"  {label} {_spread([s for s in spans if s is not None])}")
    print(f"per function: wait for a free worker, run time (limit {concurrency} workers each)")
    own_cpu = sum(os.times()[:2])
    workers_cpu = sum(f[5] for f in functions.values())
    print(f"cpu                  {own_cpu:.0f} s this process (embedded AWS, interpreter, uploads, polling),")
    print(f"                     {workers_cpu:.0f} s the function workers (still alive at the end)")
    if completed:  # a rate that does not depend on what else the shared cores were doing
        per_job = (own_cpu + workers_cpu) / len(completed)
        print(f"cpu per completed job {per_job:.1f} s: {3600 / per_job:.0f} jobs/hour per core had the")
        print("                     pipeline the core to itself (unfinished jobs' work counts against it)")
    for name, (waits, runs, workers, peak, rss, cpu) in sorted(functions.items()):
        role = _role(name)
        print(f"  {role[:28]:<28} {len(runs)} invocations, {workers} worker(s), peak {peak}, {rss:.0f} MiB")
        print(f"    wait {_spread(waits)}")
        print(f"    run  {_spread(runs)}  total {sum(runs):.0f} s, cpu {cpu:.0f} s")
    print(f"peak memory          {_vm_hwm_mb():.0f} MiB this process (embedded AWS, state machines, uploads)")
    failed_attempts = dict(history.failed_attempts.most_common())
    print(f"executions           {history.executions}")
    attempts = f"{sum(failed_attempts.values())} {failed_attempts or ''}".rstrip()
    print(f"sfn retries          {history.retries}; failed task attempts {attempts}")
    print(f"s3 event retries     {notify_retries}; dead-lettered at ingest {notify_dead}")
    print(f"sqs batch retries    {queue_retries} (event consumers: indexer, notifier, pusher)")
    if limit is None:
        print("throttling           not emulated: invocations beyond the worker limit wait (see 'wait')")
    else:
        print(f"throttled            {sum(throttled.values())} state machine calls refused at "
              f"{args.throttle_at} in flight {throttled or ''}".rstrip())  # fmt: skip
    if lost:
        raise SystemExit(f"{len(lost)} job(s) lost")


if __name__ == "__main__":
    main()
