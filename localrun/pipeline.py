"""The whole pipeline on this machine: synthesize, deploy into the embedded AWS, submit, follow.

Used by the CLI, the integration tests and the benchmarks, so all three exercise the same path:
a file put into the input bucket, the S3 notification, the real handlers and state machine.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from localrun.environment import REPO_ROOT, LocalAws, StackOutputs
from localrun.synth import synthesize
from transcriber.domain.jobs import OUTPUT_FORMATS, JobStatus, job_id_for
from transcriber.domain.options import JobOptions

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
        concurrency: int | None = None,
        threads_per_worker: int | None = None,
        work_dir: Path | None = None,
    ) -> None:
        self.env_name = env_name
        self.overrides = overrides or {}
        self.work_dir = work_dir or REPO_ROOT / ".local" / "runtime" / uuid.uuid4().hex[:8]
        self.aws = LocalAws(
            work_dir=self.work_dir, concurrency=concurrency, threads_per_worker=threads_per_worker
        )
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

    def job(self, job_id: str) -> dict[str, Any] | None:
        from transcriber.adapters.jobs_table import JobRepository

        return JobRepository(self.stack.jobs_table, resource=self.aws.resource("dynamodb")).get(job_id)

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
        while True:
            job = self.job(job_id)
            if job is not None:
                if on_progress:
                    on_progress(job)
                if JobStatus(job["status"]).is_terminal:
                    self._wait_for_execution(job_id, deadline)
                    return job
            if time.monotonic() > deadline:
                status = job["status"] if job else "not recorded"
                raise TimeoutError(f"job {job_id} did not finish within {timeout_s:.0f} s (status: {status})")
            time.sleep(poll_s)

    def _wait_for_execution(self, job_id: str, deadline: float) -> None:
        """The job record turns terminal a moment before its execution ends (events, cleanup)."""
        sfn = self.aws.client("stepfunctions")
        arn = self.stack.state_machine_arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        while time.monotonic() < deadline:
            try:
                if sfn.describe_execution(executionArn=arn)["status"] != "RUNNING":
                    return
            except sfn.exceptions.ExecutionDoesNotExist:
                return  # rejected at ingest: no execution was started
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
