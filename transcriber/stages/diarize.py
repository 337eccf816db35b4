"""Speaker labels through the pipeline: per-chunk embeddings, one clustering per job, labelling.

* In the Map (transcribe action): :func:`store_chunk_embeddings` embeds the chunk that is already
  on local disk and puts a small ``.npz`` in S3 beside the chunk's checkpoint; the state machine's
  payload never carries embeddings (256 KB limit).
* After the Map (diarize action, run by the transcribe function, which has the libraries):
  :func:`diarize_job` clusters every chunk's embeddings together, so a speaker keeps one label
  across the whole file, and writes the speaker turns to S3 as JSON.
* In aggregate: transcriber.stages.speaker_labels reads the turns and labels the transcript.

Speaker labels that were asked for and cannot be produced fail the job with
``DIARIZATION_FAILED``; they are never dropped silently.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import numpy as np
from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

from transcriber.domain.diarization import SpeakerEmbeddings, diarize
from transcriber.domain.errors import DiarizationError, RetryableError
from transcriber.domain.messages import DiarizeRequest, DiarizeResponse
from transcriber.domain.models import ChunkSpec
from transcriber.stages.manifest import read_manifest
from transcriber.stages.ports import StagePorts
from transcriber.stages.speaker_labels import speaker_embeddings_key, speaker_turns_key

logger = Logger(child=True)
metrics = Metrics()


def read_samples(wav_path: Path) -> np.ndarray:
    """A chunk WAV (16-bit PCM, as the transcribe step writes it from the chunk's byte range) as mono
    float32 in [-1, 1]."""
    with wave.open(str(wav_path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getframerate() != 16_000:
            raise DiarizationError(
                f"chunk audio must be 16-bit 16 kHz PCM for speaker labels, got "
                f"{wav.getsampwidth() * 8}-bit {wav.getframerate()} Hz"
            )
        channels = wav.getnchannels()
        pcm = np.frombuffer(wav.readframes(wav.getnframes()), dtype="<i2").astype(np.float32) / 32768.0
    return pcm.reshape(-1, channels).mean(axis=1) if channels > 1 else pcm


def store_chunk_embeddings(job_id: str, spec: ChunkSpec, wav_path: Path, *, ports: StagePorts) -> int:
    """Embed one chunk's speech and store it (absolute times); returns the number of windows."""
    from transcriber.engines.speaker_encoder import embed_chunk  # the image's libraries only

    started = time.perf_counter()
    embeddings = embed_chunk(read_samples(wav_path), offset=spec.offset, overlap=spec.overlap)
    embeddings = embeddings.on_channel(spec.channel)
    ports.store.put_bytes(
        ports.results_bucket,
        speaker_embeddings_key(job_id, spec.index),
        embeddings.to_bytes(),
        "application/octet-stream",
    )
    elapsed = time.perf_counter() - started
    metrics.add_metric(name="SpeakerEmbeddingLatency", unit=MetricUnit.Seconds, value=elapsed)
    logger.info("Speaker embeddings stored", extra={"windows": len(embeddings), "seconds": round(elapsed, 3)})
    return len(embeddings)


def _load_embeddings(request: DiarizeRequest, ports: StagePorts) -> SpeakerEmbeddings:
    """Every chunk's embeddings, read several at a time (a 4-hour job has about 450 chunks)."""
    indexes = [chunk.index for chunk in read_manifest(request.manifest, ports=ports)]
    keys = [speaker_embeddings_key(request.job_id, index) for index in indexes]
    parts = []
    for index, key, data in zip(
        indexes, keys, ports.store.get_bytes_many(ports.results_bucket, keys), strict=True
    ):
        if data is None:
            raise DiarizationError(f"speaker embeddings of chunk {index} are missing ({key}); retry the job")
        parts.append(SpeakerEmbeddings.from_bytes(data))
    return SpeakerEmbeddings.concatenate(parts)


def diarize_job(request: DiarizeRequest, *, ports: StagePorts) -> DiarizeResponse:
    """Cluster the job's embeddings once and store its speaker turns.

    Transient storage errors stay retryable; anything else (a corrupt embeddings file, a
    clustering failure) becomes :class:`DiarizationError` so the job fails with that reason.
    """
    started = time.perf_counter()
    options = request.options
    try:
        embeddings = _load_embeddings(request, ports)
        turns = diarize(embeddings, min_speakers=options.min_speakers, max_speakers=options.max_speakers)
    except (RetryableError, DiarizationError):
        raise
    except Exception as err:  # a corrupt .npz (zipfile, numpy), a clustering failure, a denied read
        raise DiarizationError(f"speaker labels could not be computed: {type(err).__name__}: {err}") from err
    key = speaker_turns_key(request.job_id)
    ports.store.put_json(ports.results_bucket, key, [turn.to_dict() for turn in turns])
    speakers = len({turn.speaker for turn in turns})
    elapsed = time.perf_counter() - started
    metrics.add_metric(name="DiarizationLatency", unit=MetricUnit.Seconds, value=elapsed)
    logger.info(
        "Speakers labelled",
        extra={"windows": len(embeddings), "speakers": speakers, "seconds": round(elapsed, 3)},
    )
    return DiarizeResponse(key=key, speakers=speakers)
