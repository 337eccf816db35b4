"""The web app's following of running jobs, sign-out, deletes and large transcripts, in a real
browser against the local stack. The jobs here are stand-ins (Playwright answers their GETs), so
that how often the app asks, and what it shows, is decided by the test and not by the engine."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from localrun.live_server import LiveServer
from tests.integration.conftest import Api, ApiTenant
from tests.integration.test_webapp import AppServer

pytestmark = pytest.mark.slow

JOB_PATH = re.compile(r"/v1/transcriptions/([0-9a-f]{32})(/[a-z]+)?$")
LIST_PATH = "/v1/transcriptions"


def _tenant(api: Api, prefix: str) -> ApiTenant:
    return api.tenant(f"{prefix}-{uuid.uuid4().hex[:6]}")


def _view(job_id: str, status: str, progress: float = 0, **extra: Any) -> dict[str, Any]:
    return {
        "job_id": job_id,
        "status": status,
        "progress": progress,
        "filename": f"{job_id[:6]}.flac",
        "created_at": "2026-01-01T00:00:00Z",
        "updated_at": "2026-01-01T00:00:00Z",
        "options": {},
        "links": {"self": f"/v1/transcriptions/{job_id}"},
        **extra,
    }


class StandIn:
    """Playwright routes for the API: the job list and stand-in jobs come from here, keyed by the
    API key asking; everything else goes to the real API. Records each request."""

    def __init__(self, context: Any, *, live: bool) -> None:
        self.lists: dict[str, list[dict[str, Any]]] = {}  # API key -> job views listed
        self.views: dict[str, Callable[[], tuple[int, Any]]] = {}  # job id -> (status, body)
        self.extra: dict[str, Callable[[], tuple[int, Any]]] = {}  # "job id/suffix" -> (status, body)
        self.requests: list[tuple[float, str, str, str]] = []  # (time, method, path, key)
        self.live = live
        context.route(re.compile(r"/v1/"), self._handle)

    def _handle(self, route: Any) -> None:
        request = route.request
        path = re.sub(r"^https?://[^/]+", "", request.url).split("?", 1)[0]
        key = (request.headers.get("authorization") or "").removeprefix("Bearer ")
        self.requests.append((time.monotonic(), request.method, path, key))
        if path == "/v1/openapi.json":
            document = route.fetch().json()
            if not self.live:
                document.pop("x-live-status-url", None)
            route.fulfill(json=document)
            return
        if path == LIST_PATH and request.method == "GET" and key in self.lists:
            route.fulfill(json={"items": self.lists[key], "next_cursor": None})
            return
        match = JOB_PATH.search(path)
        if match:
            job_id, suffix = match.group(1), match.group(2) or ""
            answer = self.extra.get(job_id + suffix) if suffix else None
            if answer is None and not suffix and request.method == "GET":
                answer = self.views.get(job_id)
            if answer is None and not suffix and request.method == "DELETE":
                answer = self.extra.get(job_id + ":DELETE")
            if answer is not None:
                status, body = answer()
                if status == 204:
                    route.fulfill(status=204, body="")
                elif isinstance(body, str):
                    route.fulfill(status=status, body=body, content_type="application/json")
                else:
                    kind = "application/problem+json" if status >= 400 else "application/json"
                    route.fulfill(status=status, body=json.dumps(body), content_type=kind)
                return
        route.fallback()

    def job_gets(self, job_ids: set[str], since: float = 0.0, key: str | None = None) -> int:
        return sum(
            1
            for at, method, path, who in self.requests
            if at >= since
            and method == "GET"
            and (m := JOB_PATH.search(path))
            and m.group(1) in job_ids
            and not m.group(2)
            and (key is None or who == key)
        )


def _sign_in(page: Any, base_url: str, key: str) -> None:
    page.fill("#api-key", key)
    page.click("#sign-in-form button[type=submit]")
    page.wait_for_selector("#workspace", state="visible")


def _new_page(browser: Any, base_url: str, *, live: bool) -> tuple[Any, Any, StandIn, list[str]]:
    context = browser.new_context()
    stand_in = StandIn(context, live=live)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(str(err)))
    page.goto(base_url + "/")
    return context, page, stand_in, problems


def _answering(status: int, body: Any) -> Callable[[], tuple[int, Any]]:
    """A stand-in route that always gives this answer."""
    return lambda: (status, body)


def _running(stand_in: StandIn, key: str, count: int) -> set[str]:
    """`count` stand-in jobs that stay PROCESSING at 40 %, listed for `key`."""
    ids = {uuid.uuid4().hex for _ in range(count)}
    stand_in.lists[key] = [_view(i, "PROCESSING", 40) for i in sorted(ids)]
    for job_id in ids:
        stand_in.views[job_id] = _answering(200, _view(job_id, "PROCESSING", 40))
    return ids


def test_running_jobs_share_one_poll_loop_without_live_status(
    browser: Any, app_server: AppServer, api: Api
) -> None:
    """Four running jobs and no live status: at most about one GET a second in all (it was one per
    job per second, four times that), and each job is still asked."""
    tenant = _tenant(api, "poll")
    context, page, stand_in, problems = _new_page(browser, app_server.base_url, live=False)
    ids = _running(stand_in, tenant.key, 4)
    _sign_in(page, app_server.base_url, tenant.key)
    started = time.monotonic()
    page.wait_for_timeout(6000)
    elapsed = time.monotonic() - started
    gets = stand_in.job_gets(ids, since=started - 1)
    assert gets <= elapsed + 2, (gets, elapsed)
    assert all(stand_in.job_gets({i}) >= 1 for i in ids)
    assert page.locator("#jobs tbody tr").count() == 4
    assert page.locator("#error").is_hidden() and problems == []
    context.close()


def test_live_status_follows_every_running_job_over_one_socket(
    browser: Any, app_server: AppServer, live: LiveServer, api: Api
) -> None:
    """With live status, one WebSocket (subscribed to every job of the tenant) for three running
    jobs, and a GET per job when it starts and when the subscription is confirmed, not every second."""
    tenant = _tenant(api, "live")
    context, page, stand_in, problems = _new_page(browser, app_server.base_url, live=True)
    sockets: list[Any] = []
    page.on("websocket", lambda socket: sockets.append(socket))
    ids = _running(stand_in, tenant.key, 3)
    _sign_in(page, app_server.base_url, tenant.key)
    page.wait_for_timeout(5000)
    assert [s.url for s in sockets] == [live.url], [s.url for s in sockets]
    assert not sockets[0].is_closed()
    gets = stand_in.job_gets(ids)
    assert 3 <= gets <= 2 * len(ids), gets
    assert page.locator("#error").is_hidden() and problems == []
    context.close()


def test_sign_out_stops_following_and_the_next_user_sees_only_their_jobs(
    browser: Any, app_server: AppServer, api: Api
) -> None:
    """Alice's running job is followed until she signs out; then nothing more is asked with her key,
    and Bob, signing in next in the same tab, never sees her job."""
    alice, bob = _tenant(api, "alice-out"), _tenant(api, "bob-out")
    context, page, stand_in, problems = _new_page(browser, app_server.base_url, live=False)
    (job_id,) = _running(stand_in, alice.key, 1)
    _sign_in(page, app_server.base_url, alice.key)
    row = page.locator(f'#jobs tbody tr[data-job="{job_id}"]')
    row.wait_for()
    page.wait_for_timeout(1500)
    assert stand_in.job_gets({job_id}, key=alice.key) >= 1

    page.click("#sign-out")
    signed_out = time.monotonic()
    _sign_in(page, app_server.base_url, bob.key)
    page.wait_for_timeout(4000)
    assert row.count() == 0
    assert page.locator("#jobs tbody tr").count() == 0  # Bob has no jobs
    late = [r for r in stand_in.requests if r[3] == alice.key and r[0] > signed_out + 0.5]
    assert late == [], late
    assert page.locator("#error").is_hidden() and problems == []
    context.close()


def test_deleting_a_running_job_shows_no_error(browser: Any, app_server: AppServer, api: Api) -> None:
    """The job's GETs answer 404 once it is deleted: the app stops following it and says nothing."""
    tenant = _tenant(api, "delete")
    context, page, stand_in, problems = _new_page(browser, app_server.base_url, live=False)
    (job_id,) = _running(stand_in, tenant.key, 1)
    deleted: list[bool] = []
    gone = {
        "type": "urn:transcriber:problem:not-found",
        "title": "Not found",
        "status": 404,
        "detail": "gone",
    }
    stand_in.views[job_id] = lambda: (404, gone) if deleted else (200, _view(job_id, "PROCESSING", 40))

    def delete() -> tuple[int, Any]:
        deleted.append(True)
        return 204, None

    stand_in.extra[job_id + ":DELETE"] = delete
    _sign_in(page, app_server.base_url, tenant.key)
    row = page.locator(f'#jobs tbody tr[data-job="{job_id}"]')
    row.wait_for()
    page.wait_for_timeout(1200)
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    row.wait_for(state="detached")
    assert deleted == [True]
    page.wait_for_timeout(4000)  # a watcher would have asked again (and got the 404) by now
    assert page.locator("#error").is_hidden(), page.locator("#error").text_content()
    assert row.count() == 0
    assert problems == []
    context.close()


