"""The whole pipeline on this machine: synthesize, deploy into the embedded AWS, submit, follow.

Used by the CLI, the integration tests and the benchmarks, so all three exercise the same path:
a file put into the input bucket, the S3 notification, the real handlers and state machine.

Each pipeline runs in its own folder under ``.local/runtime/`` (the functions' extracted code and
their logs, ``logs/<function>.log``). It is removed when the pipeline stops, unless the run failed
(an error, or a job it followed ended FAILED: the path of the logs is printed) or the logs were
asked for (``keep_logs=True``, or ``LOCALRUN_KEEP_LOGS=1``). The folders so kept are pruned when a
later pipeline starts, beyond the :data:`KEEP_RUNTIME_DIRS` newest.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from localrun.environment import DEFAULT_RUNTIME, REPO_ROOT, LocalAws, RuntimeSettings, StackOutputs
from localrun.synth import (
    IN_USE_GRACE_S,
    last_activity,
    mark_in_use,
    remove_idle,
    remove_tree,
    synthesize,
)
from localrun.tokens import local_trust
from transcriber.domain.jobs import OUTPUT_FORMATS, JobStatus, job_id_for
from transcriber.domain.options import JobOptions
from transcriber.domain.recovery import Requeued, latest_execution_name, retry_job

if TYPE_CHECKING:
    from transcriber.adapters.jobs_table import JobRepository
    from transcriber.adapters.workflow import Workflow

ProgressCallback = Callable[[dict[str, Any]], None]

RUNTIME_ROOT = REPO_ROOT / ".local" / "runtime"
#: set to 1 to keep every local run's folder (its functions' logs) when the pipeline stops
KEEP_LOGS_ENV = "LOCALRUN_KEEP_LOGS"
#: how many kept runtime folders (failed runs, logs asked for) survive the next pipeline's start
KEEP_RUNTIME_DIRS = 5
#: ``owner.<pid>``: the runtime folder of a pipeline that process is running
OWNER_PREFIX = "owner."


def keep_logs_asked() -> bool:
    return os.environ.get(KEEP_LOGS_ENV, "").strip().lower() not in ("", "0", "false", "no")


def prune_runtime_dirs(
    root: Path = RUNTIME_ROOT,
    *,
    keep: int = KEEP_RUNTIME_DIRS,
    grace_s: float = IN_USE_GRACE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove the runtime folders beyond the ``keep`` newest; returns those removed.

    Never one a live process owns (``owner.<pid>``), nor one with a log or entry written within
    ``grace_s`` (a pipeline of an older version, which writes no owner marker, may be running).
    """
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    folders = [
        (last_activity(f, "logs"), f) for f in root.iterdir() if f.is_dir() and not f.name.startswith(".")
    ]
    folders.sort(reverse=True)
    return remove_idle(
        root,
        [folder for _, folder in folders[keep:]],
        last_used=lambda folder: last_activity(folder, "logs"),
        marker=OWNER_PREFIX,
        grace_s=grace_s,
        now=now,
    )


@dataclass(frozen=True)
class Submission:
    job_id: str
    bucket: str
    key: str


