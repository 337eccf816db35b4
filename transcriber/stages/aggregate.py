"""Aggregate: decide the job's language from its chunks, merge the chunk transcripts, write the
four outputs and complete the job (deleting its audio first where the tenant's retention asks for
that: transcriber/domain/retention.py).

When the chunks detected their own language and some were heard in another one than the vote
chose, the job is not completed yet: those chunks go back to be decoded in the chosen language
(the state machine's RedoChunks) and this step runs again with that language pinned."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.channels import merge_by_channel
from transcriber.domain.formats import render_all, speakers_summary
from transcriber.domain.job_warnings import NO_SPEECH, mixed_language_warning
from transcriber.domain.jobs import (
    OUTPUT_CONTENT_TYPES,
    TRANSCRIPTS_PREFIX,
    UNREDACTED_OUTPUT,
    WORK_PREFIX,
    JobStatus,
    job_audio_prefix,
    output_key,
    parse_timestamp,
    partial_key,
)
from transcriber.domain.language import chunk_votes, chunks_to_redo, vote
from transcriber.domain.merge import merge_chunks
from transcriber.domain.messages import (
    AggregateRequest,
    AggregateResponse,
    ChunkRef,
    Job,
    JobCompleted,
    JobProgress,
    LanguageRedo,
    LanguageVote,
)
from transcriber.domain.models import ChunkTranscript, Transcript
from transcriber.domain.options import JobOptions
from transcriber.domain.retention import Retention
from transcriber.domain.textedit import edit_transcript, text_edits
from transcriber.stages.deleted import refuse_if_deleted
from transcriber.stages.erasure import release_transcribed_audio
from transcriber.stages.manifest import read_manifest, write_manifest
from transcriber.stages.ports import StagePorts
from transcriber.stages.speaker_labels import label_transcript

logger = Logger(child=True)
metrics = Metrics()


def run_queued_at(job: Mapping[str, Any] | None) -> str | None:
    """When the job's current run was queued (ingest's or the latest requeue's ``queued_at``):
    where its duration starts, not the wait for the upload nor the days before a retry. Records
    written before ``queued_at`` existed have only ``created_at``."""
    recorded = job or {}
    return recorded.get("queued_at") or recorded.get("created_at")


def _seconds_since(iso: str | None) -> float | None:
    if not iso:
        return None
    return round((datetime.now(UTC) - parse_timestamp(iso)).total_seconds(), 3)


def transcript_warnings(transcript: Transcript) -> list[str]:
    """What a user should know about a completed transcript (an empty one is not a failure)."""
    return [] if transcript.text.strip() else [NO_SPEECH]


def aggregate(request: AggregateRequest, *, ports: StagePorts) -> AggregateResponse:
    """Merge the job's chunk transcripts, store every output format, and complete the job."""
    job_id, store, bucket = request.job_id, ports.store, ports.results_bucket
    chunks = read_manifest(request.manifest, ports=ports)
    keys = [partial_key(job_id, chunk.index) for chunk in chunks]
    partials = [ChunkTranscript.from_dict(data) for data in store.get_json_many(bucket, keys)]
    decision = request.language
    votes = chunk_votes(partials) if not decision.language and decision.source == "detected" else []
    caveats: list[str] = []
    if votes:  # each chunk detected its own (none did in a job started before they kept it)
        voted = vote(votes)
        decision = LanguageVote(**voted.to_dict())
        redo = set(chunks_to_redo(partials, voted))
        if redo and request.redo_allowed:
            sent_back = [c for c in chunks if c.index in redo]
            return _send_back(job_id, sent_back, decision, file_chunks=len(chunks), ports=ports)
        if redo and voted.language:  # (a winner always exists when chunks are overruled)
            caveats.append(mixed_language_warning(voted.language, len(redo)))
    channel_of = {chunk.index: chunk.channel for chunk in chunks if chunk.channel is not None}
    engine = ",".join(sorted({p.engine for p in partials if p.engine}))
    merge = partial(
        merge_chunks, job_id, duration=request.duration, engine=engine, language=decision.language
    )
    transcript = merge_by_channel(partials, channel_of, merge) if channel_of else merge(partials)
    if request.options.speaker_labels:
        transcript = label_transcript(transcript, job_id, ports=ports)
    found = ports.jobs.get(job_id)
    job = Job.model_validate(found) if found else None
    # The job record's options: the API adds a vocabulary's phrases there, not in the state.
    options = job.options if job else JobOptions()
    heard, transcript = transcript, edit_transcript(transcript, text_edits(options))
    rendered = render_all(transcript, style=options.caption_style())
    if options.redact_pii and options.keep_unredacted:  # asked for both: the plain text beside it
        as_heard = edit_transcript(heard, text_edits(options, redact=False))
        rendered[UNREDACTED_OUTPUT] = render_all(as_heard)["json"]
    store.put_texts(
        bucket,
        [
            (output_key(job_id, fmt), body, OUTPUT_CONTENT_TYPES.get(fmt, "application/json"))
            for fmt, body in rendered.items()
        ],
    )
    refuse_if_deleted(job_id, ports, WORK_PREFIX, TRANSCRIPTS_PREFIX)
    outputs = {fmt: f"s3://{bucket}/{output_key(job_id, fmt)}" for fmt in rendered}

    processing_time = _seconds_since(run_queued_at(found))
    # The converted WAV the chunks were read from has served its purpose (a requeued job converts
    # the upload again): not kept for work/'s 30-day lifecycle, whatever the tenant's retention.
    store.delete_prefix(bucket, job_audio_prefix(job_id))
    retention = Retention.from_record(found)
    release_transcribed_audio(retention, request.bucket, request.key, store=store)
    fields: dict[str, Any] = {
        "duration": transcript.duration,
        "language": transcript.language,
        "language_source": decision.source,
        "language_confidence": decision.confidence,
        "segments": len(transcript.segments),
        "chunks_total": transcript.chunks,
        "chunks_done": transcript.chunks,
        "processing_time_s": processing_time,
        "outputs": outputs,
        "engine": transcript.engine,
        "warnings": list(
            dict.fromkeys([*(found or {}).get("warnings", []), *transcript_warnings(transcript), *caveats])
        ),
        **retention.completion_fields(datetime.now(UTC), found),
    }
    if request.options.speaker_labels:  # jobs without speaker labels keep their record as it was
        fields["speakers"] = speakers_summary(transcript.segments)
    if not ports.jobs.mark_completed(job_id, fields) and not _completed_before(job_id, ports):
        return AggregateResponse(job_id=job_id, outputs=outputs)
    # Announced before the redacting job's checkpoints go: a retry after a failed announcement
    # must still find what it merges (EventBridge delivers at least once anyway: key on job_id).
    ports.events.emit(
        JobCompleted(
            job_id=job_id,
            bucket=request.bucket,
            key=request.key,
            language=transcript.language,
            duration=transcript.duration,
            segments=len(transcript.segments),
            outputs=outputs,
        )
    )
    if options.redact_pii:
        # The chunk checkpoints hold the words as heard: not kept once the redacted outputs exist
        # (nor the manifest that lists them).
        for key in [*keys, request.manifest.key]:
            store.delete(bucket, key)
    metrics.add_metric(name="JobsCompleted", unit=MetricUnit.Count, value=1)
    if processing_time is not None:
        metrics.add_metric(name="JobDuration", unit=MetricUnit.Seconds, value=processing_time)
    logger.info(
        "Job completed", extra={"segments": len(transcript.segments), "language": transcript.language}
    )
    return AggregateResponse(job_id=job_id, outputs=outputs)


