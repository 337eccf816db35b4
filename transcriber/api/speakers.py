"""Speaker names and the speaker filter of the HTTP API (``PUT .../speakers``, ``?speaker=``).

A rename re-renders all four outputs from the stored JSON, and the unredacted JSON where the job
kept one (transcriber.domain.formats' ``rename_speakers``, a pure function), and writes them under
the job's own transcripts prefix, so a job that reused another job's transcript (dedup) gets its
own copy instead of changing the other job's. Labels in segments and words never change, so
``?speaker=spk_1`` keeps working, and the search index (which keeps labels, not names) needs no
re-index: a rename announces nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from transcriber.api import problems
from transcriber.api.views import split_uri
from transcriber.domain.formats import check_speaker_names, rename_speakers
from transcriber.domain.jobs import OUTPUT_CONTENT_TYPES, UNREDACTED_OUTPUT, output_key


class SpeakerNameStore(Protocol):
    def set_speaker_names(
        self, job_id: str, speakers: list[dict[str, Any]], outputs: dict[str, str]
    ) -> bool: ...


class TextStore(Protocol):
    def put_texts(self, bucket: str, texts: Sequence[tuple[str, str, str]]) -> None: ...

    def get_text(self, bucket: str, key: str, *, max_bytes: int | None = None) -> str | None: ...


def _labels(document: Mapping[str, Any]) -> set[str]:
    return {str(s.get("label")) for s in document.get("speakers") or [] if isinstance(s, Mapping)}


def speakers_of(document: Mapping[str, Any]) -> list[dict[str, Any]]:
    return [dict(s) for s in document.get("speakers") or [] if isinstance(s, Mapping)]


def rename(
    job: Mapping[str, Any],
    document: Mapping[str, Any],
    names: Any,
    *,
    jobs: SpeakerNameStore,
    objects: TextStore,
    bucket: str,
) -> dict[str, Any]:
    """Apply ``names`` (``{"spk_0": "Alice"}``) to a COMPLETED job; 422 for what cannot be applied."""
    job_id = str(job["job_id"])
    labels = _labels(document)
    if not labels:
        raise problems.Unprocessable(
            f"Transcription {job_id} has no speaker labels; "
            "submit the audio with speaker_labels on to name speakers."
        )
    try:
        check_speaker_names(names if isinstance(names, Mapping) else {}, labels)
        rendered = rename_speakers(document, names)
    except ValueError as err:
        raise problems.Unprocessable(f"{str(err)[0].upper()}{str(err)[1:]}.") from err
    kept = (job.get("outputs") or {}).get(UNREDACTED_OUTPUT)
    if kept:  # the JSON as heard gets the same names (it stays where the job keeps it)
        heard = objects.get_text(*split_uri(str(kept)))
        if heard is not None:
            rendered[UNREDACTED_OUTPUT] = rename_speakers(json.loads(heard), names)["json"]
    objects.put_texts(
        bucket,
        [
            (output_key(job_id, fmt), body, OUTPUT_CONTENT_TYPES.get(fmt, OUTPUT_CONTENT_TYPES["json"]))
            for fmt, body in rendered.items()
        ],
    )
    speakers = speakers_of(json.loads(rendered["json"]))
    outputs = {fmt: f"s3://{bucket}/{output_key(job_id, fmt)}" for fmt in rendered}
    if not jobs.set_speaker_names(job_id, speakers, outputs):
        raise problems.Conflict(f"Transcription {job_id} changed while renaming; try again.")
    return {"job_id": job_id, "speakers": speakers}


def filter_by_speaker(
    document: Mapping[str, Any], segments: list[dict[str, Any]], speaker: str | None
) -> list[dict[str, Any]]:
    """Only ``speaker``'s segments (a label such as ``spk_1``); 422 for a label the job lacks."""
    if speaker is None:
        return segments
    labels = _labels(document)
    if speaker not in labels:
        have = ", ".join(sorted(labels)) if labels else "none (it ran without speaker labels)"
        raise problems.Unprocessable(f"Unknown speaker {speaker[:40]!r}; this transcript's labels: {have}.")
    return [s for s in segments if s.get("speaker") == speaker]
