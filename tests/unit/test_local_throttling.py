"""The local emulation of Lambda's concurrency limit (localrun/throttling.py)."""

from __future__ import annotations

import pytest

from localrun.throttling import ConcurrencyLimit, TooManyRequests


def test_the_state_machine_is_refused_at_the_limit_and_admitted_once_one_ends() -> None:
    limit = ConcurrencyLimit(2)
    limit.enter("chunk", refusable=True)
    limit.enter("chunk", refusable=True)
    with pytest.raises(TooManyRequests) as refused:
        limit.enter("chunk", refusable=True)
    assert refused.value.code == 429 and refused.value.error_type == "TooManyRequestsException"
    limit.enter("transcribe", refusable=True)  # the limit is per function
    limit.leave("chunk")
    limit.enter("chunk", refusable=True)
    assert limit.throttled == {"chunk": 1}


def test_asynchronous_callers_wait_instead_and_count_against_the_limit() -> None:
    limit = ConcurrencyLimit(1)
    limit.enter("ingest", refusable=False)
    limit.enter("ingest", refusable=False)  # an S3 or SQS delivery is never refused
    with pytest.raises(TooManyRequests):
        limit.enter("ingest", refusable=True)
    limit.leave("ingest")
    with pytest.raises(TooManyRequests):  # one still in flight: still at the limit
        limit.enter("ingest", refusable=True)