def test_a_transcript_too_large_for_the_job_view_is_loaded_from_its_download(
    browser: Any, app_server: AppServer, api: Api
) -> None:
    """GET leaves a transcript over 5 MB out (links.transcript instead): the viewer loads the JSON
    download and shows its words, as text. When that download fails, it offers the download."""
    tenant = _tenant(api, "large")
    context, page, stand_in, problems = _new_page(browser, app_server.base_url, live=False)
    big, broken = uuid.uuid4().hex, uuid.uuid4().hex
    hostile = "<img src=x onerror=window.__pwned=1>"
    for job_id in (big, broken):
        link = f"/v1/transcriptions/{job_id}/download?format=json"
        view = _view(job_id, "COMPLETED", 100, duration=7200.0, language="en")
        view["links"]["transcript"] = link
        stand_in.views[job_id] = _answering(200, view)
    stand_in.lists[tenant.key] = [stand_in.views[big]()[1], stand_in.views[broken]()[1]]
    document = {
        "job_id": big,
        "language": "en",
        "duration": 7200.0,
        "transcript": f"a long meeting {hostile}",
        "segments": [
            {
                "id": 0,
                "start": 0.0,
                "end": 3.0,
                "text": f"a long meeting {hostile}",
                "words": [
                    {"word": "a", "start": 0.0, "end": 0.2},
                    {"word": "long", "start": 0.3, "end": 0.6},
                    {"word": "meeting", "start": 0.7, "end": 1.2},
                    {"word": hostile, "start": 1.3, "end": 2.0},
                ],
            }
        ],
    }
    stand_in.extra[big + "/download"] = lambda: (200, json.dumps(document))
    failure = {
        "type": "urn:transcriber:problem:x",
        "title": "Error",
        "status": 500,
        "detail": "storage is down",
    }
    stand_in.extra[broken + "/download"] = lambda: (500, failure)
    _sign_in(page, app_server.base_url, tenant.key)

    page.locator(f'#jobs tbody tr[data-job="{big}"]').get_by_role("button", name="Open", exact=False).click()
    page.wait_for_selector("#viewer", state="visible")
    page.locator("#transcript .word").first.wait_for()
    assert page.locator("#transcript .word").all_text_contents() == ["a", "long", "meeting", hostile]
    assert page.locator("#transcript img").count() == 0 and page.evaluate("window.__pwned") is None

    page.locator(f'#jobs tbody tr[data-job="{broken}"]').get_by_role(
        "button", name="Open", exact=False
    ).click()
    page.locator("#transcript .notice").wait_for()
    assert "too large to show here" in (page.locator("#transcript .notice").text_content() or "")
    assert page.locator("#transcript .notice button[data-format=json]").is_visible()
    assert page.locator("#transcript .word").count() == 0
    assert "storage is down" in (page.locator("#error").text_content() or "")
    assert problems == []
    context.close()
