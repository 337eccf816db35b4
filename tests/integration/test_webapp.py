"""The web app in a real browser (Debian's chromium driven by Playwright), and the JavaScript SDK's
``npm test``, against the session's local stack with the HTTP API and the app served side by side.

Needs ``make browser`` (chromium) and node 20+; both are part of the project's setup.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from localrun.live_server import LiveServer
from localrun.pipeline import LocalPipeline
from localrun.serve import ApiServer
from tests.integration.conftest import Api, ApiTenant

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
SAMPLE = REPO / "samples" / "sample.flac"
# The README's screenshots are rewritten only on request (their dates change every run).
SCREENSHOTS = REPO / "docs" / "screenshots"
UPDATE_SCREENSHOTS = os.environ.get("UPDATE_SCREENSHOTS") == "1"
HOSTILE_NAME = "<script>window.__pwned=1</script><img src=x onerror=window.__pwned=2>.flac"
AUDIO_PATH = "/v1/transcriptions/{job_id}/audio"

if shutil.which("chromium") is None:  # pragma: no cover - a setup problem, said loudly
    pytest.fail("chromium is not installed: run `make browser` (apt-get install chromium)", pytrace=False)
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is in the dev extra: make setup")


#: ``make serve``'s server: the web app at ``/`` beside the API.
AppServer = ApiServer


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: docs/screenshots with UPDATE_SCREENSHOTS=1, else a temporary folder."""
    folder = SCREENSHOTS if UPDATE_SCREENSHOTS else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def carol(api: Api) -> ApiTenant:
    return api.tenant(f"carol-{int(time.time() * 1000) % 10**8}")


def _signed_in(browser: Any, base_url: str, key: str, **context: Any) -> Any:
    page = browser.new_context(accept_downloads=True, **context).new_page()
    page.goto(base_url + "/")
    page.fill("#api-key", key)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#workspace", state="visible")
    return page


def _first_seconds(path: Path, seconds: float) -> bytes:
    """The start of a recording as FLAC: a second, shorter upload (one chunk) beside the sample."""
    import imageio_ffmpeg

    run = subprocess.run(
        [
            imageio_ffmpeg.get_ffmpeg_exe(),
            "-v",
            "error",
            "-i",
            str(path),
            "-t",
            str(seconds),
            "-f",
            "flac",
            "-",
        ],
        capture_output=True,
        check=True,
        timeout=60,
    )
    return run.stdout


def _has_audio_endpoint(base_url: str) -> bool:
    with urllib.request.urlopen(base_url + "/v1/openapi.json", timeout=30) as resp:
        return AUDIO_PATH in json.load(resp).get("paths", {})


