"""The whole pipeline on this machine: synthesize, deploy into the embedded AWS, submit, follow.

Used by the CLI, the integration tests and the benchmarks, so all three exercise the same path:
a file put into the input bucket, the S3 notification, the real handlers and state machine.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from localrun.environment import DEFAULT_RUNTIME, REPO_ROOT, LocalAws, RuntimeSettings, StackOutputs
from localrun.synth import synthesize
from localrun.tokens import local_trust
from transcriber.domain.jobs import OUTPUT_FORMATS, JobStatus, job_id_for
from transcriber.domain.options import JobOptions
from transcriber.domain.recovery import Requeued, latest_execution_name, retry_job

if TYPE_CHECKING:
    from transcriber.adapters.jobs_table import JobRepository
    from transcriber.adapters.workflow import Workflow

ProgressCallback = Callable[[dict[str, Any]], None]


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
    ) -> None:
        self.env_name = env_name
        # The local stack trusts the local JWT issuer (localrun/tokens.py), not a Cognito pool.
        self.overrides = {"jwt": local_trust(), **(overrides or {})}
        self.work_dir = work_dir or REPO_ROOT / ".local" / "runtime" / uuid.uuid4().hex[:8]
        self.aws = LocalAws(work_dir=self.work_dir, runtime=runtime)
        self.outputs: StackOutputs | None = None
        self.stack_name = ""

    def __enter__(self) -> LocalPipeline:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> StackOutputs:
        assembly, self.stack_name = synthesize(self.env_name, self.overrides)
        self.aws.start()
        try:
            self.outputs = self.aws.deploy(assembly, self.stack_name)
        except BaseException:
            self.aws.stop()
            raise
        return self.outputs

    def stop(self) -> None:
        self.aws.stop()

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
