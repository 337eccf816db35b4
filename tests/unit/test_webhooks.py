"""Webhook rules: signatures, which callback URLs are accepted, the payload and the backoff."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import socket
import threading

import pytest

from transcriber.adapters.resolver import resolve_host
from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import EVENT_JOB_COMPLETED, EVENT_JOB_FAILED
from transcriber.domain.webhooks import (
    MAX_URL_LENGTH,
    RETRY_BASE_S,
    RETRY_CAP_S,
    CallbackHostNotFoundError,
    InvalidCallbackUrlError,
    IPAddress,
    Resolver,
    check_callback_url,
    is_public_address,
    parse_callback_url,
    payload_for,
    retry_delay_s,
    sign,
    verify,
)

SECRET = "whsec_" + "ab" * 32
BODY = b'{"job_id":"0123","status":"COMPLETED"}'
NOW = 1_790_000_000
PUBLIC = [ipaddress.ip_address("93.184.216.34")]


def resolver(*addresses: str) -> Resolver:
    def resolve(host: str, port: int) -> list[IPAddress]:
        return [ipaddress.ip_address(a) for a in addresses]

    return resolve


# Signing ------------------------------------------------------------------------------------


def test_signature_is_hmac_sha256_over_timestamp_dot_body() -> None:
    header = sign(SECRET, NOW, BODY)
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert header == f"t={NOW},v1={expected}"


def test_verify_accepts_its_own_signature_within_tolerance() -> None:
    header = sign(SECRET, NOW, BODY)
    assert verify(SECRET, header, BODY, now=NOW)
    assert verify(SECRET, header, BODY, now=NOW + 300)
    assert verify(SECRET, header, BODY, now=NOW - 300)


@pytest.mark.parametrize(
    ("secret", "body", "now"),
    [
        ("whsec_other", BODY, NOW),  # another tenant's secret
        (SECRET, BODY + b" ", NOW),  # body changed
        (SECRET, BODY.replace(b"COMPLETED", b"FAILED"), NOW),
        (SECRET, BODY, NOW + 301),  # replayed too late
        (SECRET, BODY, NOW - 301),  # from the future
    ],
)
def test_verify_rejects_tampered_foreign_and_stale(secret: str, body: bytes, now: int) -> None:
    assert not verify(secret, sign(SECRET, NOW, BODY), body, now=now)


def test_verify_rejects_a_moved_timestamp() -> None:
    header = sign(SECRET, NOW, BODY).replace(f"t={NOW}", f"t={NOW + 10}")
    assert not verify(SECRET, header, BODY, now=NOW)


@pytest.mark.parametrize("header", ["", "garbage", "t=abc,v1=00", f"t={NOW}", "v1=00", f"t={NOW},v1="])
def test_verify_rejects_malformed_headers(header: str) -> None:
    assert not verify(SECRET, header, BODY, now=NOW)


def test_verify_accepts_any_of_several_signatures() -> None:
    good = sign(SECRET, NOW, BODY).split(",")[1]
    assert verify(SECRET, f"t={NOW},v1={'0' * 64},{good}", BODY, now=NOW)


# Callback URLs ------------------------------------------------------------------------------


def test_a_public_https_url_is_accepted_with_its_addresses() -> None:
    got = check_callback_url(
        "https://hooks.example.com/transcripts?x=1", local_mode=False, resolve=resolver("93.184.216.34")
    )
    assert got == PUBLIC


def test_the_url_is_split_for_the_sender() -> None:
    target = parse_callback_url("https://Hooks.Example.com:8443/a/b?c=d#frag", local_mode=False)
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/a/b?c=d",
    )
    assert parse_callback_url("https://example.com", local_mode=False).path == "/"
    assert parse_callback_url("https://bücher.example/", local_mode=False).host == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("url", "words"),
    [
        ("http://hooks.example.com/x", "https"),
        ("ftp://hooks.example.com/x", "https"),
        ("hooks.example.com/x", "https"),
        ("https://user:pw@hooks.example.com/x", "user name or password"),
        ("https://token@hooks.example.com/x", "user name or password"),
        ("https:///x", "host"),
        ("https://hooks.example.com:99999/x", "not a valid URL"),
        ("https://hooks.example.com:0/x", "port 0"),
        ("https://hooks.example.com/a b", "spaces"),
        ("https://hooks.example.com/\r\nX-Injected: 1", "control"),
        ("https://hooks.example.com/" + "a" * MAX_URL_LENGTH, "at most"),
        ("", "non-empty"),
    ],
)
def test_malformed_urls_are_refused_with_a_reason(url: str, words: str) -> None:
    with pytest.raises(InvalidCallbackUrlError) as caught:
        check_callback_url(url, local_mode=False, resolve=resolver("93.184.216.34"))
    assert words in caught.value.message
    assert caught.value.reason_code == "INVALID_CALLBACK_URL"
    assert isinstance(caught.value, PermanentError)


@pytest.mark.parametrize(
    "address",
    [
        "10.0.0.5",
        "172.16.3.4",
        "192.168.1.1",
        "127.0.0.1",
        "127.8.9.10",
        "169.254.169.254",  # the instance metadata service
        "100.64.0.1",  # shared (carrier-grade NAT)
        "0.0.0.0",
        "224.0.0.251",
        "239.255.255.250",
        "240.0.0.1",
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "::1",
        "::",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",  # the IPv6 metadata service
        "ff02::1",
        "::ffff:127.0.0.1",
        "::ffff:10.0.0.1",
        "::ffff:169.254.169.254",
        "2002:a00:1::1",  # 6to4 of 10.0.0.1
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address: str) -> None:
    assert not is_public_address(ipaddress.ip_address(address))
    with pytest.raises(InvalidCallbackUrlError, match="not a public address"):
        check_callback_url("https://hooks.example.com/x", local_mode=False, resolve=resolver(address))


@pytest.mark.parametrize(
    "address", ["93.184.216.34", "8.8.8.8", "2606:4700:4700::1111", "::ffff:93.184.216.34"]
)
def test_public_addresses_are_allowed(address: str) -> None:
    assert is_public_address(ipaddress.ip_address(address))


def test_one_private_answer_among_public_ones_is_refused() -> None:
    with pytest.raises(InvalidCallbackUrlError, match=r"10\.1\.2\.3"):
        check_callback_url(
            "https://rebind.example.com/x", local_mode=False, resolve=resolver("93.184.216.34", "10.1.2.3")
        )


@pytest.mark.parametrize(
    "url",
    [
        "https://127.0.0.1/x",
        "https://[::1]/x",
        "https://localhost/x",
        "https://2130706433/x",
        "https://0x7f.1/x",
    ],
)
def test_loopback_in_any_spelling_is_refused_by_the_real_resolver(url: str) -> None:
    with pytest.raises(InvalidCallbackUrlError):
        check_callback_url(url, local_mode=False, resolve=resolve_host)


def test_an_unresolvable_host_is_refused_as_host_not_found() -> None:
    def fails(host: str, port: int) -> list[IPAddress]:
        raise CallbackHostNotFoundError("nope")

    with pytest.raises(CallbackHostNotFoundError):
        check_callback_url("https://nowhere.invalid/x", local_mode=False, resolve=fails)
    with pytest.raises(CallbackHostNotFoundError):
        check_callback_url("https://nowhere.invalid/x", local_mode=False, resolve=resolver())
    with pytest.raises(CallbackHostNotFoundError):
        resolve_host("nowhere.invalid", 443)


def test_resolve_host_returns_ip_literals_as_they_are() -> None:
    assert resolve_host("127.0.0.1", 80) == [ipaddress.ip_address("127.0.0.1")]


@pytest.mark.parametrize("url", ["http://localhost:8080/hook", "http://127.0.0.1:9/x", "http://[::1]:9/x"])
def test_local_mode_allows_plain_http_to_localhost_only(url: str) -> None:
    local = check_callback_url(url, local_mode=True, resolve=resolver("127.0.0.1"))
    assert local == [ipaddress.ip_address("127.0.0.1")]
    with pytest.raises(InvalidCallbackUrlError, match="https"):
        check_callback_url(url, local_mode=False, resolve=resolver("127.0.0.1"))


def test_local_mode_still_refuses_http_elsewhere() -> None:
    with pytest.raises(InvalidCallbackUrlError, match="https"):
        check_callback_url("http://hooks.example.com/x", local_mode=True, resolve=resolver("93.184.216.34"))


# Payload ------------------------------------------------------------------------------------

JOB_ID = "0123456789abcdef0123456789abcdef"


def test_completed_payload() -> None:
    event = {
        "id": "evt-1",
        "detail-type": EVENT_JOB_COMPLETED,
        "time": "2026-11-24T12:00:00Z",
        "detail": {
            "job_id": JOB_ID,
            "status": "COMPLETED",
            "bucket": "internal-bucket",
            "key": "in/a.mp3",
            "language": "en",
            "duration": 12.5,
            "segments": 3,
            "outputs": {"json": "s3://internal-bucket/transcripts/x/transcript.json"},
            "occurred_at": "2026-11-24T12:00:00.123Z",
        },
    }
    body = payload_for(event, {"job_id": JOB_ID, "callback_url": "https://h.example/x"})
    assert body == {
        "id": "evt-1",
        "type": EVENT_JOB_COMPLETED,
        "job_id": JOB_ID,
        "status": "COMPLETED",
        "occurred_at": "2026-11-24T12:00:00.123Z",
        "language": "en",
        "duration": 12.5,
        "segments": 3,
        "outputs": {
            fmt: f"/v1/transcriptions/{JOB_ID}/download?format={fmt}" for fmt in ("json", "srt", "vtt", "txt")
        },
        "links": {"self": f"/v1/transcriptions/{JOB_ID}"},
    }
    assert "internal-bucket" not in json.dumps(body)  # no bucket names or keys leave the account


def test_failed_payload() -> None:
    event = {
        "id": "evt-2",
        "detail-type": EVENT_JOB_FAILED,
        "detail": {
            "job_id": JOB_ID,
            "status": "FAILED",
            "reason_code": "CORRUPT_AUDIO",
            "message": "The file is not audio.",
            "occurred_at": "2026-11-24T12:00:00.123Z",
        },
    }
    body = payload_for(event, {"job_id": JOB_ID})
    assert body["reason_code"] == "CORRUPT_AUDIO"
    assert body["message"] == "The file is not audio."
    assert body["status"] == "FAILED"
    assert "outputs" not in body and "language" not in body


# Backoff ------------------------------------------------------------------------------------


@pytest.mark.parametrize("attempt", [-1, 0, 1, 2, 3, 5, 8, 20, 10_000])
def test_retry_delay_stays_within_bounds(attempt: int) -> None:
    ceiling = min(RETRY_CAP_S, RETRY_BASE_S * 2 ** min(max(attempt - 1, 0), 16))
    assert retry_delay_s(attempt, rand=lambda: 0.0) == RETRY_BASE_S
    assert retry_delay_s(attempt, rand=lambda: 1.0) == ceiling
    for _ in range(50):
        assert RETRY_BASE_S <= retry_delay_s(attempt) <= ceiling


def test_retry_delay_grows_then_caps() -> None:
    upper = [retry_delay_s(n, rand=lambda: 1.0) for n in range(1, 10)]
    assert upper == [30, 60, 120, 240, 480, 900, 900, 900, 900]
    assert RETRY_CAP_S == 900 and RETRY_BASE_S == 30


def test_a_lookup_that_hangs_is_answered_as_host_not_found_in_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """getaddrinfo has no timeout of its own: a DNS server that never answers must not hold an
    API request (29 s) or a webhook delivery until the system resolver gives up."""
    released = threading.Event()

    def never_answers(*args: object, **kwargs: object) -> list[object]:
        released.wait(10)
        raise socket.gaierror("gave up")

    monkeypatch.setattr(socket, "getaddrinfo", never_answers)
    try:
        with pytest.raises(CallbackHostNotFoundError, match=r"did not resolve within 0\.2 s"):
            resolve_host("slow.example.com", 443, timeout_s=0.2)
    finally:
        released.set()
