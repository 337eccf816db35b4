"""The multipart/form-data parser the OpenAI-compatible endpoints and form uploads read."""

from __future__ import annotations

import base64
import os

import pytest

from transcriber.api import problems
from transcriber.api.multipart import parse_form


def _event(parts: list[tuple[str, str | None, bytes]], *, encoded: bool = True) -> dict[str, object]:
    body = b""
    for name, filename, data in parts:
        disposition = f'form-data; name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--BOUND\r\nContent-Disposition: {disposition}\r\n".encode()
        body += b"Content-Type: audio/wav\r\n\r\n" if filename else b"\r\n"
        body += data + b"\r\n"
    body += b"--BOUND--\r\n"
    return {
        "headers": {"content-type": "multipart/form-data; boundary=BOUND"},
        "body": base64.b64encode(body).decode() if encoded else body.decode("utf-8"),
        "isBase64Encoded": encoded,
    }


def test_binary_files_and_repeated_fields_survive_byte_for_byte() -> None:
    data = os.urandom(100_000) + b"\r\n--BOUNDARY-ish\r\n\r\n\n\r"
    form = parse_form(
        _event(
            [
                ("file", "a b.wav", data),
                ("timestamp_granularities[]", None, b"word"),
                ("timestamp_granularities[]", None, b"segment"),
                ("prompt", None, "Zürich".encode()),
            ]
        ),
        max_file_bytes=1_000_000,
    )
    assert form.files["file"].data == data
    assert form.files["file"].filename == "a b.wav"
    assert form.files["file"].content_type == "audio/wav"
    assert form.fields["timestamp_granularities[]"] == ["word", "segment"]
    assert form.value("prompt") == "Zürich"


def test_a_text_body_is_read_as_utf8() -> None:
    form = parse_form(_event([("model", None, b"whisper-1")], encoded=False), max_file_bytes=10)
    assert form.value("model") == "whisper-1"


def test_a_file_over_the_cap_is_refused_with_413() -> None:
    with pytest.raises(problems.PayloadTooLarge):
        parse_form(_event([("file", "x.wav", b"0" * 11)]), max_file_bytes=10)


def test_json_or_a_missing_boundary_is_a_bad_request() -> None:
    event = {"headers": {"Content-Type": "application/json"}, "body": "{}", "isBase64Encoded": False}
    with pytest.raises(problems.BadRequest):
        parse_form(event, max_file_bytes=10)
    event = {"headers": {"Content-Type": "multipart/form-data"}, "body": "x", "isBase64Encoded": False}
    with pytest.raises(problems.BadRequest):
        parse_form(event, max_file_bytes=10)
