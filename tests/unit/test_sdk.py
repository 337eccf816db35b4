"""The Python SDK against an in-process fake of the HTTP API (real HTTP, stdlib server)."""

from __future__ import annotations

import base64
import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from client import (
    APIConnectionError,
    AuthenticationError,
    Client,
    ConflictError,
    NotFoundError,
    Page,
    RateLimitedError,
    ServerError,
    Submission,
    Transcription,
    TranscriptionFailedError,
    UploadError,
    ValidationError,
    WaitTimeoutError,
    parse_retry_after,
)
from tests.conftest import REPO_ROOT
from tests.unit.fake_api import API_KEY, OTHER_KEY, SEGMENTS, TEXT, FakeApi

AUDIO = b"RIFF fake audio bytes " * 64


@pytest.fixture
def api(fake: FakeApi) -> Client:
    client = Client(fake.base_url, API_KEY, timeout=5)
    client._sleep = lambda s: None  # Retry-After and polls need no real waiting here
    return client


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "talk.mp3"
    path.write_bytes(AUDIO)
    return path


# ---- the happy path -------------------------------------------------------------------------


def test_transcribe_waits_for_the_transcript_and_reports_progress(
    api: Client, fake: FakeApi, audio: Path
) -> None:
    seen: list[Transcription] = []
    job = api.transcribe(
        audio, options={"language": "en", "beam_size": None}, poll_s=0, on_progress=seen.append
    )

    assert job.status == "COMPLETED" and job.completed and job.done
    assert job.transcript is not None and job.text == TEXT
    assert job.transcript.language == "en" and job.transcript.duration == 3.25
    assert [s.text for s in job.segments] == ["hello world", "from the fake api"]
    assert job.segments[0].words[1].text == "world" and job.segments[0].words[1].probability == 0.95
    assert job.raw["tenant_extra_field"] == "ignored by the SDK"  # unknown fields are kept, not fatal
    assert [t.status for t in seen] == ["PENDING", "PROCESSING", "COMPLETED"]
    assert [t.progress for t in seen] == [0, 50, 100]
    assert seen[1].chunks_done == 1 and seen[1].chunks_total == 2

    stored = fake.jobs[job.job_id]
    assert stored.uploaded == AUDIO and stored.options == {"language": "en"}  # None options dropped
    (create,) = fake.calls("POST", "/v1/transcriptions")
    assert create.headers["Authorization"] == f"Bearer {API_KEY}"
    (put,) = fake.calls("PUT", "/upload/")
    assert "Authorization" not in put.headers  # the key never goes to storage
    assert put.headers["Content-Type"] == "audio/mpeg"


def test_transcribe_without_wait_returns_the_job_at_once(api: Client, audio: Path) -> None:
    job = api.transcribe(audio, wait=False)
    assert job.status == "PENDING" and job.transcript is None and job.text is None


def test_inline_upload_sends_the_file_in_the_request(api: Client, fake: FakeApi, audio: Path) -> None:
    submission = api.submit(audio, inline=True)
    assert submission.upload_url is None
    assert fake.calls("PUT") == []
    assert fake.jobs[submission.job_id].uploaded == AUDIO


def test_inline_refuses_files_over_5_mb(api: Client, tmp_path: Path) -> None:
    big = tmp_path / "big.wav"
    big.write_bytes(b"\0" * (5 * 1024 * 1024 + 1))
    with pytest.raises(ValidationError, match="4 MiB"):
        api.submit(big, inline=True)


def test_create_then_upload_by_hand(api: Client, fake: FakeApi) -> None:
    submission = api.create("memo.wav", len(AUDIO), options={"word_timestamps": False})
    assert isinstance(submission, Submission)
    assert submission.status == "AWAITING_UPLOAD" and submission.upload_method == "PUT"
    assert submission.upload_url and submission.raw["links"]["self"].endswith(submission.job_id)
    api.upload(submission, AUDIO)
    assert fake.jobs[submission.job_id].status == "PENDING"


