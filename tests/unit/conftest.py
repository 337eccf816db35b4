"""Fixtures shared by the unit tests of the SDK's command line."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.unit.fake_api import API_KEY, FakeApi


@pytest.fixture
def cli_api(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeApi]:
    """The fake API, found by the CLI through its environment (URL and key) as a user sets them."""
    with FakeApi() as api:
        monkeypatch.setenv("TRANSCRIBER_API_URL", api.base_url)
        monkeypatch.setenv("TRANSCRIBER_API_KEY", API_KEY)
        yield api