def _completed_before(job_id: str, ports: StagePorts) -> bool:
    """Why completing the job changed nothing: a retry of this step (COMPLETED on the first try, its
    announcement still to make), a deletion meanwhile (its files go: JobDeletedError), or another
    end the job met meanwhile (the sweeper failed it): then nothing is announced."""
    refuse_if_deleted(job_id, ports, WORK_PREFIX, TRANSCRIPTS_PREFIX)
    job = ports.jobs.get(job_id)
    status = (job or {}).get("status")
    if status == JobStatus.COMPLETED.value:
        return True
    logger.warning(
        "The job ended otherwise while its transcript was merged; not completed", extra={"status": status}
    )
    return False


def _send_back(
    job_id: str, chunks: list[ChunkRef], decision: LanguageVote, *, file_chunks: int, ports: StagePorts
) -> AggregateResponse:
    """The chunks heard in another language than the vote chose, to be decoded again in it."""
    manifest = write_manifest(job_id, chunks, ports=ports, redo=True)
    progress = ports.jobs.count_chunks_sent_back(job_id, file_chunks=file_chunks, sent_back=len(chunks))
    if progress["progress"]:  # the percentage stepped back: live views hear it at once
        ports.events.emit(JobProgress.of_counters(job_id, progress))
    metrics.add_metric(name="ChunksDecodedAgain", unit=MetricUnit.Count, value=len(chunks))
    logger.info(
        "Chunks heard in another language than the job's; decoding them again",
        extra={"language": decision.language, "chunks": [c.index for c in chunks]},
    )
    return AggregateResponse(
        job_id=job_id,
        status="REDO",
        redo=LanguageRedo(language=decision, manifest=manifest, chunks=len(chunks)),
    )