def test_a_failed_job_raises_with_its_reason_and_can_be_retried(api: Client, tmp_path: Path) -> None:
    path = tmp_path / "will-fail.wav"
    path.write_bytes(AUDIO)
    with pytest.raises(TranscriptionFailedError) as caught:
        api.transcribe(path, poll_s=0)
    err = caught.value
    assert err.reason_code == "UNSUPPORTED_AUDIO"
    assert "not audio" in str(err) and "retry(" in str(err)
    assert err.transcription.failed

    restarted = api.retry(err.job_id)
    assert restarted.status == "PENDING"
    assert api.wait(err.job_id, poll_s=0).completed


def test_wait_can_return_a_failed_job_instead_of_raising(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job("x.wav", status="FAILED")
    assert api.wait(job_id, poll_s=0, raise_on_failure=False).status == "FAILED"


def test_wait_gives_up_after_its_timeout(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job("slow.wav", status="AWAITING_UPLOAD")  # never moves without an upload
    with pytest.raises(WaitTimeoutError) as caught:
        api.wait(job_id, poll_s=0, timeout_s=0)
    assert isinstance(caught.value, TimeoutError)
    assert caught.value.transcription.status == "AWAITING_UPLOAD"
    assert "keeps running" in str(caught.value)


# ---- reading ---------------------------------------------------------------------------------


def test_list_pages_through_cursors_newest_first(api: Client, fake: FakeApi) -> None:
    ids = [fake.add_job(f"f{i}.mp3") for i in range(5)]
    fake.add_job("theirs.mp3", tenant="tenant-b")

    first = api.list(limit=2)
    assert isinstance(first, Page) and len(first) == 2 and first.has_more
    assert [j.job_id for j in first] == ids[::-1][:2]
    second = api.list(limit=2, cursor=first.next_cursor)
    assert [j.job_id for j in second.items] == ids[::-1][2:4]

    assert [j.job_id for j in api.iter_all(page_size=2)] == ids[::-1]  # the other tenant's is not there
    last = api.list(limit=5)
    assert last.next_cursor is None and not last.has_more


def test_list_filters_by_status(api: Client, fake: FakeApi) -> None:
    failed = fake.add_job("a.mp3", status="FAILED")
    fake.add_job("b.mp3")
    assert [j.job_id for j in api.iter_all(status="failed")] == [failed]
    assert fake.calls("GET", "/v1/transcriptions")[-1].query["status"] == "FAILED"


def test_segments_and_search(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    assert [s.id for s in api.segments(job_id)] == [1, 2]
    (match,) = api.segments(job_id, q="fake")
    assert match.text == "from the fake api" and match.start == 1.5 and match.end == 3.25
    assert match.raw == SEGMENTS[1]


@pytest.mark.parametrize(
    ("fmt", "expected"),
    [
        ("srt", "1\n00:00:00,000 --> 00:00:01,500\nhello world\n"),
        ("vtt", "WEBVTT\n\n00:00:00.000 --> 00:00:01.500\nhello world\n"),
        ("txt", TEXT + "\n"),
        ("json", '"transcript": "hello world from the fake api"'),
    ],
)
def test_download_each_format(api: Client, fake: FakeApi, fmt: str, expected: str) -> None:
    job_id = fake.add_job()
    assert expected in api.download(job_id, format=fmt)
    assert fake.requests[-1].query == {"format": fmt}


def test_a_download_too_large_for_the_api_is_fetched_from_its_location_without_the_key(
    api: Client, fake: FakeApi
) -> None:
    job_id = fake.add_job("huge-meeting.mp3")
    assert "-->" in api.download(job_id, format="srt")
    (blob,) = fake.calls("GET", "/blob/")
    assert blob.path == f"/blob/{job_id}.srt"
    assert not any(name.lower() == "authorization" for name in blob.headers)


def test_download_refuses_an_unknown_format_locally(api: Client, fake: FakeApi) -> None:
    with pytest.raises(ValidationError, match="json, srt, vtt, txt"):
        api.download(fake.add_job(), format="docx")


def test_delete_removes_the_job(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    api.delete(job_id)
    assert fake.calls("DELETE")[0].path == f"/v1/transcriptions/{job_id}"
    with pytest.raises(NotFoundError):
        api.get(job_id)


# ---- errors ----------------------------------------------------------------------------------


def test_a_wrong_key_is_an_authentication_error(fake: FakeApi) -> None:
    with pytest.raises(AuthenticationError) as caught:
        Client(fake.base_url, "not-a-key").list()
    assert caught.value.status == 401 and "check your api key" in str(caught.value).lower()
    assert caught.value.detail == "missing or invalid API key"


def test_no_key_or_url_is_refused_before_any_request() -> None:
    with pytest.raises(AuthenticationError, match="No API key"):
        Client("http://127.0.0.1:9", "")
    with pytest.raises(ValidationError, match="http://"):
        Client("127.0.0.1:8080", "k")


def test_unknown_and_foreign_jobs_are_not_found(api: Client, fake: FakeApi) -> None:
    with pytest.raises(NotFoundError, match="Check the job id"):
        api.get("no-such-job")
    job_id = fake.add_job()
    with pytest.raises(NotFoundError):
        Client(fake.base_url, OTHER_KEY).get(job_id)  # another tenant's job looks missing


def test_conflicts(api: Client, fake: FakeApi) -> None:
    with pytest.raises(ConflictError, match="only a FAILED job can be retried") as caught:
        api.retry(fake.add_job())
    assert caught.value.status == 409
    with pytest.raises(ConflictError) as caught:
        api.download(fake.add_job(status="PROCESSING"))
    assert caught.value.reason_code == "NOT_READY"


@pytest.mark.parametrize(
    ("filename", "size", "options", "status", "words"),
    [
        ("talk.mp3", 0, {}, 422, "positive number"),
        ("huge.mp3", 200 * 1024 * 1024, {}, 413, "over the limit"),
        ("notes.txt", 10, {}, 415, "not a supported audio type"),
        ("talk.mp3", 10, {"language": "english"}, 422, "ISO 639-1"),
        ("talk.mp3", 10, {"colour": "blue"}, 422, "unknown options: colour"),
    ],
)
def test_validation_errors_carry_the_servers_detail(
    api: Client, filename: str, size: int, options: dict[str, str], status: int, words: str
) -> None:
    with pytest.raises(ValidationError, match=words) as caught:
        api.create(filename, size, options=options)
    assert caught.value.status == status


def test_a_bad_request_is_a_validation_error(api: Client, fake: FakeApi) -> None:
    fake.inject(400, detail="cursor is not valid", method="GET")
    with pytest.raises(ValidationError, match="cursor is not valid"):
        api.list(cursor="garbage")


def test_gets_honour_retry_after_on_429(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    waits: list[float] = []
    api._sleep = waits.append
    fake.inject(429, headers={"Retry-After": "0"}, method="GET")
    assert api.get(job_id).completed
    assert waits == [0.0]
    assert len(fake.calls("GET", f"/v1/transcriptions/{job_id}")) == 2


def test_gets_give_up_after_a_bounded_number_of_429s(fake: FakeApi) -> None:
    client = Client(fake.base_url, API_KEY, max_retries=2)
    client._sleep = lambda s: None
    fake.inject(429, times=5, headers={"Retry-After": "0"}, method="GET", detail="quota exceeded")
    with pytest.raises(RateLimitedError) as caught:
        client.list()
    assert caught.value.retry_after == 0 and "quota exceeded" in str(caught.value)
    assert len(fake.calls("GET", "/v1/transcriptions")) == 3


def test_a_long_retry_after_is_not_slept_through(api: Client, fake: FakeApi) -> None:
    fake.inject(429, headers={"Retry-After": "3600"}, method="GET")
    with pytest.raises(RateLimitedError) as caught:
        api.list()
    assert caught.value.retry_after == 3600 and "Wait 3600 s" in str(caught.value)


def test_posts_are_never_retried_on_429(api: Client, fake: FakeApi) -> None:
    fake.inject(429, headers={"Retry-After": "0"}, method="POST")
    with pytest.raises(RateLimitedError):
        api.create("talk.mp3", 10)
    assert len(fake.calls("POST")) == 1
    assert fake.jobs == {}


def test_server_errors(api: Client, fake: FakeApi) -> None:
    fake.inject(500, detail="database on fire")
    with pytest.raises(ServerError, match=r"database on fire.*try again") as caught:
        api.list()
    assert caught.value.status == 500


def test_an_expired_upload_url_is_an_upload_error(api: Client, fake: FakeApi) -> None:
    submission = api.create("talk.mp3", len(AUDIO))
    broken = submission.upload_url.replace("sig=", "sig=x") if submission.upload_url else ""
    with pytest.raises(UploadError, match=r"403.*expired"):
        api.upload(broken, AUDIO)


def test_an_unreachable_api_is_a_connection_error() -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(APIConnectionError, match="Could not reach the API"):
        Client(f"http://127.0.0.1:{port}", API_KEY, timeout=2).list()


def test_a_missing_file_is_refused_before_any_request(api: Client, fake: FakeApi, tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist"):
        api.transcribe(tmp_path / "nope.mp3")
    assert fake.requests == []


# ---- parsing ---------------------------------------------------------------------------------


def test_results_tolerate_missing_and_extra_fields() -> None:
    job = Transcription.from_dict({"job_id": "j", "status": "completed", "new_field": [1], "progress": "bad"})
    assert job.status == "COMPLETED" and job.progress == 100 and job.transcript is None
    page = Page.from_dict({"items": [{"job_id": "a", "status": "PENDING"}, "junk"], "extra": 1})
    assert [j.job_id for j in page] == ["a"] and page.next_cursor is None
    transcript = Transcription.from_dict(
        {"job_id": "j", "status": "COMPLETED", "transcript": {"segments": SEGMENTS}}
    ).transcript
    assert transcript is not None and transcript.text == TEXT  # text rebuilt from segments
    assert hash(job) == hash(Transcription.from_dict(job.raw))


def test_retry_after_parsing() -> None:
    assert parse_retry_after("2.5") == 2.5
    assert parse_retry_after(None) == 1.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert parse_retry_after("soon") == 1.0


def test_client_repr_hides_the_key(fake: FakeApi) -> None:
    client = Client(fake.base_url + "/v1/", "secret-key")
    assert "secret" not in repr(client) and client.base_url == fake.base_url


def test_inline_content_is_base64_in_the_request(api: Client, fake: FakeApi) -> None:
    api.create("a.wav", 3, content=b"abc")
    body = fake.calls("POST")[0].body
    assert base64.b64encode(b"abc").decode() in body.decode()


# ---- dependencies ----------------------------------------------------------------------------

# Imports the SDK and builds the CLI's parser (the keys command included) in a fresh interpreter
# started without site-packages (-S), then lists every imported top-level module that is not
# part of the standard library.
_IMPORT_PROBE = """
import json, sys
import client, client.cli
client.cli.build_parser()
names = {name.partition(".")[0] for name in sys.modules}
print(json.dumps(sorted(names - set(sys.stdlib_module_names) - {"client", "__main__"})))
"""


def test_the_sdk_and_the_cli_import_only_the_standard_library() -> None:
    probe = subprocess.run(
        [sys.executable, "-S", "-c", _IMPORT_PROBE],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert probe.returncode == 0, probe.stderr
    assert json.loads(probe.stdout) == []
