"""Search use cases: keep the index in step with the jobs, rebuild a tenant, answer queries.

The index is derived data: the jobs table and the transcripts in the results bucket are the
truth, so every use case reads them and writes the index to match (indexing the same job twice
gives the same rows, and a job that is gone or deleted is removed instead of indexed).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any, Protocol

from transcriber.domain.errors import PermanentError, RetryableError
from transcriber.domain.jobs import JobStatus, output_key, parse_timestamp
from transcriber.domain.search import JobDocument, JobEvent, SearchPage, SearchQuery, job_document
from transcriber.domain.tenants import DEFAULT_TENANT

INDEXED = "indexed"
REMOVED = "removed"
#: How old (since its commit) an index version must be before maintenance deletes it and the files
#: only it uses. A search (29 s at most) that began on a version just replaced still reads it:
#: maintenance only has work after commits (a delete is one), so what it replaces is recent.
CLEANUP_GRACE = timedelta(hours=1)


class Jobs(Protocol):
    def get(self, job_id: str) -> dict[str, Any] | None: ...

    def for_tenant(
        self, tenant_id: str, *, limit: int, status: JobStatus | None = None, start_after: Any = None
    ) -> tuple[list[dict[str, Any]], Any]: ...


class Transcripts(Protocol):
    def get_json(self, bucket: str, key: str) -> Any: ...


class Searchable(Protocol):
    """What answering a query needs of the index: reading only."""

    def search(self, tenant: str, query: SearchQuery) -> SearchPage: ...


class Index(Searchable, Protocol):
    def replace_job(self, document: JobDocument) -> None: ...

    def replace_tenant(self, tenant: str, documents: list[JobDocument]) -> None: ...

    def delete_job(self, tenant: str, job_id: str) -> None: ...

    def optimize(self, *, cleanup_older_than: timedelta | None = None) -> None: ...


def _tenant_of(job: dict[str, Any]) -> str:
    return str(job.get("tenant_id") or DEFAULT_TENANT)


def _filename_of(job: dict[str, Any]) -> str:
    """The name the user gave the file (the API keeps it), else the object key's last part."""
    return str(job.get("filename") or str(job.get("key", "")).rsplit("/", 1)[-1])


def _transcript_location(job: dict[str, Any], results_bucket: str) -> tuple[str, str]:
    """Where the job's JSON transcript is: its ``outputs`` (a duplicate of recent audio points to
    the earlier job's), else its own key in the results bucket."""
    uri = (job.get("outputs") or {}).get("json")
    if isinstance(uri, str) and uri.startswith(f"s3://{results_bucket}/"):
        return results_bucket, uri.removeprefix(f"s3://{results_bucket}/")
    return results_bucket, output_key(str(job["job_id"]), "json")


def _document(job: dict[str, Any], transcripts: Transcripts, results_bucket: str) -> JobDocument:
    try:
        transcript = transcripts.get_json(*_transcript_location(job, results_bucket))
    except RetryableError:
        raise
    except Exception as err:  # missing or unreadable: the job's outputs are not there (yet)
        raise PermanentError(
            f"transcript of job {job['job_id']} cannot be read: {err}", reason_code="TRANSCRIPT_UNAVAILABLE"
        ) from err
    return job_document(
        {**transcript, "job_id": str(job["job_id"])},  # a duplicate's transcript names the earlier job
        tenant=_tenant_of(job),
        filename=_filename_of(job),
        created_at=parse_timestamp(str(job["created_at"])),
    )


def index_job(job_id: str, *, jobs: Jobs, transcripts: Transcripts, index: Index, results_bucket: str) -> str:
    """Index a completed job's segments (replacing any it had); remove a job that is not completed.

    Checking the job record, not the event, makes a late or repeated completion event harmless:
    a job deleted meanwhile is removed, never brought back into search. The record is read again
    after the write: a deletion whose own event was applied (by another indexer) between the first
    read and the write would otherwise leave the job's segments behind.
    """
    job = jobs.get(job_id)
    if job is None:
        raise PermanentError(f"job {job_id} does not exist", reason_code="JOB_NOT_FOUND")
    if job.get("status") != JobStatus.COMPLETED.value:
        index.delete_job(_tenant_of(job), job_id)
        return REMOVED
    index.replace_job(_document(job, transcripts, results_bucket))
    if not _still_completed(job_id, _tenant_of(job), jobs=jobs, index=index):
        return REMOVED
    return INDEXED


