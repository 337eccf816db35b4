"""Uploads through the HTTP API for the benchmarks: create a transcription, PUT the audio to its URL.

The same two requests a client sends (README's curl walk-through), through ``make serve``'s
server (localrun/serve.py) in front of the deployed API function, with a fresh tenant key.
"""

from __future__ import annotations

import json
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import unquote, urlparse

from localrun.pipeline import LocalPipeline, Submission
from localrun.serve import ApiServer
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.domain.options import JobOptions


class ApiUploader:
    """Creates jobs through the API as one tenant, with limits high enough not to refuse a burst."""

    def __init__(self, pipeline: LocalPipeline, base_url: str) -> None:
        self.base_url = base_url
        self.input_bucket = pipeline.stack.input_bucket
        tenants = TenantRepository(pipeline.stack.tenants_table, resource=pipeline.aws.resource("dynamodb"))
        self.key, _, _ = tenants.create_key(
            f"throughput-{uuid.uuid4().hex[:6]}", jobs_per_day=1_000_000, requests_per_minute=1_000_000
        )

    def _request(self, method: str, url: str, data: bytes, headers: dict[str, str]) -> Any:
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        with urllib.request.urlopen(req, timeout=600) as resp:
            return json.loads(resp.read() or b"null")

    def submit(self, audio: bytes, filename: str, options: JobOptions) -> Submission:
        """POST /v1/transcriptions, then PUT the audio to the upload URL it answers with."""
        created = self._request(
            "POST",
            self.base_url + "/v1/transcriptions",
            json.dumps(
                {"filename": filename, "size": len(audio), "content_type": "audio/wav",
                 "options": options.to_dict()}
            ).encode(),
            {"Authorization": f"Bearer {self.key}", "Content-Type": "application/json"},
        )  # fmt: skip
        self._request("PUT", created["upload_url"], audio, {"Content-Type": "application/octet-stream"})
        # The upload URL is path-style on the local stack: /<bucket>/<key>
        key = unquote(urlparse(created["upload_url"]).path).removeprefix(f"/{self.input_bucket}/")
        return Submission(job_id=created["job_id"], bucket=self.input_bucket, key=key)


@contextmanager
def api_uploads(pipeline: LocalPipeline) -> Iterator[ApiUploader]:
    """An API server on the pipeline and an uploader for it; the server stops on exit."""
    server = ApiServer(pipeline)
    server.start()
    try:
        yield ApiUploader(pipeline, server.base_url)
    finally:
        server.stop()
