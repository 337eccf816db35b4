"""The local S3's ranged GETs (localrun/s3_front.py ``read_only_the_range``): the bytes and headers
S3 answers with, read without reading the whole object, and moto's own answer for the rest."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from localrun.s3_front import read_only_the_range
from tests.unit.conftest import moto_s3
from transcriber.adapters.storage import ObjectStore

BODY = os.urandom(3 * 1024 * 1024 + 17)


class _CountingBuffer(io.BytesIO):
    """The object's stored bytes, noting how much each read asked for."""

    reads: list[int]

    def read(self, size: int | None = -1) -> bytes:
        self.reads.append(-1 if size is None else size)
        return super().read(size)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    read_only_the_range()
    with moto_s3(monkeypatch) as client:
        client.put_object(Bucket="results", Key="work/j/audio.wav", Body=BODY, ChecksumAlgorithm="SHA256")
        yield client


def _stored_buffer() -> _CountingBuffer:
    from moto.s3.models import s3_backends

    key = s3_backends["123456789012"]["aws"].buckets["results"].keys["work/j/audio.wav"]
    buffer = _CountingBuffer(BODY)
    buffer.reads = []
    key._value_buffer = buffer
    return buffer


def test_a_range_is_read_alone_and_answered_as_s3_does(s3: Any) -> None:
    buffer = _stored_buffer()
    resp = s3.get_object(Bucket="results", Key="work/j/audio.wav", Range="bytes=1000-1999")
    assert resp["Body"].read() == BODY[1000:2000]
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 206
    assert resp["ContentRange"] == f"bytes 1000-1999/{len(BODY)}" and resp["ContentLength"] == 1000
    assert "ChecksumSHA256" not in resp  # a part carries no checksum of the whole
    assert buffer.reads == [1000]  # the window, not the 3 MB object
    # An open range, and one past the end, are cut at the end of the object.
    tail = s3.get_object(Bucket="results", Key="work/j/audio.wav", Range=f"bytes={len(BODY) - 10}-")
    assert tail["Body"].read() == BODY[-10:] and tail["ContentRange"].endswith(f"/{len(BODY)}")
    over = s3.get_object(Bucket="results", Key="work/j/audio.wav", Range=f"bytes=5-{len(BODY) + 99}")
    assert over["Body"].read() == BODY[5:]


def test_what_transcribe_reads_is_the_chunk(s3: Any) -> None:
    store = ObjectStore(s3)
    for first, stop in ((44, 44 + 32_000), (1_000_000, 1_960_044), (len(BODY) - 3, len(BODY))):
        assert store.get_range("results", "work/j/audio.wav", first, stop) == BODY[first:stop]


def test_other_requests_get_motos_own_answer(s3: Any) -> None:
    whole = s3.get_object(Bucket="results", Key="work/j/audio.wav")
    assert whole["Body"].read() == BODY and whole["ResponseMetadata"]["HTTPStatusCode"] == 200
    suffix = s3.get_object(Bucket="results", Key="work/j/audio.wav", Range="bytes=-7")
    assert suffix["Body"].read() == BODY[-7:]
    with pytest.raises(ClientError, match="InvalidRange"):
        s3.get_object(Bucket="results", Key="work/j/audio.wav", Range=f"bytes={len(BODY)}-")
