"""Checks an upload must pass before any work is spent on it."""

from __future__ import annotations

from transcriber.domain.audio import SUPPORTED_EXTENSIONS, sniff_header
from transcriber.domain.errors import EmptyFileError, SizeMismatchError, TooLargeError, UnsupportedFormatError
from transcriber.domain.jobs import extension_of

#: How many leading bytes the content sniffer needs.
SNIFF_BYTES = 64


#: Sizes are told in MiB, as the README and the deployment's max_upload_mb (x 1024 x 1024) count them.
MIB = 1024 * 1024


def check_name_and_size(key: str, size: int, max_bytes: int) -> str:
    """Validate what the object's metadata says; returns the extension."""
    ext = extension_of(key)
    if ext not in SUPPORTED_EXTENSIONS:
        accepted = ", ".join(sorted(SUPPORTED_EXTENSIONS))
        shown = f".{ext}" if ext else "no extension"
        raise UnsupportedFormatError(f"File has {shown}; accepted extensions are: {accepted}.")
    if size <= 0:
        raise EmptyFileError("The uploaded file is empty (0 bytes); upload the audio again.")
    if size > max_bytes:
        raise TooLargeError(
            f"The file is {size / MIB:.1f} MiB, over the {max_bytes / MIB:g} MiB limit; "
            "split it or compress it before uploading."
        )
    return ext


def check_declared_size(size: int, declared: int | None) -> None:
    """An upload to a job's URL must have the size the job declared (the URL signs that length)."""
    if declared is not None and size != declared:
        raise SizeMismatchError(
            f"The upload has {size} bytes but the job declared {declared}; create a new transcription "
            "with the file's exact size and upload it again."
        )


def check_content(head: bytes) -> str:
    """Sniff the real container from the first bytes; never trust the name. Returns the format."""
    return sniff_header(head)
