"""The chunk step's output must fit the 256 KB Step Functions payload limit, even for 4 hours.

Only chunk references go into the state (functions/chunk/handler.py), one per chunk, so the size
grows with the number of chunks. The plans are built from synthetic speech maps, the planner's
input, rather than from four hours of generated audio.
"""

from __future__ import annotations

import json
import random

import pytest

from transcriber.domain.chunking import ChunkingConfig, Span, plan_from_speech
from transcriber.domain.jobs import chunk_key, job_id_for
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import MAX_CHUNK_SECONDS_RANGE

STATE_PAYLOAD_LIMIT = 262_144  # bytes
FOUR_HOURS_MS = 4 * 3600 * 1000


def state_payload(specs: list[ChunkSpec], duration_s: float) -> bytes:
    """The chunk handler's return value, as JSON: what lands in the state machine's state."""
    job_id = job_id_for("input-bucket", "uploads/four-hour-meeting.m4a", "0123456789abcdef0123456789abcdef")
    chunks = [{**spec.to_dict(), "key": chunk_key(job_id, spec.index)} for spec in specs]
    return json.dumps({"job_id": job_id, "duration": duration_s, "chunks": chunks}).encode()


def runs(speech_ms: int, pause_ms: int) -> list[Span]:
    """Speech runs of one length between pauses of one length, over four hours."""
    step = speech_ms + pause_ms
    return [(start, start + speech_ms) for start in range(0, FOUR_HOURS_MS - speech_ms, step)]


def conversation(seed: int = 3, duration_ms: int = FOUR_HOURS_MS) -> list[Span]:
    """Speech runs of 1-20 s between pauses of 0.3-3 s, over four hours (or ``duration_ms``)."""
    rng = random.Random(seed)
    spans: list[Span] = []
    start = 0
    while True:
        end = start + rng.randint(1_000, 20_000)
        if end > duration_ms:
            return spans
        spans.append((start, end))
        start = end + rng.randint(300, 3_000)


@pytest.mark.parametrize(
    "max_chunk_seconds", [MAX_CHUNK_SECONDS_RANGE[0], ChunkingConfig().max_chunk_seconds]
)
@pytest.mark.parametrize(
    "pattern",
    ["conversation", "continuous", "runs-just-over-half", "runs-just-over-one"],
)
def test_a_four_hour_plan_fits_the_state_payload_limit(pattern: str, max_chunk_seconds: float) -> None:
    """At the shortest chunk a job may ask for, and at the default, with the worst speech patterns."""
    max_ms = int(max_chunk_seconds * 1000)
    speech = {
        "conversation": conversation(),
        "continuous": [(0, FOUR_HOURS_MS)],  # no pause at all: fixed cuts with overlap
        "runs-just-over-half": runs(max_ms // 2 + 500, 600),  # two runs never share a chunk
        "runs-just-over-one": runs(max_ms + 500, 600),  # each run needs two overlapping pieces
    }[pattern]
    specs = plan_from_speech(speech, FOUR_HOURS_MS, ChunkingConfig(max_chunk_seconds=max_chunk_seconds))
    assert len(specs) >= FOUR_HOURS_MS / 1000 / max_chunk_seconds  # the pattern really makes this many
    # The whole state after the chunk step: the execution input (with a 1,024-character key, the
    # longest S3 allows), the chunk list and the language decision. The Map's results are dropped.
    execution_input = {
        "job_id": "0" * 32,
        "bucket": "b" * 63,
        "key": "k" * 1024,
        "options": {"language": "de"},
    }
    language = {"language": "de", "source": "detected", "confidence": 0.9876, "samples": 5}
    state = len(json.dumps({**execution_input, "language": language}).encode())
    state += len(state_payload(specs, FOUR_HOURS_MS / 1000))
    assert state < STATE_PAYLOAD_LIMIT