def test_sign_in_upload_watch_read_and_download(
    browser: Any, app_server: AppServer, live: LiveServer, carol: ApiTenant, shots: Path
) -> None:
    page = browser.new_context(accept_downloads=True).new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.on(
        "console",
        lambda msg: problems.append(msg.text) if "Content Security Policy" in msg.text else None,
    )
    page.goto(app_server.base_url + "/")
    page.screenshot(path=str(shots / "sign-in.png"))

    # A wrong key: the API's own message, and no way in.
    page.fill("#api-key", "trk_nobody_wrong")
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#error", state="visible")
    assert page.locator("#workspace").is_hidden()

    page.fill("#api-key", carol.key)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#workspace", state="visible")
    assert page.locator("#error").is_hidden()
    assert page.evaluate("sessionStorage.getItem('transcriber.apiKey')") == carol.key
    assert page.evaluate("localStorage.length") == 0
    page.evaluate("window.__sameDocument = true")

    page.set_input_files(
        "#files",
        [
            {"name": "sample.flac", "mimeType": "audio/flac", "buffer": SAMPLE.read_bytes()},
            {"name": HOSTILE_NAME, "mimeType": "audio/flac", "buffer": _first_seconds(SAMPLE, 4)},
        ],
    )
    sample = page.locator(".uploads li", has=page.locator(".name", has_text="sample.flac")).first
    hostile = page.locator(".uploads li", has=page.locator(".name", has_text="<script>")).first
    for item in (sample, hostile):
        item.and_(page.locator("[data-status=COMPLETED]")).wait_for(timeout=180_000)
        assert item.locator("progress").evaluate("bar => bar.value") == 100
    assert page.evaluate("window.__sameDocument") is True  # no reload happened on the way
    assert live.delivered > 0  # the progress came as pushes over the WebSocket

    # The hostile name is text everywhere it shows, and nothing of it ran.
    assert hostile.locator(".name").text_content() == HOSTILE_NAME
    job_row = page.locator("#jobs tbody tr", has=page.locator("td.name", has_text="<script>"))
    job_row.wait_for()
    assert job_row.locator("td.name").text_content() == HOSTILE_NAME
    assert page.locator("main script, main img").count() == 0
    assert page.evaluate("window.__pwned") is None
    row = page.locator("#jobs tbody tr", has=page.locator("td.name", has_text="sample.flac"))
    row.locator(".status-COMPLETED").wait_for()
    assert row.locator("td").nth(2).text_content() == "0:23"  # duration of the 22.6 s sample
    assert row.locator("td").nth(3).text_content() == "en"
    page.screenshot(path=str(shots / "jobs.png"), full_page=True)

    row.get_by_role("button", name="Open the transcript of sample.flac").click()
    page.wait_for_selector("#viewer", state="visible")
    words = page.locator("#transcript .word")
    assert words.count() > 20
    text = " ".join(t.strip() for t in words.all_text_contents()).lower()
    assert "transcription" in text and "subtitles" in text, text
    # No audio endpoint: the player is hidden and says why; with one, it has a source.
    audio_endpoint = _has_audio_endpoint(app_server.base_url)
    page.locator("#player").wait_for(
        state="visible" if audio_endpoint else "hidden"
    )  # after its GET .../audio
    page.screenshot(path=str(shots / "transcript.png"), full_page=True)

    with page.expect_download() as download_info:
        page.click(".downloads button[data-format=srt]")
    download = download_info.value
    assert download.suggested_filename == "sample.srt"
    srt = Path(download.path()).read_text(encoding="utf-8")
    assert srt.startswith("1\n00:00:0") and " --> " in srt

    # Delete through the app: gone from the table, and the API says 404.
    page.once("dialog", lambda dialog: dialog.accept())  # "Delete ...?"
    job_row.get_by_role("button", name="Delete").click()
    job_row.wait_for(state="detached")
    assert problems == []


def test_search_finds_a_word_and_a_hit_opens_its_transcript_there(
    browser: Any, app_server: AppServer, carol: ApiTenant
) -> None:
    """The search box, by keyboard: a word of the sample is listed with its file, time and the word
    marked; Enter on the hit opens that transcript at the hit's start (the index follows events, so
    the search is repeated until the sample's completion has reached it)."""
    page = _signed_in(browser, app_server.base_url, carol.key)
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.get_by_label("Search all transcripts").fill("subtitles")
    hits = page.locator("#search-hits .hit")
    deadline = time.monotonic() + 15
    while True:
        page.keyboard.press("Enter")
        _poll(page, "() => !document.getElementById('search-status').textContent.startsWith('Searching')")
        if hits.count() or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    hit = page.locator("#search-hits .hit", has=page.locator(".where", has_text="sample.flac")).first
    assert re.fullmatch(r"sample\.flac at \d\d:\d\d", hit.locator(".where").text_content() or "")
    marked = {m.lower() for m in hit.locator("mark").all_text_contents()}
    assert marked == {"subtitles"}, marked
    start = float(hit.get_attribute("data-start") or "nan")

    hit.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector("#viewer", state="visible")
    assert "sample.flac" in (page.locator("#viewer-title").text_content() or "")
    sought = page.locator("#transcript .segment.sought")
    assert "subtitles" in (sought.text_content() or "").lower()
    assert float(sought.locator(".time").get_attribute("data-start") or "nan") <= start + 0.01
    if _has_audio_endpoint(app_server.base_url):
        _poll(page, "() => document.getElementById('player').readyState >= 1")
        position = page.evaluate("document.getElementById('player').currentTime")
        assert abs(position - start) < 0.3, (position, start)
    assert problems == []


