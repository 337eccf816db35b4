"""Fixtures shared by unit tests: the SDK and its command line against a fake API, and S3 in moto."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.unit.fake_api import API_KEY, FakeApi


@pytest.fixture
def fake() -> Iterator[FakeApi]:
    """The fake API, for SDK tests that build their own client on its URL."""
    with FakeApi() as api:
        yield api


@pytest.fixture
def cli_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The fake API, found by the CLI through its environment (URL and key) as a user sets them."""
    with FakeApi() as api:
        monkeypatch.setenv("TRANSCRIBER_API_URL", api.base_url)
        monkeypatch.setenv("TRANSCRIBER_API_KEY", API_KEY)
        yield api


@contextmanager
def moto_s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """An S3 client on moto (in this process, no server) with a ``results`` bucket."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket="results")
        yield client
