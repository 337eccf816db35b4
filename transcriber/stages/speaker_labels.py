"""Where a job's speaker data lies in S3, and how aggregate applies the stored speaker turns.

Apart from transcriber.stages.diarize because aggregate is a zip function: this side needs
neither numpy's clustering stack nor the speaker encoder.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from transcriber.domain.errors import DiarizationError
from transcriber.domain.jobs import WORK_PREFIX
from transcriber.domain.models import Transcript
from transcriber.domain.speaker_turns import SpeakerTurn, label_segments
from transcriber.stages.ports import StagePorts


def speaker_embeddings_key(job_id: str, index: int) -> str:
    """Beside the chunk's checkpoint (``work/<job>/partials/``), so the job's work prefix holds both."""
    return f"{WORK_PREFIX}/{job_id}/speakers/chunk-{index:04d}.npz"


def speaker_turns_key(job_id: str) -> str:
    return f"{WORK_PREFIX}/{job_id}/speakers/turns.json"


def _turns(data: Any) -> list[SpeakerTurn]:
    if not isinstance(data, list):
        raise DiarizationError("the stored speaker turns are not a list")
    try:
        return [SpeakerTurn.from_dict(t) for t in data]
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise DiarizationError(f"the stored speaker turns are malformed: {err}") from err


def label_transcript(transcript: Transcript, job_id: str, *, ports: StagePorts) -> Transcript:
    """The merged transcript with every word and segment labelled (segments split at turns)."""
    key = speaker_turns_key(job_id)
    if not ports.store.exists(ports.results_bucket, key):
        raise DiarizationError(f"speaker labels were asked for but no speaker turns are stored ({key})")
    turns = _turns(ports.store.get_json(ports.results_bucket, key))
    return dataclasses.replace(transcript, segments=tuple(label_segments(transcript.segments, turns)))
