"""Typed messages of the pipeline (pydantic): the job record, the execution input, each step's
request and response, and the job events (five for a job's lifecycle, one for its deletion).

The state machine in infra/ passes JSON between steps; these models are that JSON, so a handler
parses its event into one and a stage never reads an untyped dict. Field names and values on the
wire are exactly what the steps exchanged before the models existed: the models describe the
contract, they do not change it. ``python -m transcriber.domain.event_schemas`` writes the event
schemas in docs/events/ from the event models (a unit test keeps the committed files current).
"""

from __future__ import annotations

from dataclasses import asdict, fields
from typing import Annotated, Any, ClassVar, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    SerializerFunctionWrapHandler,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_serializer,
    model_validator,
)

from transcriber.domain.jobs import (
    EVENT_JOB_COMPLETED,
    EVENT_JOB_CREATED,
    EVENT_JOB_FAILED,
    EVENT_JOB_PROGRESS,
    EVENT_JOB_STARTED,
    JobStatus,
    utc_now,
)
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import JobOptions
from transcriber.domain.search import EVENT_JOB_DELETED

T = TypeVar("T")


#: A nested message that may arrive absent or null (the state machine's ``$.x`` of nothing):
#: its defaults stand in.
OrDefaults = Annotated[T, BeforeValidator(lambda value: value or {})]


class Message(BaseModel):
    """A step's JSON: keys the state machine adds for other steps are ignored, not refused."""

    model_config = ConfigDict(extra="ignore")

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict a step returns or sends."""
        return self.model_dump(mode="json")


class WithOptions(Message):
    """A message carrying a job's options; on the wire only what differs from the defaults."""

    options: JobOptions = JobOptions()

    @field_validator("options", mode="before")
    @classmethod
    def _absent_means_defaults(cls, value: Any) -> Any:
        return value if isinstance(value, JobOptions) else JobOptions.parse(value)

    @field_serializer("options")
    def _only_chosen(self, options: JobOptions) -> dict[str, Any]:
        return options.to_dict()


# The job record -------------------------------------------------------------------------------


class Job(WithOptions):
    """One row of the jobs table (fields a stage does not know are kept, not dropped)."""

    model_config = ConfigDict(extra="allow")

    job_id: str
    status: JobStatus
    bucket: str | None = None
    key: str | None = None
    tenant_id: str | None = None
    size: int | None = None
    sha256: str | None = None
    #: how many times the job was requeued (absent on its first run)
    attempts: int = 0
    created_at: str | None = None
    updated_at: str | None = None

    @field_validator("attempts", mode="before")
    @classmethod
    def _no_attempts_yet(cls, value: Any) -> Any:
        return value or 0

    def execution_input(self) -> ExecutionInput:
        """What a run of this job starts with (first run, retry or requeue alike)."""
        return ExecutionInput(
            job_id=self.job_id, bucket=self.bucket or "", key=self.key or "", options=self.options
        )


class ExecutionInput(WithOptions):
    """The input of one state machine execution: the only place it is built."""

    job_id: str
    bucket: str
    key: str


# Step requests and responses ------------------------------------------------------------------


class Upload(Message):
    """Ingest's input: one object that arrived in the input bucket (key already URL-decoded)."""

    bucket: str
    key: str
    size: int
    etag: str | None = None
    version_id: str | None = None


class ChunkRequest(ExecutionInput):
    """ChunkAudio's input: the execution input as it is."""


