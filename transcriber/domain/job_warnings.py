"""Warnings recorded on a job that completed but whose result needs a caveat.

A job with no speech (a melody, silence) completes with an empty transcript, and a truncated
file is transcribed up to the cut: both are results, not failures, but a user reading an empty
or short transcript must be told why.
"""

from __future__ import annotations

NO_SPEECH = "no speech detected"
#: Decoded audio this much shorter than the container declares means the file was cut.
TRUNCATION_MIN_S = 1.0
TRUNCATION_MIN_FRACTION = 0.02


def truncation_warning(declared_s: float | None, decoded_s: float) -> str | None:
    """The warning for a file that decoded shorter than its header says, if it did."""
    if declared_s is None or declared_s <= 0:
        return None
    missing = declared_s - decoded_s
    if missing < max(TRUNCATION_MIN_S, TRUNCATION_MIN_FRACTION * declared_s):
        return None
    return (
        f"the file appears truncated: transcribed up to {decoded_s:.1f} s of the {declared_s:.1f} s "
        "its header declares; upload the complete file for the rest"
    )


def mixed_language_warning(language: str, chunks: int) -> str:
    """For a job whose chunks the language vote overruled but could not send back (an execution
    started before the state machine had RedoChunks): they keep the language they were heard in."""
    return (
        f"{chunks} part(s) of the audio were transcribed in the language heard there rather than in "
        f"{language!r}, the language of the rest; retry the job with the language option set to "
        "transcribe all of it in one language"
    )
