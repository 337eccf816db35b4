"""The ports the stages share, built once per process by transcriber.wiring."""

from __future__ import annotations

from dataclasses import dataclass

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.storage import ObjectStore


@dataclass(frozen=True)
class StagePorts:
    """Object store, jobs table and event bus, and the bucket of work files and transcripts."""

    store: ObjectStore
    jobs: JobRepository
    events: EventPublisher
    results_bucket: str
