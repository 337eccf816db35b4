"""The ports the stages share, as Protocols: the stages name what they need of the object store,
the jobs table and the event bus, not the AWS adapters that provide it (transcriber.wiring builds
those once per process; tests pass in-memory fakes)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from transcriber.domain.messages import JobEvent
from transcriber.domain.recovery import FailedJobStore
from transcriber.domain.tenants import Tenant


class ObjectHead(Protocol):
    """The first bytes of an object and its user metadata."""

    @property
    def data(self) -> bytes: ...

    @property
    def metadata(self) -> dict[str, str]: ...


class Store(Protocol):
    """S3 as the stages use it (``transcriber.adapters.storage.ObjectStore``)."""

    def read_head(self, bucket: str, key: str, length: int = ...) -> ObjectHead: ...

    def sha256(self, bucket: str, key: str) -> str: ...

    def download(self, bucket: str, key: str, path: Path) -> Path: ...

    def get_range(self, bucket: str, key: str, first: int, stop: int) -> bytes: ...

    def copy(self, bucket: str, key: str, to_bucket: str, to_key: str) -> None: ...

    def upload_many(self, files: Sequence[tuple[Path, str]], bucket: str, content_type: str) -> None: ...

    def put_bytes(self, bucket: str, key: str, data: bytes, content_type: str) -> None: ...

    def put_json(self, bucket: str, key: str, data: Any) -> None: ...

    def put_texts(self, bucket: str, texts: Sequence[tuple[str, str, str]]) -> None: ...

    def get_json(self, bucket: str, key: str) -> Any: ...

    def get_json_many(self, bucket: str, keys: Sequence[str]) -> list[Any]: ...

    def get_bytes_many(self, bucket: str, keys: Sequence[str]) -> list[bytes | None]: ...

    def exists(self, bucket: str, key: str) -> bool: ...

    def size(self, bucket: str, key: str) -> int | None: ...

    def delete(self, bucket: str, key: str, version_id: str | None = ...) -> None: ...

    def delete_every_version(self, bucket: str, key: str) -> int: ...

    def delete_prefix(self, bucket: str, prefix: str) -> int: ...


class Jobs(FailedJobStore, Protocol):
    """The jobs table as the stages use it (``transcriber.adapters.jobs_table.JobRepository``);
    the sweeper's recovery needs what :class:`FailedJobStore` names."""

    def create(self, job: dict[str, Any]) -> bool: ...

    def claim_upload(self, job_id: str, key: str, fields: dict[str, Any]) -> bool: ...

    def recent_with_content(self, sha256: str, since: str) -> list[dict[str, Any]]: ...

    def mark_processing(
        self, job_id: str, *, duration: float, chunks_total: int, extra: Mapping[str, Any] | None = ...
    ) -> bool: ...

    def set_warnings(self, job_id: str, warnings: list[str]) -> None: ...

    def record_chunk_done(self, job_id: str) -> dict[str, Any]: ...

    def count_chunks_sent_back(self, job_id: str, *, file_chunks: int, sent_back: int) -> dict[str, Any]: ...

    def record_chunk_error(self, job_id: str, error: dict[str, str]) -> bool: ...

    def note_announced(self, job_id: str) -> bool: ...

    def note_failure_announced(self, job_id: str) -> bool: ...

    def mark_completed(self, job_id: str, fields: dict[str, Any]) -> bool: ...


class Tenants(Protocol):
    """The tenants table as ingest reads it (``transcriber.adapters.tenants_table.TenantRepository``):
    the retention of a tenant whose file was dropped into the bucket."""

    def tenant(self, tenant_id: str) -> Tenant | None: ...


class Events(Protocol):
    """The event bus (``transcriber.adapters.events.EventPublisher``)."""

    def emit(self, event: JobEvent) -> None: ...


@dataclass(frozen=True)
class StagePorts:
    """Object store, jobs table and event bus, and the bucket of work files and transcripts."""

    store: Store
    jobs: Jobs
    events: Events
    results_bucket: str
