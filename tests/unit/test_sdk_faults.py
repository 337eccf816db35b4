"""Which SDK failures a step retries: faults of the connection, never a refusal of the request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from boto3.exceptions import RetriesExceededError, S3UploadFailedError
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from transcriber.adapters.storage import IncompleteDeletionError, ObjectStore, attachment_disposition
from transcriber.domain.errors import RetryableError


class _Body:
    def __init__(self, fault: Exception | None, data: bytes = b"") -> None:
        self.fault, self.data = fault, data

    def read(self) -> bytes:
        if self.fault:
            raise self.fault
        return self.data


class _Client:
    """An S3 client whose reads fail with ``fault`` once the response has started."""

    def __init__(self, fault: Exception | None = None, data: bytes = b"", refusal: ClientError | None = None):
        self.fault, self.data, self.refusal = fault, data, refusal

    def get_object(self, **_: Any) -> dict[str, Any]:
        if self.refusal:
            raise self.refusal
        return {"Body": _Body(self.fault, self.data)}

    def download_file(self, *_: Any) -> None:
        raise RetriesExceededError(last_exception=ReadTimeoutError(endpoint_url="https://s3"))

    def upload_file(self, *_: Any, **__: Any) -> None:
        try:
            raise ConnectionClosedError(endpoint_url="https://s3")
        except ConnectionClosedError as err:
            raise S3UploadFailedError("upload failed") from err


NETWORK_FAULTS = [
    IncompleteReadError(actual_bytes=10, expected_bytes=100),
    ResponseStreamingError(error="Connection broken: IncompleteRead"),
    ConnectionClosedError(endpoint_url="https://s3"),
    ReadTimeoutError(endpoint_url="https://s3"),
    EndpointConnectionError(endpoint_url="https://s3"),
]


@pytest.mark.parametrize("fault", NETWORK_FAULTS, ids=lambda fault: type(fault).__name__)
def test_a_body_broken_on_the_way_is_retried(fault: Exception) -> None:
    store = ObjectStore(_Client(fault))
    with pytest.raises(RetryableError):
        store.get_range("results", "work/j/audio.wav", 44, 1044)
    with pytest.raises(RetryableError):
        store.get_bytes("results", "transcripts/j/transcript.json")


def test_a_range_shorter_than_asked_is_retried() -> None:
    store = ObjectStore(_Client(data=b"x" * 10))
    with pytest.raises(RetryableError, match="got 10"):
        store.get_range("results", "work/j/audio.wav", 0, 100)
    assert ObjectStore(_Client(data=b"x" * 100)).get_range("results", "k", 0, 100) == b"x" * 100


def test_managed_transfers_that_gave_up_on_the_network_are_retried(tmp_path: Path) -> None:
    store = ObjectStore(_Client())
    with pytest.raises(RetryableError):
        store.download("results", "work/j/audio.wav", tmp_path / "a.wav")
    (tmp_path / "b.wav").write_bytes(b"RIFF")
    with pytest.raises(RetryableError):
        store.upload(tmp_path / "b.wav", "results", "work/j/audio.wav")


def test_a_refused_request_is_not_retried() -> None:
    refusal = ClientError(
        {"Error": {"Code": "AccessDenied"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "GetObject"
    )
    with pytest.raises(ClientError):
        ObjectStore(_Client(refusal=refusal)).get_range("results", "work/j/audio.wav", 0, 100)


class _Deleter:
    """An S3 client whose DeleteObjects answers 200 with ``errors`` listed, as S3 does."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        self.errors = errors

    def get_paginator(self, _: str) -> Any:
        class _Pages:
            def paginate(self, **__: Any) -> list[dict[str, Any]]:
                return [{"Contents": [{"Key": "work/j/audio.wav"}, {"Key": "work/j/chunk-manifest.json"}]}]

        return _Pages()

    def delete_objects(self, **_: Any) -> dict[str, Any]:
        return {"Errors": self.errors}


def test_a_deletion_that_left_objects_behind_does_not_pass_for_done() -> None:
    assert ObjectStore(_Deleter([])).delete_prefix("results", "work/j/") == 2
    slow = [{"Key": "work/j/audio.wav", "Code": "SlowDown", "Message": "Reduce your request rate"}]
    with pytest.raises(RetryableError, match="1 of 2 objects not deleted"):
        ObjectStore(_Deleter(slow)).delete_prefix("results", "work/j/")
    denied = [{"Key": "work/j/audio.wav", "Code": "AccessDenied", "Message": "Access Denied"}]
    with pytest.raises(IncompleteDeletionError, match=r"AccessDenied on work/j/audio\.wav"):
        ObjectStore(_Deleter(denied)).delete_prefix("results", "work/j/")


@pytest.mark.parametrize(
    ("name", "fallback", "encoded"),
    [
        ("talk.flac", "talk.flac", "talk.flac"),
        (
            'a".flac; filename*=evil.exe',
            "a_.flac_ filename*=evil.exe",
            "a%22.flac%3B%20filename%2A%3Devil.exe",
        ),
        ("réunion\r\n.mp3", "r_union__.mp3", "r%C3%A9union%0D%0A.mp3"),
        ("back\\slash.wav", "back_slash.wav", "back%5Cslash.wav"),
        ("", "download", ""),
    ],
)
def test_a_download_name_cannot_add_header_parameters(name: str, fallback: str, encoded: str) -> None:
    """The name of a file dropped into the bucket is its key's last part, which nobody cleaned."""
    header = attachment_disposition(name)
    assert header == f"attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    assert header.count(";") == 2 and header.count('"') == 2 and "\r" not in header and "\n" not in header