def test_speaker_turns_and_renames_show_names_and_the_apis_message_as_text(
    browser: Any, app_server: AppServer, carol: ApiTenant
) -> None:
    """Speaker labels from a real diarized run take too long here, so the browser is given them:
    the job's GET gains two labels (Playwright route). The real PUT .../speakers then refuses (this
    transcript has none) and its message is shown as it is; a stand-in success with a hostile name
    shows the name as text at every turn of that speaker."""
    context = browser.new_context()
    job_view = re.compile(r"/v1/transcriptions/[^/?]+$")

    def with_speakers(route: Any) -> None:
        response = route.fetch()
        view = response.json()
        segments = (view.get("transcript") or {}).get("segments") or view.get("segments") or []
        for index, segment in enumerate(segments):
            segment["speaker"] = "spk_0" if index < 2 else "spk_1"
        view["speakers"] = [
            {"label": "spk_0", "name": None, "seconds": 5.0},
            {"label": "spk_1", "name": None, "seconds": 17.0},
        ]
        route.fulfill(response=response, json=view)

    context.route(job_view, with_speakers)
    page = context.new_page()
    page.goto(app_server.base_url + "/")
    page.fill("#api-key", carol.key)
    page.click("#sign-in-form button[type=submit]")
    row = page.locator("#jobs tbody tr", has=page.locator(".status-COMPLETED")).first
    row.get_by_role("button", name="Open", exact=False).click()
    page.wait_for_selector("#speakers-form", state="visible")
    assert page.locator("#transcript .speaker").all_text_contents() == ["spk_0:", "spk_1:"]

    page.get_by_label("spk_0", exact=False).fill("Alice")
    page.get_by_role("button", name="Save names").click()
    page.wait_for_selector("#error", state="visible")
    assert "has no speaker labels" in (page.locator("#error").text_content() or "")

    hostile = "<b>Alice</b>"
    context.route(
        re.compile(r"/v1/transcriptions/[^/?]+/speakers$"),
        lambda route: route.fulfill(
            json={
                "job_id": "x",
                "speakers": [
                    {"label": "spk_0", "name": hostile, "seconds": 5.0},
                    {"label": "spk_1", "name": None, "seconds": 17.0},
                ],
            }
        ),
    )
    page.get_by_label("spk_0", exact=False).fill(hostile)
    page.get_by_role("button", name="Save names").click()
    page.locator("#transcript .speaker", has_text=hostile).wait_for()
    assert page.locator("#transcript .speaker").all_text_contents() == [f"{hostile}:", "spk_1:"]
    assert page.locator("#transcript b, #speakers-form b").count() == 0
    assert page.locator("#error").is_hidden()
    context.unroute_all(behavior="ignoreErrors")
    context.close()


def test_the_app_is_readable_on_a_phone(
    browser: Any, app_server: AppServer, carol: ApiTenant, shots: Path
) -> None:
    page = _signed_in(
        browser, app_server.base_url, carol.key, viewport={"width": 390, "height": 844}, is_mobile=True
    )
    page.locator("#jobs tbody tr").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for button in page.locator("#jobs button").all():  # every action reachable without scrolling sideways
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    page.screenshot(path=str(shots / "phone.png"), full_page=True)


def _poll(page: Any, expression: str, arg: Any = None, timeout_s: float = 30) -> None:
    """Wait until a JS expression is truthy. (Playwright's wait_for_function evaluates strings with
    eval, which the app's CSP refuses; evaluate goes through the debugger protocol instead.)"""
    deadline = time.monotonic() + timeout_s
    while not page.evaluate(expression, arg):
        assert time.monotonic() < deadline, f"still false after {timeout_s} s: {expression}"
        time.sleep(0.05)


