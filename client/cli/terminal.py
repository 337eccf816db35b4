"""What the CLI prints is partly other people's text: file names, error messages, transcripts.

A file name holding ESC, CR or LF would otherwise reach the terminal raw: it could clear the
screen, rewrite a line, or forge a row of ``transcriber list``. Two layers stop that:
- :func:`field` escapes every control and bidirectional-override character in one value shown on
  one line (a table cell, a card row), newlines and carriage returns included;
- :class:`EscapingStream` wraps stdout and stderr while a command runs and escapes the same
  characters in everything written, except newline, tab and carriage return, which the CLI's own
  layout and the progress bar use (values were already escaped as fields).
A download written to a file or a pipe is not for a terminal, and must be the file itself:
:func:`write_document` writes it unescaped there (an RTL transcript keeps its direction marks).
"""

from __future__ import annotations

import io
import re
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TextIO

# C0 controls, DEL and C1 controls; the Unicode bidi embeddings, overrides and isolates (which
# reorder what a terminal shows) and the line/paragraph separators.
_UNSAFE_IN_FIELD = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")
_UNSAFE_IN_STREAM = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]"
)
#: A file name safe to put in a suggested shell command as it is.
_UNSAFE_IN_FILE_NAME = re.compile(r"[^A-Za-z0-9._-]+")


_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(match: re.Match[str]) -> str:
    if match.group() in _NAMED:
        return _NAMED[match.group()]
    code = ord(match.group())
    return f"\\x{code:02x}" if code <= 0xFF else f"\\u{code:04x}"


def field(value: object) -> str:
    """One value for one line: every control or reordering character shown as an escape."""
    return _UNSAFE_IN_FIELD.sub(_escape, str(value))


def file_name(value: str, default: str = "transcript") -> str:
    """A local file name derived from someone else's name, for a command the CLI suggests."""
    cleaned = _UNSAFE_IN_FILE_NAME.sub("_", value).strip("._-")
    return cleaned[:100] or default


class EscapingStream(io.TextIOBase):
    """A text stream that escapes terminal control sequences on their way to ``inner``."""

    def __init__(self, inner: TextIO) -> None:
        self._inner = inner

    def write(self, text: str) -> int:
        self._inner.write(_UNSAFE_IN_STREAM.sub(_escape, text))
        return len(text)

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", "utf-8")


@contextmanager
def escaped_output() -> Iterator[None]:
    """Escape everything printed to stdout and stderr inside the block."""
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = EscapingStream(saved[0]), EscapingStream(saved[1])
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved


def write_document(text: str) -> None:
    """A downloaded document to stdout: byte for byte (UTF-8) when stdout is a file or a pipe, so
    ``> out.txt`` equals ``-o out.txt``; escaped, with a final newline, on a terminal, where its
    control characters could act."""
    stream = sys.stdout
    if stream.isatty():
        stream.write(text if text.endswith("\n") or not text else text + "\n")
        return
    inner = stream._inner if isinstance(stream, EscapingStream) else stream
    inner.flush()
    buffer = getattr(inner, "buffer", None)
    if buffer is None:  # a text-only stream (no bytes underneath): the text as it is
        inner.write(text)
        inner.flush()
        return
    buffer.write(text.encode("utf-8"))
    buffer.flush()
