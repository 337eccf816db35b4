"""The shared SDK clients (transcriber/adapters/aws_clients.py): one per service, configured."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from transcriber.adapters import aws_clients


@pytest.fixture(autouse=True)
def fresh_clients(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws_clients.forget()
    yield
    aws_clients.forget()


@pytest.mark.parametrize("service", ["s3", "sqs", "events", "stepfunctions", "dynamodb"])
def test_every_client_retries_in_standard_mode_with_timeouts(service: str) -> None:
    config = aws_clients.client(service).meta.config
    assert config.retries["mode"] == "standard"
    assert config.retries["total_max_attempts"] == 3
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
    assert aws_clients.client(service) is aws_clients.client(service)  # built once per process


def test_resources_are_configured_the_same_way() -> None:
    config = aws_clients.resource("dynamodb").meta.client.meta.config
    assert config.retries["mode"] == "standard"
    assert (config.connect_timeout, config.read_timeout) == (5, 30)