class LocalPipeline:
    """A deployed local stack. Use as a context manager; everything stops on exit."""

    def __init__(
        self,
        *,
        env_name: str = "dev",
        overrides: dict[str, Any] | None = None,
        work_dir: Path | None = None,
        runtime: RuntimeSettings = DEFAULT_RUNTIME,
        keep_logs: bool | None = None,
    ) -> None:
        self.env_name = env_name
        # The local stack trusts the local JWT issuer (localrun/tokens.py), not a Cognito pool.
        self.overrides = {"jwt": local_trust(), **(overrides or {})}
        #: a folder given by the caller is the caller's: never removed here
        self._own_work_dir = work_dir is None
        self.work_dir = work_dir or RUNTIME_ROOT / uuid.uuid4().hex[:8]
        #: keep the runtime folder (the functions' logs) when the pipeline stops
        self.keep_logs = keep_logs_asked() if keep_logs is None else keep_logs
        #: the run failed (an error escaped it): its folder is kept for its logs
        self.failed = False
        #: jobs followed by wait() that ended FAILED: the folder is kept for their logs
        self.failed_jobs: list[str] = []
        self.aws = LocalAws(work_dir=self.work_dir, runtime=runtime)
        self.outputs: StackOutputs | None = None
        self.stack_name = ""
        self._markers: list[Path] = []
        self._cleaned = False

    def __enter__(self) -> LocalPipeline:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if exc_type is not None and issubclass(exc_type, Exception):
            self.failed = True
        self.stop()

    def start(self) -> StackOutputs:
        if self._own_work_dir and not self.keep_logs:
            prune_runtime_dirs(RUNTIME_ROOT)
        try:
            assembly, self.stack_name = synthesize(self.env_name, self.overrides)
            self._markers.append(mark_in_use(assembly))
            if self._own_work_dir:
                self.work_dir.mkdir(parents=True, exist_ok=True)
                owner = self.work_dir / f"{OWNER_PREFIX}{os.getpid()}"
                owner.touch()
                self._markers.append(owner)
            self.aws.start()
            self.outputs = self.aws.deploy(assembly, self.stack_name)
        except BaseException as err:
            self.failed = self.failed or isinstance(err, Exception)
            self.stop()
            raise
        return self.outputs

    def stop(self) -> None:
        self.aws.stop()
        for marker in self._markers:
            marker.unlink(missing_ok=True)
        self._markers.clear()
        if self._cleaned or not self._own_work_dir or not self.work_dir.exists():
            return
        self._cleaned = True
        if self.failed or self.failed_jobs:
            print(f"The logs of this local run are kept in {self.work_dir / 'logs'}", file=sys.stderr)
        elif not self.keep_logs:
            remove_tree(self.work_dir)

    @property
    def stack(self) -> StackOutputs:
        if self.outputs is None:
            raise RuntimeError("the local pipeline is not started")
        return self.outputs

    def submit(self, path: Path, key: str | None = None, options: JobOptions | None = None) -> Submission:
        """Upload a file into the input bucket; S3's notification starts the job.

        Per-job ``options`` travel as the object's user metadata, as for any upload to the bucket.
        """
        key = key or f"uploads/{uuid.uuid4().hex[:12]}/{path.name}"
        metadata = options.to_metadata() if options else {}
        s3 = self.aws.client("s3")
        with path.open("rb") as body:
            resp = s3.put_object(Bucket=self.stack.input_bucket, Key=key, Body=body, Metadata=metadata)
        job_id = job_id_for(self.stack.input_bucket, key, resp.get("ETag"), resp.get("VersionId"))
        return Submission(job_id=job_id, bucket=self.stack.input_bucket, key=key)

    def jobs(self) -> JobRepository:
        """The jobs table's repository, on the local AWS."""
        from transcriber.adapters.jobs_table import JobRepository

        return JobRepository(self.stack.jobs_table, resource=self.aws.resource("dynamodb"))

    def workflow(self) -> Workflow:
        """The state machine's adapter, on the local AWS."""
        from transcriber.adapters.workflow import Workflow

        return Workflow(self.stack.state_machine_arn, client=self.aws.client("stepfunctions"))

    def job(self, job_id: str) -> dict[str, Any] | None:
        return self.jobs().get(job_id)

    def retry(self, job_id: str) -> Requeued:
        """Retry a FAILED job: PENDING again, and a new run that transcribes only missing chunks.

        The same code a deployed caller runs (transcriber.domain.recovery.retry_job), through the
        local AWS; raises RetryRefusedError when the job may not be retried. Follow it with wait().
        """
        return retry_job(job_id, jobs=self.jobs(), executions=self.workflow())

    def sweep(self) -> dict[str, Any]:
        """Run the deployed sweeper once, as its five-minute schedule does in AWS (moto runs no
        scheduled rules); returns its report: jobs examined, requeued and failed."""
        resp = self.aws.client("lambda").invoke(FunctionName=self.stack.sweeper_function, Payload=b"{}")
        payload = json.loads(resp["Payload"].read() or b"null")
        if resp.get("FunctionError"):
            raise RuntimeError(f"the sweeper failed: {payload}")
        return dict(payload)

    def wait(
        self,
        job_id: str,
        *,
        timeout_s: float = 3600,
        poll_s: float = 0.25,
        on_progress: ProgressCallback | None = None,
    ) -> dict[str, Any]:
        """Follow a job to COMPLETED or FAILED; returns the final job record."""
        deadline = time.monotonic() + timeout_s
        jobs = self.jobs()  # one repository for the whole wait: building one costs CPU beside the workers
        while True:
            job = jobs.get(job_id)
            if job is not None:
                if on_progress:
                    on_progress(job)
                if JobStatus(job["status"]).is_terminal:
                    self._wait_for_execution(latest_execution_name(job), deadline)
                    if job["status"] == JobStatus.FAILED.value:
                        self.failed_jobs.append(job_id)
                    return job
            if time.monotonic() > deadline:
                status = job["status"] if job else "not recorded"
                raise TimeoutError(f"job {job_id} did not finish within {timeout_s:.0f} s (status: {status})")
            time.sleep(poll_s)

    def _wait_for_execution(self, name: str, deadline: float) -> None:
        """The job record turns terminal a moment before its execution ends (events, cleanup)."""
        workflow = self.workflow()
        while time.monotonic() < deadline:
            # None: rejected at ingest, no execution was started
            if workflow.status(name) != "RUNNING":
                return
            time.sleep(0.1)

    def read_outputs(self, job: dict[str, Any]) -> dict[str, str]:
        """The four rendered transcripts of a completed job, keyed by format."""
        s3 = self.aws.client("s3")
        texts: dict[str, str] = {}
        for fmt in OUTPUT_FORMATS:
            uri = job["outputs"][fmt]
            bucket, _, key = uri.removeprefix("s3://").partition("/")
            texts[fmt] = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
        return texts
