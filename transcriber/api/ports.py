"""What the HTTP API's service needs from the outside world, as Protocols: the jobs table, the
object store, the workflow, the event bus and the tenant limits (the adapters implement them; tests
pass fakes)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from transcriber.domain.jobs import JobStatus
from transcriber.domain.messages import JobEvent
from transcriber.domain.recovery import Executions, JobStore
from transcriber.domain.tenants import Tenant


class Jobs(JobStore, Protocol):
    """The jobs table as the API uses it (``transcriber.adapters.jobs_table.JobRepository``)."""

    def create(self, job: dict[str, Any]) -> bool: ...

    def for_tenant(
        self,
        tenant_id: str,
        *,
        limit: int,
        status: JobStatus | None = None,
        start_after: dict[str, Any] | None = None,
    ) -> tuple[list[dict[str, Any]], dict[str, Any] | None]: ...

    def mark_deleted(self, job_id: str) -> bool: ...

    def with_content(self, sha256: str) -> list[dict[str, Any]]: ...

    def take_over_outputs(self, job_id: str, outputs: dict[str, str]) -> bool: ...

    def set_speaker_names(
        self, job_id: str, speakers: list[dict[str, Any]], outputs: dict[str, str]
    ) -> bool: ...


class Objects(Protocol):
    """S3 as the API uses it (``transcriber.adapters.storage.ObjectStore``)."""

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def upload(self, path: Path, bucket: str, key: str, content_type: str = ...) -> None: ...

    def get_text(self, bucket: str, key: str, *, max_bytes: int | None = None) -> str | None: ...

    def presigned_get(self, bucket: str, key: str, *, expires_s: int, filename: str) -> str: ...

    def presigned_put(self, bucket: str, key: str, *, size: int, expires_s: int) -> str: ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def delete(self, bucket: str, key: str) -> None: ...

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None: ...

    def delete_every_version(self, bucket: str, key: str) -> int: ...

    def delete_prefix(self, bucket: str, prefix: str) -> int: ...

    def put_texts(self, bucket: str, texts: Sequence[tuple[str, str, str]]) -> None: ...


class Runs(Executions, Protocol):
    def stop(self, name: str, *, cause: str) -> bool: ...


class JobEventEmitter(Protocol):
    def emit(self, event: JobEvent) -> None: ...


class Limits(Protocol):
    def count_job(self, tenant: Tenant, now: datetime | None = None) -> None: ...

    def give_back_job(self, tenant: Tenant, now: datetime | None = None) -> None: ...
