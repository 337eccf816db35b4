"""What the HTTP API does, without HTTP: create, list, read, delete and retry a tenant's jobs.

Every method takes the caller's tenant and sees only that tenant's jobs: another tenant's job
is "not found", exactly like a job that does not exist, so ids cannot be probed.

A job created here is recorded AWAITING_UPLOAD with its options and its upload key
(``tenants/<tenant>/jobs/<job id>/<file>``); the object's arrival in the input bucket starts it
through the same S3 notification and ingest as any other upload (functions/ingest).
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

from transcriber.adapters.storage import ObjectTooLargeError
from transcriber.api import problems, speakers
from transcriber.api.models import INLINE_MAX_BYTES, CreateTranscription
from transcriber.api.ports import JobEventEmitter, Jobs, Limits, Objects, Runs
from transcriber.api.views import (
    Download,
    decode_cursor,
    encode_cursor,
    filename_of,
    job_view,
    matching_segments,
    split_uri,
)
from transcriber.api.vocabularies import Vocabularies
from transcriber.domain import intake
from transcriber.domain.errors import InvalidOptionsError, PipelineError
from transcriber.domain.formats import to_srt, to_vtt, transcript_from_document
from transcriber.domain.intake import SNIFF_BYTES
from transcriber.domain.jobs import (
    OUTPUT_FORMATS,
    TRANSCRIPTS_PREFIX,
    UNREDACTED_OUTPUT,
    WORK_PREFIX,
    JobStatus,
    iso_timestamp,
)
from transcriber.domain.media_url import check_source_url
from transcriber.domain.messages import JobDeleted
from transcriber.domain.options import JobOptions
from transcriber.domain.recovery import latest_execution_name, retry_job
from transcriber.domain.tenants import Tenant, upload_key
from transcriber.domain.webhooks import Resolver, check_callback_url
from transcriber.stages.erasure import hand_over_outputs

MAX_PAGE = 100
#: Lambda returns at most 6 MB through API Gateway: larger transcripts are fetched from S3.
RESPONSE_MAX_BYTES = 5 * 1024 * 1024
DOWNLOAD_URL_EXPIRY_S = 900
DEFAULT_PAGE = 20
#: A list query after the first reads this many jobs (DynamoDB applies Limit before the filter) ...
LIST_READ_AHEAD = 100
#: ... and a list request makes at most this many queries, so it stays quick however few jobs match.
LIST_MAX_QUERIES = 5
#: How long DELETE waits for a stopped run to end (instant in AWS; a task's length in moto).
STOP_WAIT_S = 5.0
#: The audio player's URL lives as long as a long recording takes to listen through.
AUDIO_URL_EXPIRY_S = 3600
#: Declared content types that are plainly not audio are refused before any upload (415).
_AUDIO_TYPES = re.compile(r"^(audio/[\w.+-]+|video/[\w.+-]+|application/(ogg|octet-stream))(;.*)?$", re.I)
CONTENT_TYPES = {
    "json": "application/json; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "txt": "text/plain; charset=utf-8",
}


@dataclass(kw_only=True, eq=False)
class TranscriptionService:
    jobs: Jobs
    objects: Objects
    runs: Runs
    limits: Limits
    input_bucket: str
    results_bucket: str
    max_upload_bytes: int
    #: DNS for callback URLs (transcriber/adapters/resolver.py), passed in to keep I/O out
    resolve: Resolver
    #: presigned upload URLs live 15 minutes at most (__post_init__ cuts longer ones)
    upload_url_expiry_s: int = 900
    local_mode: bool = False
    #: the deployment's engine (a model name the OpenAI-compatible routes accept) and the
    #: longest audio they answer synchronously (transcriber/api/openai_routes.py)
    engine: str = "faster-whisper"
    sync_max_audio_s: float = 120.0
    #: fetches a source_url into a file (transcriber/adapters/media_fetch.py), passed in to keep I/O out
    fetch_media: Callable[..., Any] | None = None
    #: the jobs bus: a deletion is announced so the search index (and others) forget the job
    events: JobEventEmitter | None = None
    #: the tenants' custom vocabularies (transcriber/api/vocabularies.py); None: none kept
    vocabularies: Vocabularies | None = None

    def __post_init__(self) -> None:
        self.upload_url_expiry_s = min(self.upload_url_expiry_s, 900)

    # Create -----------------------------------------------------------------------------------

    def create(self, tenant: Tenant, request: CreateTranscription) -> dict[str, Any]:
        """Record a job AWAITING_UPLOAD and hand out where its audio goes (or store it, if inline)."""
        content = self._inline_content(request)
        size = len(content) if content is not None else int(request.size or 0)
        try:
            if request.source_url:  # its name and size are known once it is fetched
                check_source_url(request.source_url, local_mode=self.local_mode, resolve=self.resolve)
            else:
                intake.check_name_and_size(request.filename, size, self.max_upload_bytes)
            options = request.options.job_options()
            if self.vocabularies is not None:  # the phrases travel with the job, not by name
                options = self.vocabularies.resolve(tenant, options)
            elif options.vocabulary_name:
                raise InvalidOptionsError("This deployment keeps no vocabularies; leave vocabulary_name out.")
            if request.options.callback_url:
                check_callback_url(
                    request.options.callback_url, local_mode=self.local_mode, resolve=self.resolve
                )
        except PipelineError as err:
            raise problems.problem_for(err) from err
        if request.content_type and not _AUDIO_TYPES.match(request.content_type):
            raise problems.UnsupportedMediaType(
                f"content_type {request.content_type!r} is not audio; send an audio file "
                "(or leave content_type out)."
            )
        # Counted before any fetch, so a tenant past its quota makes the service fetch nothing.
        try:
            self.limits.count_job(tenant)
        except PipelineError as err:
            raise problems.problem_for(err) from err
        if not request.source_url:
            return self._record(tenant, request, options, content, request.filename, size, None)
        with tempfile.NamedTemporaryFile(prefix="source-") as spool:
            try:
                filename, size = self._fetch(request.source_url, spool)
            except problems.ApiProblem:
                self.limits.give_back_job(tenant)  # a URL that could not be fetched uses none of the quota
                raise
            return self._record(tenant, request, options, content, filename, size, Path(spool.name))

    def _fetch(self, url: str, sink: IO[bytes]) -> tuple[str, int]:
        """Fetch ``url`` into ``sink``: its file name and size; the fetch's errors as problems."""
        if self.fetch_media is None:
            raise problems.Unprocessable(
                "This deployment does not fetch source_url; upload the file instead."
            )
        try:
            fetched = self.fetch_media(
                url, sink, local_mode=self.local_mode, resolve=self.resolve, max_bytes=self.max_upload_bytes
            )
            sink.flush()
            sink.seek(0)
            intake.check_name_and_size(fetched.filename, fetched.size, self.max_upload_bytes)
            intake.check_content(sink.read(SNIFF_BYTES))
        except PipelineError as err:
            raise problems.problem_for(err) from err
        return str(fetched.filename), int(fetched.size)

    def _record(
        self,
        tenant: Tenant,
        request: CreateTranscription,
        options: JobOptions,
        content: bytes | None,
        filename: str,
        size: int,
        fetched: Path | None,
    ) -> dict[str, Any]:
        """The job record, and its audio stored (inline or fetched) or an upload URL handed out."""
        callback_url = request.options.callback_url
        job_id = uuid.uuid4().hex
        key = upload_key(tenant.tenant_id, job_id, filename)
        expires_at = iso_timestamp(datetime.now(UTC) + timedelta(seconds=self.upload_url_expiry_s))
        job: dict[str, Any] = {
            "job_id": job_id,
            "tenant_id": tenant.tenant_id,
            "status": JobStatus.AWAITING_UPLOAD.value,
            "source": "api",
            "bucket": self.input_bucket,
            "key": key,
            "filename": filename,
            "size": size,
            "options": options.to_dict(),
            "callback_url": callback_url,
            "upload_expires_at": None if content is not None or fetched is not None else expires_at,
            **tenant.retention.upload_fields(datetime.now(UTC)),  # transcriber/domain/retention.py
        }
        if request.source_url:
            job["source_url"] = request.source_url
        self.jobs.create(job)
        upload_url = None
        if fetched is not None:
            self.objects.upload(fetched, self.input_bucket, key, "application/octet-stream")
        elif content is not None:
            self.objects.put_bytes(
                self.input_bucket, key, content, request.content_type or "application/octet-stream"
            )
        else:
            upload_url = self.objects.presigned_put(
                self.input_bucket, key, size=size, expires_s=self.upload_url_expiry_s
            )
        return {
            "job_id": job_id,
            "status": JobStatus.AWAITING_UPLOAD.value,
            "upload_url": upload_url,
            "upload_method": "PUT",
            "upload_expires_at": job["upload_expires_at"],
            "links": {"self": f"/v1/transcriptions/{job_id}"},
        }

    @staticmethod
    def _inline_content(request: CreateTranscription) -> bytes | None:
        if request.content_base64 is None:
            return None
        try:
            content = base64.b64decode(request.content_base64, validate=True)
        except (binascii.Error, ValueError):
            raise problems.BadRequest("content_base64 is not valid base64.") from None
        if len(content) > INLINE_MAX_BYTES:
            raise problems.PayloadTooLarge(
                f"Inline files may be up to {INLINE_MAX_BYTES // (1024 * 1024)} MiB; send the size "
                "instead and PUT the file to the upload_url you get back."
            )
        if request.size is not None and request.size != len(content):
            raise problems.Unprocessable(
                f"size says {request.size} bytes but the content has {len(content)}."
            )
        return content

    # Read -------------------------------------------------------------------------------------

    def owned_job(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        """The tenant's job; NotFound for another tenant's, a deleted or an unknown one."""
        job = self._owned_record(tenant, job_id)
        if job.get("status") == JobStatus.DELETED.value:
            raise problems.NotFound(f"No transcription {job_id!r}: it was deleted.")
        return job

    def _owned_record(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        """The tenant's job record, a deleted job's tombstone too; NotFound for another tenant's
        or an unknown one."""
        job = self.jobs.get(job_id) if re.fullmatch(r"[0-9a-f]{32}", job_id) else None
        if job is None or job.get("tenant_id", "default") != tenant.tenant_id:
            raise problems.NotFound(f"No transcription {job_id!r}.")
        return job

    def view(self, job: dict[str, Any], *, with_transcript: bool = False) -> dict[str, Any]:
        view = job_view(job)
        if with_transcript and job.get("status") == JobStatus.COMPLETED.value:
            try:
                document = self._transcript_document(job, max_bytes=RESPONSE_MAX_BYTES)
            except ObjectTooLargeError:
                # Too long for one response (hours of speech with word times): download it instead.
                view["links"]["transcript"] = f"/v1/transcriptions/{job['job_id']}/download?format=json"
                return view
            view["transcript"] = {
                "text": document.get("transcript", ""),
                "language": document.get("language"),
                "duration": document.get("duration"),
                "segments": document.get("segments", []),
            }
        return view

    def get(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        return self.view(self.owned_job(tenant, job_id), with_transcript=True)

    def list(
        self, tenant: Tenant, *, status: str | None, limit: int | None, cursor: str | None
    ) -> dict[str, Any]:
        wanted = JobStatus(status) if status else None
        size = min(max(limit or DEFAULT_PAGE, 1), MAX_PAGE)
        position = decode_cursor(cursor, tenant.tenant_id) if cursor else None
        items: list[dict[str, Any]] = []
        # DynamoDB filters (the status; deleted jobs) after its Limit, so a query may find fewer
        # jobs than asked while more follow. Read on in larger batches, a bounded number of times:
        # a tenant with thousands of jobs and few matching gets a short page and next_cursor.
        for query in range(LIST_MAX_QUERIES):
            batch = size if query == 0 and wanted is None else max(size, LIST_READ_AHEAD)
            page, position = self.jobs.for_tenant(
                tenant.tenant_id, limit=batch, status=wanted, start_after=position
            )
            room = size - len(items)
            items.extend(page[:room])
            if len(page) > room:  # found more than the page holds: the next starts after its last
                position = _list_position(items[-1])
            if position is None or len(items) >= size:
                break
        return {
            "items": [self.view(job) for job in items],
            "next_cursor": encode_cursor(position) if position else None,
        }

    def segments(
        self, tenant: Tenant, job_id: str, query: str | None, speaker: str | None = None
    ) -> dict[str, Any]:
        job = self._completed(tenant, job_id)
        try:
            document = self._transcript_document(job, max_bytes=RESPONSE_MAX_BYTES)
        except ObjectTooLargeError:
            # Its segments could exceed Lambda's 6 MB response: the file comes from S3 instead.
            raise problems.PayloadTooLarge(
                f"The transcript of {job_id} is too large to answer here; download it from "
                f"/v1/transcriptions/{job_id}/download?format=json, or search it with "
                f"/v1/search?job_id={job_id}."
            ) from None
        found = matching_segments(document.get("segments", []), query)
        found = speakers.filter_by_speaker(document, found, speaker)
        return {"job_id": job_id, "count": len(found), "segments": found}

    def rename_speakers(self, tenant: Tenant, job_id: str, names: Any) -> dict[str, Any]:
        """Name a COMPLETED job's speakers; all four outputs are rewritten (transcriber/api/speakers.py)."""
        job = self._completed(tenant, job_id)
        document = self._transcript_document(job)
        bucket = self.results_bucket
        return speakers.rename(job, document, names, jobs=self.jobs, objects=self.objects, bucket=bucket)

    def download(
        self,
        tenant: Tenant,
        job_id: str,
        fmt: str,
        captions: dict[str, Any] | None = None,
        *,
        unredacted: bool = False,
    ) -> Download:
        """The stored output; subtitles with other ``captions`` limits are rendered again from the JSON.

        ``unredacted``: the JSON as heard, kept beside the redacted outputs when the job asked for
        ``redact_pii`` and ``keep_unredacted`` (its owner's to fetch; nobody else's).
        """
        job = self._completed(tenant, job_id)
        if fmt not in OUTPUT_FORMATS:
            raise problems.Unprocessable(f"format must be one of {', '.join(OUTPUT_FORMATS)}.")
        chosen = {f"caption_max_{k}": v for k, v in (captions or {}).items() if v is not None}
        if chosen and not unredacted:
            return self._restyled(job, fmt, chosen)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", filename_of(job).rsplit(".", 1)[0])[:80] or job_id
        output, filename = fmt, f"{stem}.{fmt}"
        if unredacted:
            if fmt != "json" or chosen:
                raise problems.Unprocessable("unredacted=true applies to format=json only.")
            if UNREDACTED_OUTPUT not in (job.get("outputs") or {}):
                raise problems.NotFound(
                    f"Transcription {job_id} has no unredacted copy: only a job created with "
                    "redact_pii and keep_unredacted keeps one."
                )
            output, filename = UNREDACTED_OUTPUT, f"{stem}.{UNREDACTED_OUTPUT}"
        try:
            body = self._output(job, output, max_bytes=RESPONSE_MAX_BYTES)
        except ObjectTooLargeError:
            url = self.objects.presigned_get(
                *split_uri(job["outputs"][output]), expires_s=DOWNLOAD_URL_EXPIRY_S, filename=filename
            )
            return Download(filename=filename, content_type=CONTENT_TYPES[fmt], redirect_url=url)
        return Download(filename=filename, content_type=CONTENT_TYPES[fmt], body=body)

    def _restyled(self, job: dict[str, Any], fmt: str, chosen: dict[str, Any]) -> Download:
        if fmt not in ("srt", "vtt"):
            raise problems.Unprocessable("caption_max_* apply to format=srt and format=vtt only.")
        try:
            style = JobOptions.parse({**(job.get("options") or {}), **chosen}).caption_style()
        except PipelineError as err:
            raise problems.problem_for(err) from err
        transcript, names = transcript_from_document(self._transcript_document(job))
        body = (to_srt if fmt == "srt" else to_vtt)(transcript, names, style)
        stem = re.sub(r"[^A-Za-z0-9._-]+", "_", filename_of(job).rsplit(".", 1)[0])[:80] or job["job_id"]
        return Download(filename=f"{stem}.{fmt}", content_type=CONTENT_TYPES[fmt], body=body)

    def audio(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        """A presigned GET of the original upload, for the web app's player (the bucket stays private)."""
        job = self.owned_job(tenant, job_id)
        if job.get("status") == JobStatus.AWAITING_UPLOAD.value:
            raise problems.Conflict(
                f"Transcription {job_id} has no audio yet: PUT the file to its upload_url."
            )
        bucket, key = str(job.get("bucket") or ""), str(job.get("key") or "")
        if not (bucket and key and self.objects.exists(bucket, key)):
            raise problems.Gone(
                f"The audio of {job_id} is gone (the input bucket's lifecycle removed it); "
                "the transcript remains."
            )
        url = self.objects.presigned_get(
            bucket, key, expires_s=AUDIO_URL_EXPIRY_S, filename=key.rsplit("/", 1)[-1]
        )
        return {"job_id": job_id, "url": url, "expires_in": AUDIO_URL_EXPIRY_S}

    def _completed(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        job = self.owned_job(tenant, job_id)
        if job.get("status") != JobStatus.COMPLETED.value:
            raise problems.Conflict(
                f"Transcription {job_id} is {job.get('status')}; its transcript exists once it is COMPLETED."
            )
        return job

    def _output(self, job: dict[str, Any], fmt: str, *, max_bytes: int | None = None) -> str:
        uri = (job.get("outputs") or {}).get(fmt)
        text = self.objects.get_text(*split_uri(uri), max_bytes=max_bytes) if uri else None
        if text is None:
            raise problems.NotFound(
                f"The {fmt} transcript of {job['job_id']} is gone (its source job was deleted); "
                "retry is not possible, upload the audio again."
            )
        return text

    def _transcript_document(self, job: dict[str, Any], *, max_bytes: int | None = None) -> dict[str, Any]:
        document = json.loads(self._output(job, "json", max_bytes=max_bytes))
        return document if isinstance(document, dict) else {}

    # Change -----------------------------------------------------------------------------------

    def delete(self, tenant: Tenant, job_id: str) -> None:
        """Stop the job's run, leave a tombstone, then delete its audio, chunks and outputs.

        The tombstone keeps no key and no outputs, so what needs them (the audio, the copies for
        jobs that reuse the transcript) is done before it too: a DELETE that fails there leaves the
        job as it was. A DELETE that fails after it leaves a tombstone, and a repeated DELETE
        finishes the rest (:meth:`_purge`) and answers as the first would have.
        """
        job = self._owned_record(tenant, job_id)
        if job.get("status") == JobStatus.DELETED.value:
            self._purge(tenant, job_id)
            return
        if job.get("status") in (JobStatus.PENDING.value, JobStatus.PROCESSING.value):
            run = latest_execution_name(job)
            if self.runs.stop(run, cause="Deleted by its owner through the API"):
                self._wait_until_ended(run)
        self._release(job)
        # The tombstone: from here no stage writes for the job (transcriber/stages/deleted.py),
        # no upload to its URL becomes a job, and no new upload reuses its transcript.
        self.jobs.mark_deleted(job_id)
        self._release(job)  # again: for an upload or a duplicate that came before the tombstone
        self._purge(tenant, job_id, job)

    def _release(self, job: dict[str, Any]) -> None:
        """Delete the job's audio and give jobs that reuse its outputs their own copy (both
        idempotent); what only the live record knows, so done before the tombstone and after."""
        if job.get("bucket") == self.input_bucket and job.get("key"):  # prod versions the bucket
            self.objects.delete_every_version(self.input_bucket, str(job["key"]))
        # Jobs that reuse these outputs get their own copy first (transcriber/stages/erasure.py).
        hand_over_outputs(job, jobs=self.jobs, objects=self.objects, results_bucket=self.results_bucket)

    def _purge(self, tenant: Tenant, job_id: str, job: dict[str, Any] | None = None) -> None:
        """Delete a deleted job's chunks and outputs and announce it (the search index forgets it);
        the job id is enough, so a repeated DELETE of its tombstone runs it again."""
        self.objects.delete_prefix(self.results_bucket, f"{WORK_PREFIX}/{job_id}/")
        # Only the job's own outputs: a duplicate points to another job's, which are not its to delete.
        self.objects.delete_prefix(self.results_bucket, f"{TRANSCRIPTS_PREFIX}/{job_id}/")
        if self.events is not None:
            job = job or {}
            self.events.emit(
                JobDeleted(
                    job_id=job_id,
                    bucket=str(job.get("bucket") or self.input_bucket),
                    key=str(job.get("key") or job_id),
                    tenant_id=tenant.tenant_id,
                )
            )

    def _wait_until_ended(self, run: str) -> None:
        """Wait briefly for a stopped run to report that it ended before the tombstone is written.

        AWS ends a run at once on StopExecution; moto's interpreter only once the task it is running
        returns. A step that saw the tombstone first would fail the run instead of letting it end
        ABORTED (transcriber/stages/deleted.py), so the tombstone waits, at most STOP_WAIT_S.
        """
        deadline = time.monotonic() + STOP_WAIT_S
        while self.runs.status(run) == "RUNNING" and time.monotonic() < deadline:
            time.sleep(0.05)

    def retry(self, tenant: Tenant, job_id: str) -> dict[str, Any]:
        self.owned_job(tenant, job_id)
        try:
            retry_job(job_id, jobs=self.jobs, executions=self.runs)
        except PipelineError as err:
            raise problems.problem_for(err) from err
        return self.view(self.owned_job(tenant, job_id))


def _list_position(job: dict[str, Any]) -> dict[str, Any]:
    """Where a list page that ends at ``job`` leaves off: its key in the tenant index, as a cursor."""
    return {"job_id": job["job_id"], "tenant_id": job["tenant_id"], "created_at": job["created_at"]}
