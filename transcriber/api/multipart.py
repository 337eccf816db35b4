"""multipart/form-data request bodies, parsed by the standard library's MIME parser (``email``).

API Gateway hands the function the body base64-encoded when ``multipart/form-data`` is one of the
REST API's binary media types (infra/constructs/api.py); the local server does the same for any
body that is not UTF-8 text. Both the OpenAI-compatible endpoints and the multipart form of
``POST /v1/transcriptions`` read their fields here. Lambda takes at most 6 MB of request, so a
file is at most :data:`transcriber.api.models.INLINE_MAX_BYTES`; larger ones use the upload URL.
"""

from __future__ import annotations

import base64
import binascii
import email.policy
from dataclasses import dataclass, field
from email.parser import BytesParser
from typing import Any

from transcriber.api import problems

MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class FormFile:
    filename: str
    content_type: str | None
    data: bytes


@dataclass
class Form:
    """Text fields (every value of each name, in order) and file fields (the first of each name)."""

    fields: dict[str, list[str]] = field(default_factory=dict)
    files: dict[str, FormFile] = field(default_factory=dict)

    def value(self, name: str) -> str | None:
        values = self.fields.get(name)
        return values[-1] if values else None


def header(event: dict[str, Any], name: str) -> str:
    """A request header, case-insensitively ('' when absent)."""
    headers = event.get("headers") or {}
    return str(next((v for k, v in headers.items() if k.lower() == name.lower()), "") or "")


def is_multipart(event: dict[str, Any]) -> bool:
    return header(event, "content-type").strip().lower().startswith(MULTIPART)


def body_bytes(event: dict[str, Any]) -> bytes:
    """The raw request body, whether API Gateway base64-encoded it or passed it as text."""
    body = event.get("body") or ""
    if event.get("isBase64Encoded"):
        try:
            return base64.b64decode(body)
        except (binascii.Error, ValueError):
            raise problems.BadRequest("The request body is not valid base64.") from None
    return str(body).encode("utf-8")


def parse_form(event: dict[str, Any], *, max_file_bytes: int) -> Form:
    """The form in a multipart/form-data request; BadRequest for anything else or a broken body,
    PayloadTooLarge for a file over ``max_file_bytes``."""
    content_type = header(event, "content-type")
    if not content_type.strip().lower().startswith(MULTIPART) or "boundary=" not in content_type.lower():
        raise problems.BadRequest("Send the request as multipart/form-data (with its boundary).")
    preamble = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode("latin-1", "replace")
    message = BytesParser(policy=email.policy.HTTP).parsebytes(preamble + body_bytes(event))
    if not message.is_multipart() or message.defects:
        raise problems.BadRequest("The multipart/form-data body could not be read; check its boundary.")
    form = Form()
    for part in message.iter_parts():
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue
        payload = part.get_payload(decode=True)
        data = payload if isinstance(payload, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            if len(data) > max_file_bytes:
                raise problems.PayloadTooLarge(
                    f"Files sent in a form may be up to {max_file_bytes // (1024 * 1024)} MiB; create the "
                    "transcription with its size instead and PUT the file to the upload_url you get back."
                )
            form.files.setdefault(name, FormFile(filename, part.get_content_type(), data))
            continue
        charset = part.get_content_charset() or "utf-8"
        try:
            form.fields.setdefault(name, []).append(data.decode(charset))
        except (UnicodeDecodeError, LookupError):
            raise problems.BadRequest(f"Form field {name!r} is not {charset} text.") from None
    return form
