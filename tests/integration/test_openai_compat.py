"""The official ``openai`` package, unchanged, against the local stack's /v1/audio/* routes; the
multipart form of POST /v1/transcriptions; and source_url.

The session's stack (tests/integration/conftest.py) with its own API server. One 7-second clip
is transcribed a few times in all: dedupe reuses the result for the formats that share
options (json, text, srt and vtt; then verbose_json with word times).
"""

from __future__ import annotations

import functools
import subprocess
import time
import uuid
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler
from pathlib import Path

import imageio_ffmpeg
import openai
import pytest

from tests.integration.conftest import Api, ApiTenant, tenant_fixture
from tests.local_http import http_server

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample.flac"


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample's first 7 seconds, as 16 kHz mono WAV."""
    path = tmp_path_factory.mktemp("openai") / "clip.wav"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(SAMPLE), "-t", "7", "-ac", "1",
         "-ar", "16000", str(path)],
        check=True,
    )  # fmt: skip
    return path


carol = tenant_fixture("carol")


@pytest.fixture(scope="module")
def client(api: Api, carol: ApiTenant) -> openai.OpenAI:
    return openai.OpenAI(api_key=carol.key, base_url=f"{api.server.base_url}/v1", max_retries=0, timeout=60)


def test_every_response_format_through_the_openai_client(client: openai.OpenAI, clip: Path) -> None:
    with clip.open("rb") as f:
        as_json = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="json")
    assert "sample" in as_json.text.lower() or len(as_json.text.split()) >= 5, as_json.text
    with clip.open("rb") as f:
        text = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="text")
    assert text.strip() == as_json.text.strip()
    with clip.open("rb") as f:
        srt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="srt")
    assert srt.lstrip().startswith("1\n") and " --> " in srt
    with clip.open("rb") as f:
        vtt = client.audio.transcriptions.create(model="whisper-1", file=f, response_format="vtt")
    assert vtt.startswith("WEBVTT")
    with clip.open("rb") as f:
        verbose = client.audio.transcriptions.create(
            model="whisper-1",
            file=f,
            response_format="verbose_json",
            timestamp_granularities=["word", "segment"],
        )
    assert verbose.language == "en" and 5.0 < verbose.duration <= 7.5
    assert verbose.segments and verbose.segments[0].start >= 0.0 and verbose.segments[0].text
    assert verbose.words and all(w.start <= w.end for w in verbose.words)
    with clip.open("rb") as f:
        only_words = client.audio.transcriptions.create(
            model="whisper-1", file=f, response_format="verbose_json", timestamp_granularities=["word"]
        )
    assert only_words.words and not getattr(only_words, "segments", None)


def test_translation_runs_as_a_job_with_task_translate(
    api: Api, client: openai.OpenAI, carol: ApiTenant, clip: Path
) -> None:
    with clip.open("rb") as f:
        translated = client.audio.translations.create(model="whisper-1", file=f, prompt="A sample.")
    assert translated.text.strip()
    jobs = api.http.request("GET", "/v1/transcriptions", key=carol.key).json()["items"]
    assert any(job["options"].get("task") == "translate" and job["language"] == "en" for job in jobs)
    other = api.tenant(f"erin-{uuid.uuid4().hex[:6]}")  # another tenant sees none of them
    assert api.http.request("GET", "/v1/transcriptions", key=other.key).json()["items"] == []
    assert api.http.request("GET", f"/v1/transcriptions/{jobs[0]['job_id']}", key=other.key).status == 404