def _check_seeking(page: Any) -> None:
    """Open a finished job; a click on a word, or Enter on a segment's time, moves the player there,
    and the highlight follows playback."""
    row = page.locator("#jobs tbody tr", has=page.locator(".status-COMPLETED")).first
    row.get_by_role("button", name="Open", exact=False).click()
    _poll(page, "() => document.getElementById('player').readyState >= 1")
    word = page.locator("#transcript .word").nth(10)
    start = float(word.get_attribute("data-start") or "nan")
    word.click()
    position = page.evaluate("document.getElementById('player').currentTime")
    assert abs(position - start) < 0.3, (position, start)
    assert "current" in (word.get_attribute("class") or "")
    # Playing on: a later word takes the highlight.
    _poll(page, "start => Number(document.querySelector('.word.current')?.dataset.start) > start", start, 10)
    segment = page.locator("#transcript .time").nth(2)
    segment_start = float(segment.get_attribute("data-start") or "nan")
    segment.focus()
    page.keyboard.press("Enter")
    position = page.evaluate("document.getElementById('player').currentTime")
    assert abs(position - segment_start) < 0.3, (position, segment_start)


def test_clicking_a_word_seeks_the_player(browser: Any, app_server: AppServer, carol: ApiTenant) -> None:
    assert _has_audio_endpoint(app_server.base_url), f"the API documents GET {AUDIO_PATH}"
    page = _signed_in(browser, app_server.base_url, carol.key)
    _check_seeking(page)


def test_seeking_with_a_stand_in_audio_endpoint(
    browser: Any, app_server: AppServer, carol: ApiTenant, pipeline: LocalPipeline, shots: Path
) -> None:
    """The player against a recording the test controls (Playwright routes the audio endpoint to a
    presigned GET of the sample in the local S3): the seeking and the highlight are the app's real
    code, and the screenshot of the transcript view comes from here."""
    s3 = pipeline.aws.client("s3")
    key = "webapp-test/sample.flac"
    s3.put_object(
        Bucket=pipeline.stack.results_bucket, Key=key, Body=SAMPLE.read_bytes(), ContentType="audio/flac"
    )
    recording = s3.generate_presigned_url(
        "get_object", Params={"Bucket": pipeline.stack.results_bucket, "Key": key}, ExpiresIn=600
    )
    context = browser.new_context()

    def openapi_with_audio(route: Any) -> None:
        document = route.fetch().json()
        document["paths"][AUDIO_PATH] = {"get": {"summary": "stand-in"}}
        route.fulfill(json=document)

    context.route(f"{app_server.base_url}/v1/openapi.json", openapi_with_audio)
    context.route(
        f"{app_server.base_url}/v1/transcriptions/*/audio",
        lambda route: route.fulfill(json={"url": recording}),
    )
    page = context.new_page()
    page.goto(app_server.base_url + "/")
    page.fill("#api-key", carol.key)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#workspace", state="visible")
    _check_seeking(page)
    assert page.locator("#no-audio").is_hidden()
    page.screenshot(path=str(shots / "transcript-player.png"), full_page=True)
    context.unroute_all(behavior="ignoreErrors")
    context.close()


def test_the_javascript_sdk_against_the_stack(api: Api, carol: ApiTenant) -> None:
    npm = shutil.which("npm")
    assert npm, "node 20+ with npm is needed for the JavaScript SDK's tests"
    env = {**os.environ, "TRANSCRIBER_API_URL": api.server.base_url, "TRANSCRIBER_API_KEY": carol.key}
    run = subprocess.run(
        [npm, "test", "--prefix", str(REPO / "sdk-js")], env=env, capture_output=True, text=True, timeout=300
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    summary = run.stdout[-2000:]
    print(run.stdout)  # the per-test times, for pytest -rP
    assert re.search(r"\bskipped 0\b", summary) and re.search(r"\bfail 0\b", summary), summary
