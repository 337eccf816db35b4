"""Soak: N jobs through the local pipeline with injected faults; prints what became of every one.

    .venv/bin/python -m bench.soak --jobs 20 --fault-rate 0.3 [--engine pocketsphinx|faster-whisper]

One local stack is deployed with ``fault_rate`` (cdk.json's setting, see transcriber/faults.py)
and the engine overridden. The same audio is uploaded N times at once, with content reuse off so
each upload is transcribed: by default the bundled sample played twice (45 s, two chunks, so
every job runs a Map of two chunks and the language vote after it). The script waits until every job
has settled, then prints:

- jobs submitted, completed, and failed by reason code;
- lost: submitted jobs with no terminal record, or whose execution is still running at the end
  (must be 0; uploads whose S3 event went to ingest's dead-letter queue are counted here too);
- retries: Lambda task attempts that Step Functions retried after a failure, from every
  execution's history, and the failed attempts by error name;
- injected faults, by function and target, counted from the functions' logs;
- wall time from the first upload until every job had settled.

Exits non-zero when a job was lost.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

from localrun.environment import RuntimeSettings
from localrun.pipeline import LocalPipeline, Submission
from transcriber.adapters.ffmpeg import ffmpeg_path
from transcriber.domain.jobs import JobStatus
from transcriber.domain.options import JobOptions
from transcriber.faults import LOG_EVENT, MESSAGE_PREFIX

SAMPLE = Path(__file__).resolve().parents[1] / "samples" / "sample.flac"
#: History events that end a failed attempt of a Lambda task (optimised and legacy integrations).
FAILED_ATTEMPTS = frozenset({"LambdaFunctionFailed", "LambdaFunctionTimedOut", "TaskFailed", "TaskTimedOut"})
SCHEDULED = frozenset({"LambdaFunctionScheduled", "TaskScheduled"})
_FAULT_LINE = re.compile(rf"{LOG_EVENT} target=(\w+) operation=(\w+)")
_FUNCTION = re.compile(r"-(\w+?)Function[0-9A-F]{8}-")


@dataclass
class Outcome:
    """What became of one submitted job."""

    submission: Submission
    record: dict[str, Any] | None = None
    #: the execution's status, or None where none was started (rejected or reused at ingest)
    execution: str | None = None
    dead_lettered: bool = False
    settled_at: float | None = None

    @property
    def status(self) -> str | None:
        return str(self.record["status"]) if self.record else None

    def observe(
        self, record: dict[str, Any] | None, workflow: Any, dead_letters: set[str], at: float
    ) -> bool:
        """Take the job's current record; True once the job has settled (``at``: seconds since start):
        terminal with its execution ended, or its S3 event dead-lettered before any record."""
        self.record = record
        if self.status and JobStatus(self.status).is_terminal:
            self.execution = workflow.status(self.submission.job_id)
            if self.execution != "RUNNING":
                self.settled_at = at
                return True
        elif record is None and self.submission.key in dead_letters:
            self.dead_lettered = True
            self.settled_at = at
            return True
        return False

    @property
    def lost(self) -> bool:
        terminal = self.status is not None and JobStatus(self.status).is_terminal
        return not terminal or self.execution == "RUNNING"


@dataclass
class HistoryCounts:
    executions: int = 0
    retries: int = 0
    failed_attempts: Counter[str] = field(default_factory=Counter)
    injected_attempts: int = 0


def _drain_dead_letters(pipeline: LocalPipeline, sqs: Any) -> set[str]:
    """Object keys of the S3 events that ingest failed three times (its dead-letter queue)."""
    keys: set[str] = set()
    for function, url in pipeline.aws.dead_letter_queues.items():
        if "Ingest" not in function:
            continue
        while True:
            messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
            if not messages:
                break
            for message in messages:
                for record in json.loads(message["Body"]).get("Records", []):
                    keys.add(unquote_plus(record["s3"]["object"]["key"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return keys


def settle(pipeline: LocalPipeline, outcomes: list[Outcome], timeout_s: float, started: float) -> None:
    """Poll until every job is terminal with its execution ended, dead-lettered, or time is up."""
    workflow, sqs = pipeline.workflow(), pipeline.aws.client("sqs")
    dead_letters: set[str] = set()
    deadline = time.monotonic() + timeout_s
    pending = list(outcomes)
    while pending and time.monotonic() < deadline:
        dead_letters |= _drain_dead_letters(pipeline, sqs)
        pending = [
            o
            for o in pending
            if not o.observe(
                pipeline.job(o.submission.job_id), workflow, dead_letters, time.monotonic() - started
            )
        ]
        if pending:
            time.sleep(0.5)
    for outcome in pending:  # out of time: whatever they are now is what they are
        outcome.execution = workflow.status(outcome.submission.job_id)


def count_history(pipeline: LocalPipeline, outcomes: list[Outcome]) -> HistoryCounts:
    """Retries and failed attempts over every execution's history.

    A retry is a task attempt scheduled straight after a failed one: Step Functions links each
    event to the one before it (``previousEventId``), so this counts no catch and no first attempt.
    """
    sfn, workflow = pipeline.aws.client("stepfunctions"), pipeline.workflow()
    counts = HistoryCounts()
    for outcome in outcomes:
        if outcome.execution is None:
            continue
        counts.executions += 1
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {
            "executionArn": workflow.execution_arn(outcome.submission.job_id),
            "maxResults": 1000,
        }
        while True:
            page = sfn.get_execution_history(**kwargs)
            events += page["events"]
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        by_id = {e["id"]: e for e in events}
        for event in events:
            if event["type"] in FAILED_ATTEMPTS:
                details: dict[str, Any] = next(
                    (v for k, v in event.items() if k.endswith("EventDetails")), {}
                )
                counts.failed_attempts[str(details.get("error") or event["type"])] += 1
                counts.injected_attempts += MESSAGE_PREFIX in str(details.get("cause") or "")
            elif event["type"] in SCHEDULED:
                before = by_id.get(event.get("previousEventId", 0))
                counts.retries += before is not None and before["type"] in FAILED_ATTEMPTS
    return counts


def count_injected(log_dir: Path) -> Counter[tuple[str, str]]:
    """Injected faults by (function, target), from the ``fault_injected`` lines the workers logged."""
    counts: Counter[tuple[str, str]] = Counter()
    for log in sorted(log_dir.glob("*.log")):
        match = _FUNCTION.search(log.name)
        function = match.group(1).lower() if match else log.stem
        for line in log.read_text(errors="replace").splitlines():
            for fault in _FAULT_LINE.finditer(line):
                counts[(function, fault.group(1))] += 1
    return counts


def faulty_functions(pipeline: LocalPipeline) -> list[str]:
    """The pipeline's functions whose deployed environment sets FAULT_RATE."""
    names = []
    for page in pipeline.aws.client("lambda").get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            variables = (fn.get("Environment") or {}).get("Variables") or {}
            if variables.get("FAULT_RATE") not in (None, "", "0"):
                match = _FUNCTION.search(fn["FunctionName"] + "-")
                names.append(match.group(1).lower() if match else fn["FunctionName"])
    return sorted(names)