def _still_completed(job_id: str, tenant: str, *, jobs: Jobs, index: Index) -> bool:
    """Read the job again after writing its rows: a job deleted or ended otherwise meanwhile (its
    own event applied before the write) has them removed again. Whether it is still COMPLETED."""
    job = jobs.get(job_id)
    if job is None or job.get("status") != JobStatus.COMPLETED.value:
        index.delete_job(tenant, job_id)
        return False
    return True


def remove_job(job_id: str, *, jobs: Jobs, index: Index, tenant: str | None = None) -> str:
    """Remove a job's segments: a deleted job is never found again (an erasure request too)."""
    job = jobs.get(job_id)
    owner = tenant or (_tenant_of(job) if job else None)
    if owner is None:
        raise PermanentError(
            f"job {job_id} does not exist and no tenant was given", reason_code="JOB_NOT_FOUND"
        )
    index.delete_job(owner, job_id)
    return REMOVED


def apply_job_event(
    event: JobEvent, *, jobs: Jobs, transcripts: Transcripts, index: Index, results_bucket: str
) -> str:
    """What the indexer does with one jobs-bus event: deletion removes, anything else (re)indexes."""
    job_id = event.detail.job_id
    if event.removes_job:
        return remove_job(job_id, jobs=jobs, index=index, tenant=event.detail.tenant_id)
    return index_job(job_id, jobs=jobs, transcripts=transcripts, index=index, results_bucket=results_bucket)


def _completed_jobs(jobs: Jobs, tenant: str, page_size: int = 100) -> Iterator[dict[str, Any]]:
    position: Any = None
    while True:
        items, position = jobs.for_tenant(
            tenant, limit=page_size, status=JobStatus.COMPLETED, start_after=position
        )
        yield from items
        if not position:
            return


def reindex_tenant(
    tenant: str, *, jobs: Jobs, transcripts: Transcripts, index: Index, results_bucket: str
) -> int:
    """Rebuild a tenant's index from its completed jobs' transcripts in S3; the number indexed.

    The tenant's rows are replaced in one commit, so searches during the rebuild see the old
    index until the new one is complete. A job whose transcript is missing is left out. Reading
    every job can take minutes, and a job deleted or expired meanwhile (its own event applied
    before this write) would come back: so, as :func:`index_job` does, each job is read again
    after the write and removed if it is no longer COMPLETED.
    """
    documents = []
    for job in _completed_jobs(jobs, tenant):
        try:
            documents.append(_document(job, transcripts, results_bucket))
        except PermanentError:
            continue
    index.replace_tenant(tenant, documents)
    return sum(_still_completed(document.job_id, tenant, jobs=jobs, index=index) for document in documents)


def search(tenant: str, query: SearchQuery, *, index: Searchable) -> SearchPage:
    """One page of the tenant's hits; the tenant comes from the caller's credentials, never the query."""
    return index.search(tenant, query)


def maintain(*, index: Index, cleanup_grace: timedelta = CLEANUP_GRACE) -> None:
    """Rewrite the index's files that hold deleted rows, fold the rows added since the last run
    into the full-text indices, compact, and delete the files of versions older than the grace.

    A deleted job (an erasure, the end of retention) is not found from the next query on, but
    its text stays in the index's files until the first run after its deletion rewrites them
    without it; the old files are then deleted by the first run at least ``cleanup_grace`` after
    the last commit before that rewrite. So a deleted segment's text is gone from S3 at most
    two maintenance intervals plus the grace after its deletion: with a run every 15 minutes
    (infra/constructs/search.py) and :data:`CLEANUP_GRACE`, about 1 h 30 min.

    Every commit also adds a small file that queries scan beside the index (on S3, one more
    request per query each): bench/search.py measured p50 about doubling after 20 single-job
    commits. Meant for a schedule (one run at a time), not for the indexer, whose copies run in
    parallel.
    """
    index.optimize(cleanup_older_than=cleanup_grace)
