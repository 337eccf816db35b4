"""``POST /v1/transcriptions`` as a multipart form: ``file`` plus the options as form fields.

The form is turned into the JSON request the route already takes (the file inline, base64), so
one model validates both and each invalid option gets the same 422. Lambda's 6 MB request limit
caps the file at :data:`transcriber.api.models.INLINE_MAX_BYTES`; larger files use the
presigned upload URL of the JSON request.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from transcriber.api import problems
from transcriber.api.models import INLINE_MAX_BYTES
from transcriber.api.multipart import is_multipart, parse_form

CREATE_PATH = "/v1/transcriptions"


def form_as_json(event: dict[str, Any]) -> dict[str, Any]:
    """``event`` itself unless it is a multipart create request; then the same request as JSON."""
    if event.get("httpMethod") != "POST" or event.get("path") != CREATE_PATH or not is_multipart(event):
        return event
    form = parse_form(event, max_file_bytes=INLINE_MAX_BYTES)
    upload = form.files.get("file")
    if upload is None or not upload.data:
        raise problems.Unprocessable("Send the audio as the form field 'file' (or create with JSON).")
    options = {name: form.value(name) for name in form.fields if name not in ("filename", "content_type")}
    request = {
        "filename": form.value("filename") or upload.filename,
        "content_type": form.value("content_type") or upload.content_type,
        "content_base64": base64.b64encode(upload.data).decode("ascii"),
        "options": options,
    }
    headers = {k: v for k, v in (event.get("headers") or {}).items() if k.lower() != "content-type"}
    multi = {k: v for k, v in (event.get("multiValueHeaders") or {}).items() if k.lower() != "content-type"}
    return {
        **event,
        "headers": {**headers, "Content-Type": "application/json"},
        "multiValueHeaders": {**multi, "Content-Type": ["application/json"]},
        "body": json.dumps(request),
        "isBase64Encoded": False,
    }
