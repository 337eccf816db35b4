"""Files of any length: a 12-hour plan goes into the chunk manifest in S3, and no state of the
execution grows with it (the Distributed Map reads its items from the manifest).

The plan comes from the real planner on a synthetic speech map (no audio is decoded); the state
payloads are the step messages the state machine passes (transcriber/domain/messages.py),
serialized as the handlers return them, and merged into the state where the state machine puts
them (infra/constructs/state_machine.py).
"""

from __future__ import annotations

import json
import random
from typing import Any, cast

import pytest

from transcriber.adapters.storage import ObjectStore
from transcriber.domain.chunking import ChunkingConfig, Span, longest_first, plan_from_speech
from transcriber.domain.jobs import audio_key, output_key
from transcriber.domain.messages import (
    AggregateRequest,
    AggregateResponse,
    ChunkRef,
    ChunkResponse,
    DiarizeRequest,
    DiarizeResponse,
    ExecutionInput,
    FailRequest,
    LanguageRedo,
    LanguageVote,
    ManifestRef,
    StepError,
    TranscribeRequest,
    TranscribeResponse,
)
from transcriber.domain.models import ChunkSpec
from transcriber.domain.options import MAX_CHUNK_SECONDS_RANGE, JobOptions
from transcriber.stages.manifest import read_manifest, write_manifest
from transcriber.stages.ports import StagePorts

STATE_PAYLOAD_LIMIT = 262_144  # bytes, Step Functions' limit on a state's input or output
TWELVE_HOURS_MS = 12 * 3600 * 1000
FOUR_HOURS_MS = 4 * 3600 * 1000
JOB_ID = "0123456789abcdef0123456789abcdef"


class MemoryStore:
    """The two ObjectStore calls the manifest uses, in memory."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], str] = {}

    def put_json(self, bucket: str, key: str, data: Any) -> None:
        self.objects[(bucket, key)] = json.dumps(data)

    def get_json(self, bucket: str, key: str) -> Any:
        return json.loads(self.objects[(bucket, key)])


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


def size(message: dict[str, Any]) -> int:
    return len(json.dumps(message).encode())


def stored_bytes(spec: ChunkSpec) -> tuple[int, int]:
    """The chunk's byte range in a canonical 16 kHz mono WAV (44-byte header): ranges as long as
    the chunk step writes them, so the manifest's size is the real one."""
    return 44 + round(spec.offset * 16_000) * 2, 44 + round(spec.end * 16_000) * 2


