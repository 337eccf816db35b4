"""The SDK and CLI against the fake API where the review found them wrong: transcripts too large
for the job view, transient failures, the 413 of /segments, empty filtered pages, RTL downloads."""

from __future__ import annotations

import base64
import json
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from client import APIConnectionError, Client, ServerError, ValidationError
from client.cli import main
from client.errors import error_for_status
from tests.unit import fake_api
from tests.unit.fake_api import API_KEY, TEXT, FakeApi, FakeJob
from tests.unit.test_client_cli import run

AUDIO = b"RIFF fake audio bytes " * 64


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def api(fake: FakeApi, waits: list[float]) -> Client:
    client = Client(fake.base_url, API_KEY, timeout=5)
    client._sleep = waits.append  # the waits are recorded, not slept
    client._http.random = lambda: 1.0  # the jitter's upper bound: deterministic backoff
    return client


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "huge talk.mp3"
    path.write_bytes(AUDIO)
    return path


@pytest.fixture
def large_transcripts(monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose file name starts with ``huge`` has a transcript over the API's 5 MB response
    limit: its view links the JSON download instead (transcriber/api/service.py ``view``), and
    the fake's download answers 303 to a presigned-style address for it."""
    plain = FakeJob.to_dict

    def to_dict(job: FakeJob) -> dict[str, Any]:
        data = plain(job)
        if job.filename.startswith("huge") and data.pop("transcript", None) is not None:
            data["links"] = {
                "self": f"/v1/transcriptions/{job.job_id}",
                "transcript": f"/v1/transcriptions/{job.job_id}/download?format=json",
            }
        return data

    monkeypatch.setattr(FakeJob, "to_dict", to_dict)


# ---- 1. a transcript too large for the job view ---------------------------------------------


@pytest.mark.usefixtures("large_transcripts")
def test_get_fetches_a_transcript_the_view_only_links(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job("huge.mp3")
    job = api.get(job_id)
    assert job.text == TEXT and job.transcript is not None and len(job.segments) == 2
    assert job.transcript.language == "en" and job.transcript.segments[0].words[0].text == "hello"
    assert job.transcript_link == f"/v1/transcriptions/{job_id}/download?format=json"
    assert len(fake.calls("GET", "/blob/")) == 1  # through download(json), 303 and all

    linked_only = api.get(job_id, fetch_transcript=False)
    assert linked_only.transcript is None and linked_only.transcript_link
    assert len(fake.calls("GET", "/blob/")) == 1


@pytest.mark.usefixtures("large_transcripts")
def test_transcribe_returns_the_whole_large_transcript(api: Client, audio: Path) -> None:
    job = api.transcribe(audio, poll_s=0)
    assert job.completed and job.text == TEXT
    assert job.transcript is not None and job.transcript.text == TEXT  # the docstring's example


@pytest.mark.usefixtures("large_transcripts")
def test_submit_wait_prints_a_large_transcript(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "submit", str(audio), "--wait", "--poll", "0", "--no-progress")
    assert code == 0, err
    assert out.strip() == TEXT


@pytest.mark.usefixtures("large_transcripts")
def test_json_output_has_a_large_transcript_as_it_has_a_small_one(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    small_id = cli_api.add_job("talk.mp3")
    code, out, err = run(capsys, "status", small_id, "--json")
    assert code == 0, err
    small = json.loads(out)["transcript"]
    assert small["text"] == TEXT and small["segments"]

    code, out, err = run(capsys, "submit", str(audio), "--wait", "--json", "--poll", "0", "--no-progress")
    assert code == 0, err
    waited = json.loads(out)
    assert waited["links"]["transcript"]  # the view only linked it: the SDK downloaded it
    assert waited["transcript"] == small
    code, out, err = run(capsys, "status", waited["job_id"], "--json")
    assert code == 0, err
    assert json.loads(out)["transcript"] == small


def test_wait_says_where_a_missing_transcript_is(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = cli_api.add_job("talk.mp3")
    cli_api.inject(
        200,
        method="GET",
        path_prefix=f"/v1/transcriptions/{job_id}",
        body={"job_id": job_id, "status": "COMPLETED"},
    )
    code, out, err = run(capsys, "wait", job_id, "--poll", "0", "--quiet")
    assert code == 0 and out == ""
    assert f"transcriber download {job_id} --format txt" in err


# ---- 2. transient failures of idempotent calls are retried ----------------------------------


def test_a_503_without_retry_after_is_retried_with_backoff(
    api: Client, fake: FakeApi, waits: list[float]
) -> None:
    job_id = fake.add_job()
    fake.inject(503, times=2, method="GET", detail="busy")
    assert api.list().items[0].job_id == job_id
    assert waits == [0.5, 1.0]  # doubling, jitter at its upper bound
    assert len(fake.calls("GET", "/v1/transcriptions")) == 3


def test_backoff_has_full_jitter_and_a_cap(api: Client, fake: FakeApi, waits: list[float]) -> None:
    api._http.random = lambda: 0.25
    fake.inject(504, times=3, method="GET")
    api.list()
    assert waits == [0.125, 0.25, 0.5]
    api._http.random = lambda: 1.0
    api._http.max_retry_wait_s = 0.75
    waits.clear()
    fake.inject(502, times=3, method="GET")
    api.list()
    assert waits == [0.5, 0.75, 0.75]


def test_retries_of_5xx_are_bounded(fake: FakeApi) -> None:
    client = Client(fake.base_url, API_KEY, max_retries=2)
    client._sleep = lambda s: None
    fake.inject(503, times=5, method="GET", detail="still busy")
    with pytest.raises(ServerError, match="still busy") as caught:
        client.list()
    assert caught.value.status == 503
    assert len(fake.calls("GET", "/v1/transcriptions")) == 3


def test_a_500_is_not_retried(api: Client, fake: FakeApi) -> None:
    fake.inject(500, method="GET")
    with pytest.raises(ServerError):
        api.list()
    assert len(fake.calls("GET", "/v1/transcriptions")) == 1


def test_a_delete_answered_503_is_finished_by_repeating_it(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    fake.inject(503, method="DELETE")
    api.delete(job_id)
    assert job_id not in fake.jobs
    assert len(fake.calls("DELETE")) == 2


def test_a_put_answered_502_is_repeated(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    speakers = [{"label": "spk_0", "name": "Alice", "seconds": 3.0}]
    fake.inject(502, method="PUT")
    fake.inject(200, method="PUT", body={"job_id": job_id, "speakers": speakers})
    assert api.rename_speakers(job_id, {"spk_0": "Alice"}) == speakers
    assert len(fake.calls("PUT")) == 2


def test_a_post_that_creates_a_job_is_never_repeated(api: Client, fake: FakeApi) -> None:
    fake.inject(503, method="POST")
    with pytest.raises(ServerError):
        api.create("talk.mp3", 10)
    assert len(fake.calls("POST")) == 1 and fake.jobs == {}


def test_a_dropped_connection_is_retried_for_a_get(api: Client, fake: FakeApi, waits: list[float]) -> None:
    send = api._http._send
    fails = [APIConnectionError("connection reset")]

    def flaky(*args: Any) -> Any:
        if fails:
            raise fails.pop()
        return send(*args)

    api._http._send = flaky  # type: ignore[method-assign,assignment]
    job_id = fake.add_job()
    assert api.get(job_id).completed
    assert waits == [0.5]


def test_an_unreachable_api_is_tried_a_bounded_number_of_times(waits: list[float]) -> None:
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens there
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", API_KEY, timeout=2, max_retries=2)
    client._sleep = waits.append
    with pytest.raises(APIConnectionError, match="Could not reach the API"):
        client.list()
    assert len(waits) == 2
    with pytest.raises(APIConnectionError):
        client.create("talk.mp3", 10)  # a POST: not repeated
    assert len(waits) == 2


def test_wait_rides_out_transient_failures_until_the_deadline(
    api: Client, fake: FakeApi, waits: list[float]
) -> None:
    job_id = fake.add_job("slow.mp3", status="PENDING")
    # more 503s than the transport's own retries (3): wait() itself must carry on
    fake.inject(503, times=6, method="GET", path_prefix=f"/v1/transcriptions/{job_id}")
    job = api.wait(job_id, poll_s=0)
    assert job.completed and job.text == TEXT
    assert len(waits) >= 6

    other = fake.add_job("slower.mp3", status="PENDING")
    fake.inject(503, times=20, method="GET", path_prefix=f"/v1/transcriptions/{other}")
    with pytest.raises(ServerError):  # the next try would come after the deadline
        api.wait(other, poll_s=0, timeout_s=0)
    fake.injected.clear()


def test_wait_still_stops_on_a_refusal(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job("slow.mp3", status="PENDING")
    fake.inject(500, method="GET", path_prefix=f"/v1/transcriptions/{job_id}")
    with pytest.raises(ServerError):
        api.wait(job_id, poll_s=0)


# ---- 3. the 413 of /segments says what to do about it ---------------------------------------


def test_a_413_from_segments_says_download_the_json(api: Client, fake: FakeApi) -> None:
    job_id = fake.add_job()
    fake.inject(413, path_prefix=f"/v1/transcriptions/{job_id}/segments", detail="too large to answer here")
    with pytest.raises(ValidationError) as caught:
        api.segments(job_id)
    assert "format='json'" in str(caught.value) and "smaller file" not in str(caught.value)
    assert str(caught.value) == (
        f"Getting the segments of job {job_id}: too large (413): too large to answer here. The "
        "transcript is too large to answer here: download it as JSON instead (download(job_id, "
        "format='json'), or transcriber download ID --format json) or search it (search(q, job_id=...))."
    )
    with pytest.raises(ValidationError, match="smaller file"):
        api.create("talk.mp3", 200 * 1024 * 1024)  # the upload's 413 keeps its own hint


def test_a_413_hint_comes_from_the_call_else_it_is_the_uploads() -> None:
    """As in the JS SDK: the call that knows what a 413 means there says it; no table of routes."""

    def message(hint: str | None) -> str:
        return str(error_for_status(413, {}, "x", retry_after=1.0, location=None, too_large_hint=hint))

    assert message("Download it instead.") == "x: too large (413). Download it instead."
    assert "smaller file" in message(None)


# ---- 4. a filtered list whose first pages are empty -----------------------------------------


def _cursor(offset: int) -> str:
    return base64.urlsafe_b64encode(str(offset).encode()).decode()


def test_list_follows_empty_filtered_pages_to_the_jobs(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = cli_api.add_job("meeting.mp3")
    empty = {"items": [], "next_cursor": _cursor(0)}  # the API filters after reading: it happens
    cli_api.inject(200, times=2, method="GET", path_prefix="/v1/transcriptions", body=empty)
    code, out, _ = run(capsys, "list", "--status", "COMPLETED", "--quiet")
    assert code == 0 and job_id in out and "No jobs" not in out
    assert len(cli_api.calls("GET", "/v1/transcriptions")) == 3
    assert all(r.query.get("status") == "COMPLETED" for r in cli_api.calls("GET", "/v1/transcriptions"))


def test_list_says_more_may_follow_after_too_many_empty_pages(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_api.add_job("meeting.mp3")
    empty = {"items": [], "next_cursor": _cursor(0)}
    cli_api.inject(200, times=12, method="GET", path_prefix="/v1/transcriptions", body=empty)
    code, out, _ = run(capsys, "list", "--status", "COMPLETED", "--quiet")
    assert code == 0 and "more may follow" in out and "No jobs." not in out
    assert f"transcriber list --status COMPLETED --cursor {_cursor(0)}" in out
    assert len(cli_api.calls("GET", "/v1/transcriptions")) == 10
    cli_api.injected.clear()


def test_the_next_page_command_keeps_the_filter(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    for i in range(3):
        cli_api.add_job(f"f{i}.mp3")
    code, _, err = run(capsys, "list", "--status", "COMPLETED", "--limit", "2")
    assert code == 0 and "list --status COMPLETED --limit 2 --cursor" in err


# ---- 5. a download to a file or a pipe is the file itself -----------------------------------

RTL = "\u05e9\u05dc\u05d5\u05dd \u200fworld\u200f \u202bquoted\u202c"


@pytest.fixture
def rtl_transcript(monkeypatch: pytest.MonkeyPatch) -> None:
    plain = fake_api.render

    def render(fmt: str) -> tuple[str, str]:
        return (RTL, "text/plain; charset=utf-8") if fmt == "txt" else plain(fmt)

    monkeypatch.setattr(fake_api, "render", render)


@pytest.mark.usefixtures("rtl_transcript")
def test_download_to_a_pipe_keeps_direction_marks(
    cli_api: FakeApi, tmp_path: Path, capsysbinary: pytest.CaptureFixture[bytes]
) -> None:
    job_id = cli_api.add_job()
    assert main(["download", job_id, "-f", "txt"]) == 0
    piped = capsysbinary.readouterr().out
    assert main(["download", job_id, "-f", "txt", "-o", str(tmp_path / "out.txt"), "--quiet"]) == 0
    assert piped == (tmp_path / "out.txt").read_bytes() == RTL.encode("utf-8")


@pytest.mark.usefixtures("rtl_transcript")
def test_download_to_a_terminal_is_still_escaped(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = cli_api.add_job()
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    code, out, _ = run(capsys, "download", job_id, "-f", "txt")
    assert code == 0 and "\u200f" not in out and "\\u200f" in out and out.endswith("\n")
