"""The local stack's S3 accepts an upload PUT with the form content type curl and urllib send by
default (``curl -X PUT --data-binary @f <upload_url>``), as real S3 does (localrun/s3_front.py)."""

from __future__ import annotations

import shutil
import socket
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto.server import ThreadedMotoServer

from localrun.s3_front import S3CompatibleMotoServer

BODY = b"RIFF" + b"name=value&other" * 4096  # looks like a form, is an object


@pytest.fixture
def s3_url(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, str]]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = S3CompatibleMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}")
        s3.create_bucket(Bucket="uploads")
        url = s3.generate_presigned_url(
            "put_object", Params={"Bucket": "uploads", "Key": "a.wav"}, ExpiresIn=60
        )
        yield s3, url
    finally:
        server.stop()


def test_the_seam_is_where_the_front_expects_it() -> None:
    # The front overrides moto's private _server_entry; a moto upgrade that moves it fails here.
    assert callable(ThreadedMotoServer._server_entry)
    assert ThreadedMotoServer.__init__.__code__.co_varnames[:4] == ("self", "ip_address", "port", "verbose")


def test_urllib_default_content_type_upload_keeps_every_byte(s3_url: tuple[object, str]) -> None:
    s3, url = s3_url
    request = urllib.request.Request(url, data=BODY, method="PUT")  # urllib adds the form type
    assert urllib.request.urlopen(request, timeout=10).status == 200
    assert s3.get_object(Bucket="uploads", Key="a.wav")["Body"].read() == BODY  # type: ignore[attr-defined]


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_data_binary_upload_works(s3_url: tuple[object, str], tmp_path: Path) -> None:
    s3, url = s3_url
    audio = tmp_path / "a.wav"
    audio.write_bytes(BODY)
    done = subprocess.run(
        ["curl", "-sS", "-f", "-m", "10", "-X", "PUT", "--data-binary", f"@{audio}", url],
        capture_output=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert s3.get_object(Bucket="uploads", Key="a.wav")["Body"].read() == BODY  # type: ignore[attr-defined]