def test_a_twelve_hour_plan_lands_whole_in_the_manifest_and_the_state_stays_small() -> None:
    max_chunk_s = MAX_CHUNK_SECONDS_RANGE[0]  # the shortest chunks a job may ask for: the most chunks
    speech = conversation(12, TWELVE_HOURS_MS)
    specs = plan_from_speech(speech, TWELVE_HOURS_MS, ChunkingConfig(max_chunk_seconds=max_chunk_s))
    assert len(specs) >= TWELVE_HOURS_MS / 1000 / max_chunk_s  # over 2,000 chunks
    store = MemoryStore()
    ports = StagePorts(store=cast(ObjectStore, store), jobs=None, events=None, results_bucket="results")  # type: ignore[arg-type]
    chunks = [ChunkRef.of(spec, audio_key(JOB_ID), stored_bytes(spec)) for spec in longest_first(specs)]
    manifest = write_manifest(JOB_ID, chunks, ports=ports)

    # The manifest holds every chunk of the plan, nothing twice, and covers the whole file.
    listed = read_manifest(manifest, ports=ports)
    assert listed == chunks
    assert sorted(c.index for c in listed) == list(range(len(specs)))
    assert max(c.offset + c.duration for c in listed) >= speech[-1][1] / 1000 - 0.01
    manifest_bytes = len(store.objects[(manifest.bucket, manifest.key)].encode())
    assert manifest_bytes > STATE_PAYLOAD_LIMIT  # the old state-borne list could not have held it

    # Every step's request and response, as the state machine passes them, with the longest key
    # S3 allows and every option set.
    options = JobOptions.parse(
        {"language": "de", "speaker_labels": True, "max_chunk_seconds": max_chunk_s, "beam_size": 5}
    )
    execution = ExecutionInput(job_id=JOB_ID, bucket="b" * 63, key="k" * 1024, options=options).to_wire()
    audio = ChunkResponse(
        job_id=JOB_ID, duration=TWELVE_HOURS_MS / 1000, chunks_total=len(chunks), manifest=manifest
    ).to_wire()
    language = LanguageVote(language="de", source="detected", confidence=0.9876, samples=5).to_wire()
    speakers = DiarizeResponse(key=f"work/{JOB_ID}/speakers/turns.json", speakers=30).to_wire()
    longest = max(chunks, key=lambda c: len(c.to_wire()))
    # The language vote sending every chunk back: a manifest, not a list, whatever their number.
    redo_manifest = ManifestRef(bucket="results", key=f"work/{JOB_ID}/redo/chunk-manifest.json")
    sent_back = AggregateResponse(
        job_id=JOB_ID,
        status="REDO",
        redo=LanguageRedo(
            language=LanguageVote.model_validate(language), manifest=redo_manifest, chunks=len(chunks)
        ),
    ).to_wire()
    steps = [
        execution,
        audio,
        language,
        TranscribeRequest(job_id=JOB_ID, chunk=longest, language="de", options=options).to_wire(),
        TranscribeResponse(index=longest.index, key=longest.key, reused=False).to_wire(),
        DiarizeRequest(job_id=JOB_ID, manifest=manifest, options=options).to_wire(),
        speakers,
        AggregateRequest(
            job_id=JOB_ID,
            bucket="b" * 63,
            key="k" * 1024,
            duration=43_200.0,
            manifest=manifest,
            options=options,
        ).to_wire(),
        AggregateResponse(
            job_id=JOB_ID,
            outputs={f: f"s3://results/{output_key(JOB_ID, f)}" for f in ("json", "srt", "vtt", "txt")},
        ).to_wire(),
        sent_back,
        FailRequest(job_id=JOB_ID, error=StepError(Error="EngineError", Cause="x" * 4_096)).to_wire(),
    ]
    # The largest state: the execution input with every step's result where the state machine puts it.
    state = {**execution, "audio": audio, "language": language, "speakers": speakers, "aggregated": sent_back}
    largest = max([size(state), *(size(step) for step in steps)])
    assert largest < STATE_PAYLOAD_LIMIT / 32  # under 8 KB, whatever the file's length
    # ... and the same at 12 hours as at one chunk: no part of the state depends on the chunk count.
    one_chunk = {**state, "audio": {**audio, "chunks_total": 1, "duration": 20.0}}
    assert abs(size(state) - size(one_chunk)) < 16


@pytest.mark.parametrize(
    "max_chunk_seconds", [MAX_CHUNK_SECONDS_RANGE[0], ChunkingConfig().max_chunk_seconds]
)
@pytest.mark.parametrize(
    "pattern",
    ["conversation", "continuous", "runs-just-over-half", "runs-just-over-one"],
)
def test_a_four_hour_plan_goes_to_the_manifest_and_the_state_gets_a_constant_summary(
    pattern: str, max_chunk_seconds: float
) -> None:
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
    store = MemoryStore()
    ports = StagePorts(store=cast(ObjectStore, store), jobs=None, events=None, results_bucket="results")  # type: ignore[arg-type]
    chunks = [ChunkRef.of(spec, audio_key(JOB_ID), stored_bytes(spec)) for spec in longest_first(specs)]
    manifest = write_manifest(JOB_ID, chunks, ports=ports)
    assert read_manifest(manifest, ports=ports) == chunks
    response = ChunkResponse(
        job_id=JOB_ID, duration=FOUR_HOURS_MS / 1000, chunks_total=len(chunks), manifest=manifest
    ).to_wire()
    assert len(json.dumps(response).encode()) < 512  # whatever the plan, a summary of constant size
