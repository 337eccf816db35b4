"""The ``transcriber`` CLI against an in-process fake of the HTTP API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from client.cli import main
from tests.unit.fake_api import TEXT, FakeApi
from transcriber.domain.options import JobOptions


@pytest.fixture
def audio(tmp_path: Path) -> Path:
    path = tmp_path / "talk.mp3"
    path.write_bytes(b"fake audio" * 100)
    return path


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("transcriber: error:")]
    assert len(lines) == 1, err
    return lines[0]


# ---- commands --------------------------------------------------------------------------------


def test_submit_prints_the_job_id(cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "submit", str(audio), "--language", "de", "--no-word-timestamps")
    assert code == 0
    job_id = out.strip()
    assert cli_api.jobs[job_id].options == {"language": "de", "word_timestamps": False}
    assert cli_api.jobs[job_id].uploaded == audio.read_bytes()
    assert f"transcriber wait {job_id}" in err


def test_submit_a_url_sends_it_as_source_url_with_task_and_prompt(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    url = "https://media.example.com/talks/keynote.mp3"
    code, out, _ = run(capsys, "submit", url, "--task", "translate", "--prompt", "Dashwood, Norland")
    assert code == 0
    job = cli_api.jobs[out.strip()]
    assert job.filename == "keynote.mp3" and job.uploaded is None
    assert job.options == {"task": "translate", "prompt": "Dashwood, Norland"}


def test_max_chunk_seconds_is_a_float_and_the_other_options_are_sent_only_when_given(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "submit", str(audio), "--max-chunk-seconds", "42.5", "--beam-size", "2")
    assert code == 0
    assert cli_api.jobs[out.strip()].options == {"max_chunk_seconds": 42.5, "beam_size": 2}
    code, out, _ = run(capsys, "submit", str(audio), "--no-dedupe")
    assert code == 0 and cli_api.jobs[out.strip()].options == {"dedupe": False}
    assert run(capsys, "submit", str(audio), "--max-chunk-seconds", "long")[0] == 2


def test_the_transcript_options_are_sent_as_the_api_takes_them(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        capsys, "submit", str(audio), "--vocabulary-name", "product", "--redact-pii",
        "--pii-entity-types", "email, phone_number", "--keep-unredacted",
        "--replacements", "tom=Thom", "--replacements", "gray = Grey",
        "--caption-max-line-chars", "32", "--caption-max-lines", "1", "--caption-max-duration-s", "4.5",
    )  # fmt: skip
    assert code == 0, err
    sent = cli_api.jobs[out.strip()].options
    assert sent == {
        "vocabulary_name": "product", "redact_pii": True, "pii_entity_types": ["email", "phone_number"],
        "keep_unredacted": True,
        "replacements": [{"from": "tom", "to": "Thom"}, {"from": "gray", "to": "Grey"}],
        "caption_max_line_chars": 32, "caption_max_lines": 1, "caption_max_duration_s": 4.5,
    }  # fmt: skip
    # The server's own options model takes what the CLI sent.
    parsed = JobOptions.parse(sent)
    assert parsed.replacements == (("tom", "Thom"), ("gray", "Grey"))
    assert parsed.pii_entity_types == ("email", "phone_number") and parsed.caption_max_duration_s == 4.5


@pytest.mark.parametrize(
    "flag, value", [("--replacements", "tom"), ("--replacements", "=Thom"), ("--pii-entity-types", " , ")]
)
def test_a_malformed_transcript_option_is_a_usage_error(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str], flag: str, value: str
) -> None:
    code, _, err = run(capsys, "submit", str(audio), flag, value)
    assert code == 2
    assert f"argument {flag}:" in err
    assert not cli_api.jobs


def test_unredacted_is_a_json_download_and_refused_with_another_format(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "download", "0" * 32, "--unredacted", "--format", "srt")
    assert code == 2 and "json format only" in one_error_line(err)
    assert not cli_api.calls("GET")


def test_submit_json(cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json", "submit", str(audio), "--callback-url", "http://127.0.0.1:9/hook")
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "PENDING" and job["options"] == {"callback_url": "http://127.0.0.1:9/hook"}


def test_submit_wait_shows_progress_and_prints_the_transcript(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(capsys, "submit", str(audio), "--wait", "--poll", "0")
    assert code == 0
    assert out.strip() == TEXT
    assert "Transcribing talk.mp3" in err and "100%" in err and "2/2 chunks" in err
    assert "Done: job" in err and "--format srt" in err


def test_submit_wait_json_is_the_final_job(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "submit", str(audio), "--wait", "--poll", "0", "--json", "--no-progress")
    assert code == 0
    job = json.loads(out)
    assert job["status"] == "COMPLETED" and job["transcript"]["text"] == TEXT


def test_a_failing_job_exits_1_with_its_reason(
    cli_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "fail.wav"
    path.write_bytes(b"not audio")
    code, out, err = run(capsys, "--json", "submit", str(path), "--wait", "--poll", "0")
    assert code == 1
    assert json.loads(out)["reason_code"] == "UNSUPPORTED_AUDIO"  # --json still prints the job
    assert "UNSUPPORTED_AUDIO" in one_error_line(err)


def test_status_human_and_json(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = cli_api.add_job("meeting.mp3")
    code, out, _ = run(capsys, "status", job_id)
    assert code == 0
    assert "COMPLETED" in out and "meeting.mp3" in out and TEXT in out and f"download {job_id}" in out

    code, out, _ = run(capsys, "status", job_id, "--json")  # global options after the command too
    assert code == 0 and json.loads(out)["job_id"] == job_id


def test_status_of_a_failed_job_suggests_retry(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = cli_api.add_job("x.mp3", status="FAILED")
    code, out, _ = run(capsys, "status", job_id)
    assert code == 0 and "UNSUPPORTED_AUDIO" in out and f"transcriber retry {job_id}" in out


def test_list(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    ids = [cli_api.add_job(f"f{i}.mp3") for i in range(3)]
    code, out, err = run(capsys, "list", "--limit", "2")
    assert code == 0
    assert out.splitlines()[0].split()[:2] == ["JOB", "ID"]
    assert ids[2] in out and ids[1] in out and ids[0] not in out
    assert "--cursor" in err

    code, out, _ = run(capsys, "--json", "list", "--limit", "2")
    page = json.loads(out)
    assert [j["job_id"] for j in page["items"]] == ids[:0:-1] and page["next_cursor"]
    code, out, _ = run(capsys, "--json", "list", "--limit", "2", "--cursor", page["next_cursor"])
    assert [j["job_id"] for j in json.loads(out)["items"]] == [ids[0]]

    code, out, _ = run(capsys, "--json", "list", "--all", "--limit", "1", "--status", "completed")
    assert code == 0 and [j["job_id"] for j in json.loads(out)["items"]] == ids[::-1]


def test_wait(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = cli_api.add_job("slow.mp3", status="PENDING")
    code, out, _ = run(capsys, "--json", "wait", job_id, "--poll", "0")
    assert code == 0 and json.loads(out)["status"] == "COMPLETED"


def test_download_to_a_file_and_to_stdout(
    cli_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = cli_api.add_job()
    target = tmp_path / "out" / "talk.srt"
    code, _, err = run(capsys, "download", job_id, "--format", "srt", "-o", str(target))
    assert code == 0 and target.read_text().startswith("1\n00:00:00,000 --> 00:00:01,500\nhello world")
    assert f"Wrote {target}" in err

    code, out, _ = run(capsys, "download", job_id, "--format", "txt")
    assert code == 0 and out == TEXT + "\n"

    code, out, _ = run(capsys, "--json", "download", job_id, "-f", "vtt", "-o", str(tmp_path / "t.vtt"))
    assert code == 0 and json.loads(out)["format"] == "vtt"


def test_delete_then_the_job_is_gone(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    job_id = cli_api.add_job()
    code, out, _ = run(capsys, "--json", "delete", job_id)
    assert code == 0 and json.loads(out) == {"job_id": job_id, "deleted": True}
    code, _, err = run(capsys, "status", job_id)
    assert code == 1 and "not found (404)" in one_error_line(err)


def test_retry(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    failed = cli_api.add_job("x.mp3", status="FAILED")
    code, out, _ = run(capsys, "--json", "retry", failed)
    assert code == 0 and json.loads(out)["status"] == "PENDING"

    code, _, err = run(capsys, "retry", cli_api.add_job())
    assert code == 1 and "(409)" in one_error_line(err)

    again = cli_api.add_job("y.mp3", status="FAILED")
    code, out, _ = run(capsys, "retry", again, "--wait", "--poll", "0", "-q")
    assert code == 0 and out.strip() == TEXT


# ---- exit codes and error lines --------------------------------------------------------------


def test_missing_configuration_is_a_usage_error(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("TRANSCRIBER_API_URL", raising=False)
    monkeypatch.delenv("TRANSCRIBER_API_KEY", raising=False)
    code, _, err = run(capsys, "status", "abc")
    assert code == 2 and "--base-url" in one_error_line(err)
    code, _, err = run(capsys, "--base-url", "http://127.0.0.1:9", "status", "abc")
    assert code == 2 and "TRANSCRIBER_API_KEY" in one_error_line(err)


def test_a_wrong_key_exits_1(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "--api-key", "wrong", "list")
    assert code == 1 and "Check your API key" in one_error_line(err)


def test_options_override_the_environment(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TRANSCRIBER_API_URL", "http://127.0.0.1:9")
    code, out, _ = run(capsys, "--json", "list", "--base-url", cli_api.base_url)
    assert code == 0 and json.loads(out)["items"] == []


def test_validation_errors_exit_2(
    cli_api: FakeApi, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    code, _, err = run(capsys, "submit", str(notes))
    assert code == 2 and "415" in one_error_line(err)

    code, _, err = run(capsys, "submit", str(tmp_path / "missing.mp3"))
    assert code == 2 and "does not exist" in one_error_line(err)

    song = notes.with_suffix(".mp3")
    song.write_bytes(b"audio")
    code, _, err = run(capsys, "submit", str(song), "--language", "english")
    assert code == 2 and "ISO 639-1" in one_error_line(err)


def test_bad_arguments_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(capsys, "download", "abc", "--format", "docx")[0] == 2
    assert run(capsys, "frobnicate")[0] == 2
    assert run(capsys)[0] == 2
    code, out, _ = run(capsys, "--help")
    assert code == 0 and "submit" in out


def test_rate_limited_submit_exits_1_and_is_not_repeated(
    cli_api: FakeApi, audio: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_api.inject(429, headers={"Retry-After": "7"}, method="POST", detail="over quota")
    code, _, err = run(capsys, "submit", str(audio))
    assert code == 1 and "Wait 7 s" in one_error_line(err)
    assert len(cli_api.calls("POST")) == 1


def test_server_error_exits_1(cli_api: FakeApi, capsys: pytest.CaptureFixture[str]) -> None:
    cli_api.inject(500, detail="maintenance")  # a 503 is retried (tests/unit/test_client_fixes.py)
    code, _, err = run(capsys, "list")
    assert code == 1 and "maintenance" in one_error_line(err)


def test_keys_without_a_tenants_table_is_a_usage_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("TRANSCRIBER_SERVE_FILE", str(tmp_path / "no-serve.json"))
    code, _, err = run(capsys, "keys", "list")
    assert code == 2 and "no tenants table" in one_error_line(err)


# ---- other people's text reaches the terminal escaped (security hole 4) ---------------------

HOSTILE_NAME = "x\x1b[2J\rFORGED 00000000 COMPLETED\n\u202eevil; rm -rf ~.mp3"


def test_list_escapes_control_characters_in_file_names(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    cli_api.add_job(HOSTILE_NAME)
    cli_api.add_job("plain.mp3")
    code, out, _ = run(capsys, "list")
    assert code == 0
    assert not any(ch in out for ch in ("\x1b", "\r", "\u202e"))
    assert len(out.splitlines()) == 3  # the header and two jobs: no forged row
    assert "\\x1b[2J\\rFORGED" in out  # shown, as escapes


def test_status_escapes_the_name_and_suggests_a_safe_file_name(
    cli_api: FakeApi, capsys: pytest.CaptureFixture[str]
) -> None:
    job_id = cli_api.add_job(HOSTILE_NAME)
    code, out, _ = run(capsys, "status", job_id)
    assert code == 0
    assert not any(ch in out for ch in ("\x1b", "\r", "\u202e"))
    suggestion = next(line for line in out.splitlines() if "download" in line)
    assert suggestion.endswith(".srt") and ";" not in suggestion and "~" not in suggestion
