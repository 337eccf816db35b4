"""Fault injection: transient errors at a set rate, for tests and soak runs. Off by default.

Configured from the environment of each function (CDK sets it from ``fault_rate`` in
``cdk.json``; the prod configuration refuses anything but 0):

- ``FAULT_RATE``: probability, 0 to 1, that one guarded call fails (default 0: off);
- ``FAULT_TARGETS``: comma list of ``engine`` and ``s3`` (default both when a rate is set);
- ``FAULT_SEED``: an integer for a reproducible sequence (tests); unset draws from the OS.

A guarded call is one speech engine call (``transcribe``; never ``load``,
which runs in the init phase) or one HTTP request of the S3 client behind
:class:`~transcriber.adapters.storage.ObjectStore`. An engine fault raises
:class:`TransientEngineError`, which the state machine retries; an S3 fault is a 503 SlowDown
answer that the SDK retries first, as it would a real one, and that becomes a
:class:`RetryableError` only when every SDK attempt fails. Each fault is
logged at WARNING as ``fault_injected target=... operation=...`` so a soak run can count them.

When the rate is 0 nothing is wrapped or hooked: the engine and the S3 client are the plain ones.
"""

from __future__ import annotations

import functools
import logging
import os
import random
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.awsrequest import AWSResponse

from transcriber.domain.errors import RetryableError, TransientEngineError
from transcriber.engines.base import (
    DEFAULT_DECODING,
    DecodeOptions,
    EngineResult,
    SpeechEngine,
)

logger = logging.getLogger(__name__)

TARGETS = ("engine", "s3")
#: The token every fault's log line carries; count it to count faults.
LOG_EVENT = "fault_injected"
#: How every injected error's message starts.
MESSAGE_PREFIX = "Injected fault"

_ERRORS: dict[str, type[RetryableError]] = {"engine": TransientEngineError, "s3": RetryableError}


@dataclass
class FaultInjector:
    """Fails a call with probability ``rate`` when its target is one of ``targets``."""

    rate: float
    targets: frozenset[str] = frozenset(TARGETS)
    seed: int | None = None
    #: faults raised so far by this injector, by target
    injected: dict[str, int] = field(default_factory=dict, init=False)
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        if not 0.0 <= self.rate <= 1.0:
            raise ValueError(f"FAULT_RATE must lie between 0 and 1, not {self.rate}")
        unknown = sorted(set(self.targets) - set(TARGETS))
        if unknown or not self.targets:
            raise ValueError(f"FAULT_TARGETS must name some of {list(TARGETS)}, not {sorted(self.targets)}")
        self._random = random.Random(self.seed)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> FaultInjector | None:
        """The injector the environment asks for, or ``None`` when the rate is 0 or unset."""
        env = os.environ if environ is None else environ
        raw_rate = (env.get("FAULT_RATE") or "").strip()
        try:
            rate = float(raw_rate) if raw_rate else 0.0
        except ValueError:
            raise ValueError(f"FAULT_RATE must be a number between 0 and 1, not {raw_rate!r}") from None
        if rate == 0:
            return None
        raw_targets = (env.get("FAULT_TARGETS") or "").strip()
        named = frozenset(t.strip().lower() for t in raw_targets.split(",") if t.strip())
        targets = named or frozenset(TARGETS)
        raw_seed = (env.get("FAULT_SEED") or "").strip()
        try:
            seed = int(raw_seed) if raw_seed else None
        except ValueError:
            raise ValueError(f"FAULT_SEED must be an integer, not {raw_seed!r}") from None
        return cls(rate=rate, targets=targets, seed=seed)

    def covers(self, target: str) -> bool:
        return self.rate > 0 and target in self.targets

    def draw(self, target: str, operation: str) -> bool:
        """Whether this call fails: True with probability ``rate`` (counted and logged)."""
        if not self.covers(target):
            return False
        with self._lock:
            if self._random.random() >= self.rate:
                return False
            self.injected[target] = self.injected.get(target, 0) + 1
        logger.warning("%s target=%s operation=%s rate=%s", LOG_EVENT, target, operation, self.rate)
        return True

    def maybe_fail(self, target: str, operation: str) -> None:
        """Raise ``target``'s retryable error with probability ``rate``; otherwise return."""
        if self.draw(target, operation):
            raise _ERRORS[target](
                f"{MESSAGE_PREFIX} (FAULT_RATE={self.rate}): {target} {operation} failed on purpose"
            )


@functools.cache
def active_injector() -> FaultInjector | None:
    """This process's injector, read once from the environment; ``None`` when faults are off."""
    return FaultInjector.from_env()


def reset_fault_injector() -> None:
    """Read the environment again on the next call (for tests that change it)."""
    active_injector.cache_clear()


def _injector_for(target: str, injector: FaultInjector | None) -> FaultInjector | None:
    chosen = injector if injector is not None else active_injector()
    return chosen if chosen is not None and chosen.covers(target) else None


class FaultyEngine:
    """A :class:`SpeechEngine` that may fail each call before handing it to the real engine."""

    def __init__(self, engine: SpeechEngine, injector: FaultInjector) -> None:
        self.wrapped = engine
        self.name = engine.name
        self._injector = injector

    def load(self) -> None:
        self.wrapped.load()  # the init phase: a fault there is not a retryable task error

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        self._injector.maybe_fail("engine", "transcribe")
        return self.wrapped.transcribe(wav_path, options)


def with_engine_faults(engine: SpeechEngine, injector: FaultInjector | None = None) -> SpeechEngine:
    """``engine`` itself when engine faults are off, else a :class:`FaultyEngine` around it."""
    chosen = _injector_for("engine", injector)
    return engine if chosen is None else FaultyEngine(engine, chosen)


class _ErrorBody:
    """The raw body botocore reads from an HTTP response."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def stream(self, **_: Any) -> Any:
        yield self._data


def _s3_fault_handler(injector: FaultInjector | None) -> Callable[..., AWSResponse | None]:
    """A ``before-send`` hook: with probability ``rate`` S3 "answers" 503 SlowDown, unsent.

    The fault enters below the SDK, where a real S3 blip would: botocore retries it as it retries
    any 503, and only a run of faults longer than its retries reaches the handler.
    """

    def before_send(request: Any, **kwargs: Any) -> AWSResponse | None:
        chosen = _injector_for("s3", injector)  # looked up per request: the environment may change
        operation = str(kwargs.get("event_name", "before-send.s3")).rsplit(".", 1)[-1]
        if chosen is None or not chosen.draw("s3", operation):
            return None
        body = (
            "<Error><Code>SlowDown</Code><Message>"
            f"{MESSAGE_PREFIX} (FAULT_RATE={chosen.rate}): s3 request failed on purpose"
            "</Message></Error>"
        ).encode()
        return AWSResponse(request.url, 503, {"Content-Type": "application/xml"}, _ErrorBody(body))

    return before_send


def with_s3_faults(client: Any, injector: FaultInjector | None = None) -> Any:
    """``client``, with an S3 fault hook registered once when S3 faults are on."""
    if _injector_for("s3", injector) is not None:
        # First in line: ahead of any other before-send handler (moto's, in tests) that would answer.
        client.meta.events.register_first(
            "before-send.s3", _s3_fault_handler(injector), unique_id="transcriber-fault-injection"
        )
    return client