def transcripts(pipeline: LocalPipeline, outcomes: list[Outcome]) -> Counter[str]:
    """How many completed jobs produced each distinct transcript (the same audio: one is right)."""
    texts: Counter[str] = Counter()
    for outcome in outcomes:
        if outcome.status == JobStatus.COMPLETED.value and outcome.record:
            texts[json.loads(pipeline.read_outputs(outcome.record)["json"])["transcript"]] += 1
    return texts


def sample_twice(folder: Path) -> Path:
    """The bundled sample, twice in a row: long enough for two chunks at the default chunk length."""
    out = folder / "sample-twice.flac"
    subprocess.run(
        [ffmpeg_path(), "-nostdin", "-loglevel", "error", "-y", "-i", str(SAMPLE), "-i", str(SAMPLE),
         "-filter_complex", "[0:a][1:a]concat=n=2:v=0:a=1", str(out)],
        check=True,
    )  # fmt: skip
    return out


def _vm_hwm_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--jobs", type=int, default=20)
    parser.add_argument("--fault-rate", type=float, default=0.3, help="0 to 1, per engine or S3 call")
    parser.add_argument("--engine", default="pocketsphinx", choices=("pocketsphinx", "faster-whisper"))
    parser.add_argument("--file", type=Path, help="audio uploaded N times (default: the sample, twice)")
    parser.add_argument("--workers", type=int, default=None, help="warm workers per function")
    parser.add_argument("--timeout", type=float, default=1800, help="seconds to wait for all jobs")
    args = parser.parse_args()
    if args.jobs < 1:
        parser.error("--jobs must be at least 1")

    overrides: dict[str, Any] = {"engine": args.engine, "fault_rate": args.fault_rate}
    scratch = tempfile.TemporaryDirectory(prefix="soak-")
    audio = args.file or sample_twice(Path(scratch.name))
    t0 = time.perf_counter()
    with (
        scratch,
        LocalPipeline(overrides=overrides, runtime=RuntimeSettings(concurrency=args.workers)) as pipeline,
    ):
        deployed = time.perf_counter() - t0
        with_faults = faulty_functions(pipeline)
        started = time.monotonic()
        options = JobOptions(dedupe=False)  # the same audio N times: transcribe every one
        # Uploads from 16 threads: the jobs arrive together, as a burst of users would send them.
        with ThreadPoolExecutor(max_workers=16) as uploads:
            burst = uploads.map(lambda _: pipeline.submit(audio, options=options), range(args.jobs))
            submissions = list(burst)
        outcomes = [Outcome(submission) for submission in submissions]
        submitted = time.monotonic() - started
        settle(pipeline, outcomes, args.timeout, started)
        wall = max((o.settled_at or time.monotonic() - started) for o in outcomes)
        history = count_history(pipeline, outcomes)
        texts = transcripts(pipeline, outcomes)
        injected = count_injected(pipeline.work_dir / "logs")
        runtime = pipeline.aws.runtime
        worker_peaks = {name: runtime.peak_rss_mb(name) for name in runtime.stats.runs}

    statuses = Counter(o.status or "no record" for o in outcomes)
    reasons = Counter(
        str(o.record.get("reason_code")) for o in outcomes if o.record and o.status == JobStatus.FAILED.value
    )
    lost = [o for o in outcomes if o.lost]
    mismatched = [
        o
        for o in outcomes
        if (o.status, o.execution) not in {("COMPLETED", "SUCCEEDED"), ("FAILED", "FAILED"), ("FAILED", None)}
        and not o.lost
    ]
    seconds = [  # upload to completion, from the job record (set on completed jobs)
        float(o.record["processing_time_s"])
        for o in outcomes
        if o.record and o.record.get("processing_time_s") is not None
    ]

    print(f"audio                {args.file or 'samples/sample.flac twice'}")
    print(f"engine               {args.engine}")
    print(f"fault rate           {args.fault_rate} per engine or S3 call")
    print(f"functions w/ faults  {', '.join(with_faults) or 'none'}")
    if args.fault_rate > 0 and not with_faults:
        print("                     (no deployed function sets FAULT_RATE: infra/stack.py does not pass")
        print("                      fault_rate to the functions, so no fault can be injected)")
    print(f"start + deploy       {deployed:.1f} s")
    print(f"jobs submitted       {len(outcomes)} (uploads took {submitted:.1f} s)")
    print(f"completed            {statuses.get(JobStatus.COMPLETED.value, 0)}")
    print(f"failed               {statuses.get(JobStatus.FAILED.value, 0)}", end="")
    print(f"  {dict(sorted(reasons.items()))}" if reasons else "")
    dead = sum(o.dead_lettered for o in lost)
    print(f"lost                 {len(lost)}" + (f" ({dead} dead-lettered at ingest)" if dead else ""))
    for outcome in lost:
        print(f"  {outcome.submission.job_id}: record {outcome.status}, execution {outcome.execution}")
    if mismatched:
        print(f"record vs execution  {len(mismatched)} disagree")
        for outcome in mismatched:
            print(f"  {outcome.submission.job_id}: record {outcome.status}, execution {outcome.execution}")
    print(f"executions           {history.executions}")
    print(f"retries              {history.retries} (task attempts retried after a failure)")
    failed_attempts = dict(history.failed_attempts.most_common())
    print(f"failed attempts      {sum(failed_attempts.values())} {failed_attempts or ''}".rstrip())
    print(f"  of them injected   {history.injected_attempts}")
    by_target = Counter[str]()
    for (_, target), n in injected.items():
        by_target[target] += n
    print(f"injected faults      {sum(injected.values())} {dict(sorted(by_target.items())) or ''}".rstrip())
    for (function, target), n in sorted(injected.items()):
        print(f"  {function:<12} {target:<7} {n}")
    if texts:
        print(f"transcripts          {len(texts)} distinct among {sum(texts.values())} completed jobs")
    if seconds:
        print(f"completed job time   median {statistics.median(seconds):.1f} s, max {max(seconds):.1f} s")
    print(f"wall time            {wall:.1f} s (first upload until every job settled)")
    print(f"peak memory          {_vm_hwm_mb():.0f} MiB this process (embedded AWS, state machine, uploads)")
    for name, peaks in sorted(worker_peaks.items()):
        if peaks:
            role = name.split("-")[2] if name.count("-") >= 2 else name
            print(f"  {role:<28} {len(peaks)} worker(s), up to {max(peaks.values()):.0f} MiB each")
    if lost:
        raise SystemExit(f"{len(lost)} job(s) lost")


if __name__ == "__main__":
    main()
