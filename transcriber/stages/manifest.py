"""The chunk manifest: the job's chunk list as a JSON array in S3, under the job's work prefix.

The chunk step writes it; the Distributed Map reads its items from it (``ItemReader``), and the
steps that need the whole list (speaker clustering, aggregate) read it here. The aggregate step
writes a second one when the language vote sends chunks back to be decoded again (RedoChunks). The
state machine's state carries only its location, so a job's state has the same size at 10
minutes and at 12 hours (the 256 KB payload limit no longer caps a file's length).
"""

from __future__ import annotations

from collections.abc import Sequence

from transcriber.domain.jobs import CHUNK_MANIFEST, WORK_PREFIX
from transcriber.domain.messages import ChunkRef, ManifestRef
from transcriber.stages.ports import StagePorts


def manifest_key(job_id: str, *, redo: bool = False) -> str:
    """The job's manifest, or with ``redo`` the list of chunks the language vote sends back."""
    return f"{WORK_PREFIX}/{job_id}/{'redo/' if redo else ''}{CHUNK_MANIFEST}"


def write_manifest(
    job_id: str, chunks: Sequence[ChunkRef], *, ports: StagePorts, redo: bool = False
) -> ManifestRef:
    """Store the chunk references in the order the Map should start them; returns where they are."""
    ref = ManifestRef(bucket=ports.results_bucket, key=manifest_key(job_id, redo=redo))
    ports.store.put_json(ref.bucket, ref.key, [chunk.to_wire() for chunk in chunks])
    return ref


def read_manifest(ref: ManifestRef, *, ports: StagePorts) -> list[ChunkRef]:
    """The job's chunks. The location comes from the state machine, which only ever passes what
    the chunk step returned; the bucket is still checked, as the store's is the only one allowed."""
    if ref.bucket != ports.results_bucket:
        raise ValueError(f"chunk manifest outside the results bucket: s3://{ref.bucket}/{ref.key}")
    return [ChunkRef.model_validate(item) for item in ports.store.get_json(ref.bucket, ref.key)]