def test_bad_requests_get_openai_shaped_4xx(api: Api, client: openai.OpenAI, clip: Path) -> None:
    with clip.open("rb") as f, pytest.raises(openai.BadRequestError) as bad_format:
        client.audio.transcriptions.create(model="whisper-1", file=f, response_format="mp3")  # type: ignore[call-overload]
    assert bad_format.value.status_code == 400
    assert bad_format.value.body["param"] == "response_format"  # type: ignore[index]
    with clip.open("rb") as f, pytest.raises(openai.BadRequestError) as bad_model:
        client.audio.transcriptions.create(model="gpt-4o-transcribe", file=f)
    assert bad_model.value.code == "model_not_found"
    stranger = openai.OpenAI(api_key="trk_wrong", base_url=f"{api.server.base_url}/v1", max_retries=0)
    with clip.open("rb") as f, pytest.raises(openai.AuthenticationError) as unauthorized:
        stranger.audio.transcriptions.create(model="whisper-1", file=f)
    assert unauthorized.value.code == "invalid_api_key"


def _form(fields: dict[str, str], file: Path) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    body = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'.encode()
        for name, value in fields.items()
    )
    body += (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{file.name}"\r\n'
            "Content-Type: audio/wav\r\n\r\n"
        ).encode()
        + file.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    return body, f"multipart/form-data; boundary={boundary}"


def test_a_multipart_create_is_a_job_only_its_tenant_sees(api: Api, carol: ApiTenant, clip: Path) -> None:
    body, content_type = _form({"task": "translate", "prompt": "Names: Dashwood.", "dedupe": "false"}, clip)
    created = api.http.request(
        "POST", "/v1/transcriptions", key=carol.key, data=body, headers={"Content-Type": content_type}
    )
    assert created.status == 201, created.body
    job = created.json()
    assert job["upload_url"] is None
    seen = api.http.request("GET", f"/v1/transcriptions/{job['job_id']}", key=carol.key).json()
    assert seen["options"]["task"] == "translate" and seen["options"]["prompt"] == "Names: Dashwood."
    other = api.tenant(f"dave-{uuid.uuid4().hex[:6]}")
    assert api.http.request("GET", f"/v1/transcriptions/{job['job_id']}", key=other.key).status == 404
    body, content_type = _form({"colour": "blue"}, clip)
    refused = api.http.request(
        "POST", "/v1/transcriptions", key=carol.key, data=body, headers={"Content-Type": content_type}
    )
    assert refused.status == 422 and "colour" in refused.json()["detail"]


@pytest.fixture(scope="module")
def media_server(clip: Path) -> Iterator[str]:
    """The clip served over plain HTTP on localhost (allowed in local mode only)."""
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(clip.parent))
    with http_server(handler, host_name="localhost") as url:
        yield url


def test_a_source_url_on_localhost_is_fetched_and_transcribed(
    api: Api, carol: ApiTenant, media_server: str
) -> None:
    created = api.http.request(
        "POST",
        "/v1/transcriptions",
        key=carol.key,
        json_body={"source_url": f"{media_server}/clip.wav", "options": {"dedupe": False}},
    )
    assert created.status == 201, created.body
    job_id = created.json()["job_id"]
    deadline = time.monotonic() + 60
    while (job := api.http.request("GET", f"/v1/transcriptions/{job_id}", key=carol.key).json())[
        "status"
    ] not in ("COMPLETED", "FAILED") and time.monotonic() < deadline:
        time.sleep(0.5)
    assert job["status"] == "COMPLETED", job
    assert job["filename"] == "clip.wav" and job["transcript"]["text"]


@pytest.mark.parametrize(
    ("url", "said"),
    [
        ("http://169.254.169.254/latest/meta-data/x.wav", "source_url"),
        ("https://169.254.169.254/latest/meta-data/x.wav", "not a public address"),
        ("http://localhost:9/nothing.wav", "Fetching source_url"),
        ("https://no-such-host.invalid/a.wav", "could not be resolved"),
    ],
)
def test_refused_or_unreachable_source_urls_are_422(api: Api, carol: ApiTenant, url: str, said: str) -> None:
    answer = api.http.request("POST", "/v1/transcriptions", key=carol.key, json_body={"source_url": url})
    assert answer.status == 422, answer.body
    assert said in answer.json()["detail"]