class ChunkRef(Message):
    """One chunk in the manifest: where it lies in the audio, and where its samples are stored.

    ``key`` is the job's stored WAV and ``byte_range`` the chunk's [first, stop) bytes in it. A
    manifest written before the audio was stored whole has no ``byte_range``: there ``key`` is a
    WAV of the chunk alone (executions in flight across a deploy still read it).
    """

    index: int
    offset: float
    duration: float
    overlap: float = 0.0
    key: str
    #: with channel identification only (absent otherwise, so the state stays as small as before)
    channel: int | None = None
    byte_range: tuple[int, int] | None = None

    @model_serializer(mode="wrap")
    def _without_absent_fields(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for name in ("channel", "byte_range"):
            if data.get(name) is None:
                data.pop(name, None)
        return data

    @classmethod
    def of(cls, spec: ChunkSpec, key: str, byte_range: tuple[int, int] | None = None) -> ChunkRef:
        return cls(**asdict(spec), key=key, byte_range=byte_range)

    def spec(self) -> ChunkSpec:
        """The chunk's place in the audio: ChunkSpec's fields (not where it is stored)."""
        return ChunkSpec(**{f.name: getattr(self, f.name) for f in fields(ChunkSpec)})


class ManifestRef(Message):
    """Where a job's chunk manifest (a JSON array of :class:`ChunkRef`) lies in S3: the Distributed
    Map reads its items from there, so the state never carries the chunk list (256 KB limit)."""

    bucket: str
    key: str


class ChunkResponse(Message):
    """ChunkAudio's answer (at ``$.audio``): a summary of constant size, whatever the file's length."""

    job_id: str
    duration: float
    chunks_total: int
    manifest: ManifestRef


class WithManifest(Message):
    """A step that reads the job's chunk list from its manifest (transcriber/stages/manifest.py)."""

    job_id: str
    manifest: ManifestRef


class LanguageVote(Message):
    """The job's language (at ``$.language``): requested, voted on, or "" to detect per chunk
    (the aggregate step then votes: transcriber/domain/language.py)."""

    language: str | None = None
    source: str | None = None
    confidence: float | None = None
    samples: int | None = None


#: ``$.language`` of a job that names none: each chunk detects its own, the aggregate step votes.
DETECT_PER_CHUNK = LanguageVote(language="", source="detected", samples=0)


class LanguageRequest(WithManifest):
    """DetectLanguage's input, from executions started before the language vote moved after the
    fan-out (2026-12-05): a deploy does not change the definition a running execution follows.
    They get :data:`DETECT_PER_CHUNK`, so they finish like new ones. Nothing sends it once no such
    execution can still run (the state machine's timeout is 6 hours)."""

    action: Literal["detect_language"] = "detect_language"


class TranscribeRequest(WithOptions):
    """One Map item: a chunk to transcribe in the job's language, or in the one detected on it.

    With a language, a stored result in another language (a chunk the vote overruled) is
    transcribed again and replaced; one in this language is reused."""

    action: Literal["transcribe"] = "transcribe"
    job_id: str
    chunk: ChunkRef
    #: empty or null: the engine detects the language on this chunk
    language: str | None = None


class DiarizeRequest(WithOptions, WithManifest):
    """DiarizeSpeakers' input (after the Map, when speaker labels are on): cluster the job's
    per-chunk speaker embeddings once."""

    action: Literal["diarize"] = "diarize"


class DiarizeResponse(Message):
    """DiarizeSpeakers' answer (at ``$.speakers``): where the speaker turns are, and how many speakers."""

    key: str
    speakers: int


class TranscribeFunctionRequest(
    RootModel[Annotated[TranscribeRequest | DiarizeRequest | LanguageRequest, Field(discriminator="action")]]
):
    """What the transcribe function receives: a Map item (``action`` defaults to transcribe: the
    Map's items carry none), the job's speaker clustering, or an older execution's DetectLanguage."""

    @model_validator(mode="before")
    @classmethod
    def _default_action(cls, value: Any) -> Any:
        return {"action": "transcribe", **value} if isinstance(value, dict) else value


class TranscribeResponse(Message):
    index: int
    key: str
    #: the chunk's checkpoint already existed: nothing was transcribed again
    reused: bool


class AggregateRequest(WithOptions, WithManifest):  # options: speaker labels are applied when on
    bucket: str
    key: str
    duration: float
    language: OrDefaults[LanguageVote] = LanguageVote()
    #: the state machine can send chunks back (RedoChunks); an execution started before it could
    #: not, and completes with each chunk in the language it was heard in, with a warning
    redo_allowed: bool = False


class LanguageRedo(Message):
    """Chunks heard in another language than the one the job's vote chose, to be decoded again in it."""

    language: LanguageVote
    #: the chunks to decode again, as a manifest the RedoChunks Map reads
    manifest: ManifestRef
    chunks: int


class AggregateResponse(Message):
    """AggregateTranscript's answer (at ``$.aggregated``): the job completed, or ``REDO``: some
    chunks must be decoded again in the voted language first (then the step runs again)."""

    job_id: str
    status: Literal["COMPLETED", "REDO"] = "COMPLETED"
    outputs: dict[str, str] = {}
    redo: LanguageRedo | None = None


class StepError(Message):
    """What a state's Catch puts at ``$.error``."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    error: str = Field("States.TaskFailed", alias="Error")
    cause: str = Field("", alias="Cause")

    @field_validator("error", "cause", mode="before")
    @classmethod
    def _null_means_unknown(cls, value: Any, info: ValidationInfo) -> Any:
        if value:
            return str(value)
        return "States.TaskFailed" if info.field_name == "error" else ""


class FailRequest(Message):
    """MarkFailed's input: from the Catch, or built from an execution's status-change event."""

    job_id: str
    bucket: str | None = None
    key: str | None = None
    error: OrDefaults[StepError] = StepError()


class FailResponse(Message):
    job_id: str
    status: Literal["FAILED"] = "FAILED"
    reason_code: str


# Job events -----------------------------------------------------------------------------------

_TIMESTAMP = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$"
_JOB_ID = r"^[0-9a-f]{32}$"
_S3_URI = r"^s3://[^/]+/.+$"


def _documented(pattern: str | None = None, description: str | None = None, **schema: Any) -> Any:
    """A field whose pattern is part of the published schema but not re-checked on send: an event
    carries what the job record holds, and refusing to announce a transition would lose it."""
    extra = {"pattern": pattern} if pattern else {}
    return Field(description=description, json_schema_extra={**extra, **schema})


class JobEvent(Message):
    """The detail of one job event on the bus (source ``audio.transcriber``)."""

    #: every field is always sent, defaults included: the schema requires them all
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)
    detail_type: ClassVar[str]
    schema_name: ClassVar[str]

    occurred_at: str = Field(
        default_factory=utc_now,
        description="When the transition happened (UTC, ISO 8601, milliseconds).",
        json_schema_extra={"pattern": _TIMESTAMP},
    )
    job_id: str = _documented(
        _JOB_ID, "Stable id of one upload (bucket, key, ETag, version); the Step Functions execution name."
    )
    bucket: str = _documented(None, "Input bucket of the upload.", minLength=3)
    key: str = _documented(None, "Object key of the upload (untrusted: any characters).", minLength=1)


class JobCreated(JobEvent):
    """An upload passed intake checks; its job is recorded PENDING and its execution started
    (or COMPLETED at once, reusing the result of the same audio transcribed recently)."""

    detail_type = EVENT_JOB_CREATED
    schema_name = "job-created"
    status: Literal["PENDING", "COMPLETED"] = Field("PENDING", description="Job status after this event.")
    size: int = _documented(None, "Upload size in bytes.", minimum=0)
    sha256: str = _documented(r"^[0-9a-f]{64}$", "SHA-256 of the upload.")


class JobStarted(JobEvent):
    """The audio was converted and split; the job is PROCESSING."""

    detail_type = EVENT_JOB_STARTED
    schema_name = "job-started"
    status: Literal["PROCESSING"] = Field("PROCESSING", description="Job status after this event.")
    duration: float = _documented(None, "Audio duration in seconds.", minimum=0)
    chunks_total: int = _documented(None, "Number of chunks to transcribe.", minimum=1)
    progress: Literal[0] = Field(0, description="Percentage of chunks done.")


class JobProgress(JobEvent):
    """Chunks finished; sent at most once per 10% band of chunks. When the job's language vote
    sends chunks back to be decoded again in the voted language, they join ``chunks_total``: one
    event then reports the percentage stepping back, and the bands are counted anew."""

    detail_type = EVENT_JOB_PROGRESS
    schema_name = "job-progress"
    status: Literal["PROCESSING"] = Field("PROCESSING", description="Job status after this event.")
    progress: int = _documented(None, "Percentage of chunks done (floor).", minimum=1, maximum=100)
    chunks_done: int = _documented(None, None, minimum=1)
    chunks_total: int = _documented(None, None, minimum=1)

    @classmethod
    def of_counters(cls, job_id: str, counters: dict[str, Any]) -> JobProgress:
        """The event for the jobs table's chunk counters, as its repository returns them (with the
        job's source object, so the event needs no second read)."""
        fields = ("bucket", "key", "progress", "chunks_done", "chunks_total")
        return cls(job_id=job_id, **{name: counters[name] for name in fields})


class JobCompleted(JobEvent):
    """The transcript is written in four formats; the job is COMPLETED."""

    detail_type = EVENT_JOB_COMPLETED
    schema_name = "job-completed"
    status: Literal["COMPLETED"] = Field("COMPLETED", description="Job status after this event.")
    language: str | None = Field(description="Detected language (ISO 639-1) or null.")
    duration: float = _documented(None, "Audio duration in seconds.", minimum=0)
    segments: int = _documented(None, "Number of transcript segments.", minimum=0)
    outputs: dict[str, str] = _documented(
        None,
        "S3 URIs of the transcript, one per format.",
        properties={fmt: {"type": "string", "pattern": _S3_URI} for fmt in ("json", "srt", "vtt", "txt")},
        required=["json", "srt", "vtt", "txt"],
        additionalProperties=False,
    )


class JobFailed(JobEvent):
    """The job ended FAILED (rejected at intake, failed in a step, or its execution failed, timed
    out or was aborted)."""

    detail_type = EVENT_JOB_FAILED
    schema_name = "job-failed"
    status: Literal["FAILED"] = Field("FAILED", description="Job status after this event.")
    bucket: str | None = Field(  # type: ignore[assignment]
        description="Input bucket of the upload (null only if the execution input was unreadable)."
    )
    key: str | None = Field(  # type: ignore[assignment]
        description="Object key of the upload (null only if the execution input was unreadable)."
    )
    reason_code: str = _documented(
        r"^[A-Z][A-Z_]*$",
        "Machine-readable reason, e.g. UNSUPPORTED_FORMAT, CORRUPT_AUDIO, TOO_LONG, TIMEOUT, INTERNAL_ERROR.",
    )
    message: str = Field(description="What went wrong, for a person.")


class JobDeleted(JobEvent):
    """The job was deleted, by its owner (an erasure request too) or by the sweeper when its
    tenant's transcript retention ended: consumers drop what they keep of it; the search indexer
    removes its segments (no query finds them from then on; their text leaves the index's files
    at the next maintenance runs, transcriber/stages/search.py ``maintain``). Published with the
    lifecycle events (PUBLISHED_EVENTS) but not one of them: live status pushes only the job's
    progress."""

    detail_type = EVENT_JOB_DELETED
    schema_name = "job-deleted"
    tenant_id: str = Field(description="The tenant whose job it was.")


JOB_EVENTS: tuple[type[JobEvent], ...] = (JobCreated, JobStarted, JobProgress, JobCompleted, JobFailed)
#: Every event on the jobs bus, each with its JSON Schema in docs/events/.
PUBLISHED_EVENTS: tuple[type[JobEvent], ...] = (*JOB_EVENTS, JobDeleted)
