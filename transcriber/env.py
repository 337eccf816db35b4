"""One environment model per function (pydantic-settings), read from what infra/ sets.

Each handler checks its model when it is imported (Lambda's init phase), so a function deployed
without a variable it needs fails at init with the variable's name, not at its first call. Field
aliases are the environment variable names, so errors name the variable to fix. A model reads the
environment afresh each time it is built; :func:`transcriber.wiring.ports` caches the ports built
from one, so a warm function builds them once.

The HTTP API still reads ``transcriber.settings.Settings`` until it gets a model here.
"""

from __future__ import annotations

from dataclasses import fields, replace
from typing import Any

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from transcriber.domain.chunking import ChunkingConfig

_DEFAULT_CHUNKING = ChunkingConfig()


def _var(name: str, default: Any = ..., **constraints: Any) -> Any:
    """A field read from environment variable ``name`` (required when no default is given)."""
    return Field(default, validation_alias=name, **constraints)


class FunctionEnv(BaseSettings):
    """What every pipeline function gets (infra's common environment)."""

    model_config = SettingsConfigDict(frozen=True, extra="ignore", case_sensitive=True)

    jobs_table: str = _var("JOBS_TABLE", min_length=1)
    results_bucket: str = _var("RESULTS_BUCKET", min_length=1)
    event_bus_name: str = _var("EVENT_BUS_NAME", min_length=1)


class WorkflowEnv(FunctionEnv):
    """A function that starts or inspects executions of the state machine."""

    state_machine_arn: str = _var("STATE_MACHINE_ARN", min_length=1)


class IngestEnv(WorkflowEnv):
    max_upload_bytes: int = _var("MAX_UPLOAD_BYTES", 500 * 1024 * 1024, gt=0)
    #: the tenants' retention, for files dropped into the bucket
    tenants_table: str = _var("TENANTS_TABLE", min_length=1)
    #: Powertools Idempotency records of ingest
    idempotency_table: str = _var("IDEMPOTENCY_TABLE", min_length=1)
    #: how long a transcript is reused for the same audio and options (0 turns reuse off)
    dedup_window_hours: float = _var("DEDUP_WINDOW_HOURS", 24.0, ge=0)


class SweeperEnv(WorkflowEnv):
    pass


class ChunkingEnv(FunctionEnv):
    """The chunk planner's settings, tunable without a deploy (the transcribe step's edge check
    uses the same silence threshold)."""

    max_chunk_seconds: float = _var("MAX_CHUNK_SECONDS", _DEFAULT_CHUNKING.max_chunk_seconds, gt=0)
    min_chunk_s: float = _var("CHUNK_MIN_SECONDS", _DEFAULT_CHUNKING.min_chunk_s, ge=0)
    min_silence_ms: int = _var("CHUNK_MIN_SILENCE_MS", _DEFAULT_CHUNKING.min_silence_ms, gt=0)
    silence_thresh_dbfs: float = _var("CHUNK_SILENCE_THRESH_DBFS", _DEFAULT_CHUNKING.silence_thresh_dbfs)
    keep_silence_ms: int = _var("CHUNK_KEEP_SILENCE_MS", _DEFAULT_CHUNKING.keep_silence_ms, ge=0)
    seam_overlap_s: float = _var("CHUNK_SEAM_OVERLAP_SECONDS", _DEFAULT_CHUNKING.seam_overlap_s, ge=0)
    speech_share: float = _var("CHUNK_SPEECH_SHARE", _DEFAULT_CHUNKING.speech_share, gt=0, le=1)

    def chunking(self) -> ChunkingConfig:
        """The fields named as ChunkingConfig's; a chunk's floor is never above its cap."""
        config = ChunkingConfig(**self.model_dump(include={f.name for f in fields(ChunkingConfig)}))
        return replace(config, min_chunk_s=min(config.min_chunk_s, config.max_chunk_seconds))


class ChunkEnv(ChunkingEnv):
    max_duration_seconds: float = _var("MAX_DURATION_SECONDS", 4 * 3600.0, gt=0)


class TranscribeEnv(ChunkingEnv):
    pass


class AggregateEnv(FunctionEnv):
    pass


class FailEnv(FunctionEnv):
    pass
