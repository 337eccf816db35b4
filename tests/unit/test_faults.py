"""Fault injection (transcriber/faults.py): off by default, the rate asked for, retryable errors."""

from __future__ import annotations

import logging
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.unit.conftest import moto_s3
from transcriber import faults
from transcriber.adapters.storage import ObjectStore
from transcriber.domain.errors import RETRYABLE_ERROR_NAMES, RetryableError, TransientEngineError
from transcriber.domain.models import Segment
from transcriber.engines import factory
from transcriber.engines.base import (
    DEFAULT_DECODING,
    DecodeOptions,
    EngineResult,
    SpeechEngine,
)
from transcriber.faults import FaultInjector, FaultyEngine

FAULT_VARIABLES = ("FAULT_RATE", "FAULT_TARGETS", "FAULT_SEED")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """No fault setting leaks in from the shell, or out to other tests through the caches."""
    for name in FAULT_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    faults.reset_fault_injector()
    factory.reset_engine_cache()
    yield monkeypatch
    faults.reset_fault_injector()
    factory.reset_engine_cache()


class RecordingEngine:
    """A SpeechEngine that records its calls and answers at once."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[tuple[str, object]] = []

    def load(self) -> None:
        self.calls.append(("load", None))

    def transcribe(self, wav_path: Path, options: DecodeOptions = DEFAULT_DECODING) -> EngineResult:
        self.calls.append(("transcribe", (wav_path, options)))
        return EngineResult(language=options.language, segments=(Segment(0.0, 1.0, "hello"),), duration=1.0)


# The injector ------------------------------------------------------------------------------------


def test_the_errors_raised_are_ones_the_state_machine_retries() -> None:
    assert TransientEngineError.__name__ in RETRYABLE_ERROR_NAMES
    assert RetryableError.__name__ in RETRYABLE_ERROR_NAMES


def test_faults_are_off_unless_a_rate_is_set() -> None:
    assert FaultInjector.from_env({}) is None
    assert FaultInjector.from_env({"FAULT_RATE": "0"}) is None
    assert FaultInjector.from_env({"FAULT_RATE": "", "FAULT_TARGETS": "engine"}) is None
    assert faults.active_injector() is None  # the real environment, cleaned by the fixture


def test_settings_from_the_environment() -> None:
    injector = FaultInjector.from_env({"FAULT_RATE": "0.25", "FAULT_SEED": "7"})
    assert injector is not None
    assert (injector.rate, injector.targets, injector.seed) == (0.25, frozenset({"engine", "s3"}), 7)
    only_s3 = FaultInjector.from_env({"FAULT_RATE": "1", "FAULT_TARGETS": " S3 "})
    assert only_s3 is not None and only_s3.targets == frozenset({"s3"})
    assert only_s3.covers("s3") and not only_s3.covers("engine")


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"FAULT_RATE": "1.5"}, "FAULT_RATE must lie between 0 and 1"),
        ({"FAULT_RATE": "-0.1"}, "FAULT_RATE must lie between 0 and 1"),
        ({"FAULT_RATE": "often"}, "FAULT_RATE must be a number"),
        ({"FAULT_RATE": "0.3", "FAULT_TARGETS": "engine,disk"}, "FAULT_TARGETS must name some of"),
        ({"FAULT_RATE": "0.3", "FAULT_SEED": "x"}, "FAULT_SEED must be an integer"),
    ],
)
def test_a_bad_setting_is_an_error_not_silence(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultInjector.from_env(environ)


def test_the_fault_rate_holds_over_many_draws() -> None:
    injector = FaultInjector(rate=0.3, seed=1234)
    failed = 0
    for _ in range(1000):
        try:
            injector.maybe_fail("s3", "get_object")
        except RetryableError:
            failed += 1
    assert 250 <= failed <= 350  # 0.3 of 1000; the binomial's sd is about 14.5
    assert injector.injected == {"s3": failed}


def test_a_seed_makes_the_sequence_reproducible() -> None:
    def sequence(seed: int) -> list[bool]:
        injector = FaultInjector(rate=0.5, seed=seed)
        out = []
        for _ in range(50):
            try:
                injector.maybe_fail("engine", "transcribe")
                out.append(False)
            except TransientEngineError:
                out.append(True)
        return out

    assert sequence(5) == sequence(5)
    assert sequence(5) != sequence(6)


def test_every_fault_is_logged_and_says_it_was_injected(caplog: pytest.LogCaptureFixture) -> None:
    injector = FaultInjector(rate=1.0)
    with caplog.at_level(logging.WARNING, logger="transcriber.faults"), pytest.raises(RetryableError) as err:
        injector.maybe_fail("s3", "put_object")
    assert str(err.value).startswith(faults.MESSAGE_PREFIX)
    assert err.value.retryable
    (record,) = caplog.records
    assert f"{faults.LOG_EVENT} target=s3 operation=put_object" in record.getMessage()


def test_a_target_not_named_never_fails() -> None:
    injector = FaultInjector(rate=1.0, targets=frozenset({"engine"}))
    injector.maybe_fail("s3", "get_object")  # no error
    assert injector.injected == {}


# The engine ------------------------------------------------------------------------------------


def test_without_faults_the_engine_is_not_wrapped(clean_environment: pytest.MonkeyPatch) -> None:
    engine = RecordingEngine()
    assert faults.with_engine_faults(engine) is engine
    clean_environment.setenv("TRANSCRIBE_ENGINE", "pocketsphinx")
    assert not isinstance(factory.engine_from_env(), FaultyEngine)


def test_engine_faults_raise_a_transient_engine_error_before_the_engine_runs() -> None:
    inner = RecordingEngine()
    engine = faults.with_engine_faults(inner, FaultInjector(rate=1.0))
    assert isinstance(engine, FaultyEngine) and isinstance(engine, SpeechEngine)
    assert engine.name == "recording"  # transcripts keep naming the real engine
    with pytest.raises(TransientEngineError, match="Injected fault"):
        engine.transcribe(Path("chunk.wav"), DecodeOptions(language="en"))
    engine.load()  # the init phase is never failed: a Lambda init error is not a retryable task error
    assert inner.calls == [("load", None)]


def test_the_engine_wrapper_delegates_when_no_fault_is_drawn() -> None:
    inner = RecordingEngine()
    engine = faults.with_engine_faults(inner, FaultInjector(rate=1e-12))
    decoding = DecodeOptions(language="de", beam_size=1, word_timestamps=False, hotwords="Norland")
    result = engine.transcribe(Path("chunk.wav"), decoding)
    assert result.text == "hello"
    assert inner.calls == [("transcribe", (Path("chunk.wav"), decoding))]


def test_engine_faults_leave_the_engine_alone_when_only_s3_is_targeted() -> None:
    engine = RecordingEngine()
    assert faults.with_engine_faults(engine, FaultInjector(rate=1.0, targets=frozenset({"s3"}))) is engine


def test_the_wired_engine_is_wrapped_when_the_environment_sets_a_rate(
    clean_environment: pytest.MonkeyPatch,
) -> None:
    """The transcribe handler wires ``with_engine_faults(engine_from_env())``."""
    clean_environment.setenv("TRANSCRIBE_ENGINE", "pocketsphinx")
    clean_environment.setenv("FAULT_RATE", "1")
    faults.reset_fault_injector()
    engine = faults.with_engine_faults(factory.engine_from_env())
    assert isinstance(engine, FaultyEngine)
    assert engine.name == "pocketsphinx"
    assert engine.wrapped is factory.engine_from_env()  # still one engine per process
    with pytest.raises(TransientEngineError):
        engine.transcribe(Path("never-read.wav"))


def test_the_engine_factory_does_not_import_the_fault_injector() -> None:
    """Engines are production code: the factory loads neither test tooling nor botocore."""
    code = (
        "import sys, transcriber.engines.factory; "
        "print(sorted(m for m in ('transcriber.faults', 'botocore') if m in sys.modules))"
    )
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"


# S3 ------------------------------------------------------------------------------------------


@pytest.fixture
def s3(clean_environment: pytest.MonkeyPatch) -> Iterator[object]:
    with moto_s3(clean_environment) as client:
        yield client


def test_without_faults_the_s3_client_is_left_alone(s3: object) -> None:
    store = ObjectStore(s3)
    assert store._client is s3
    store.put_json("results", "a.json", {"ok": True})
    assert store.get_json("results", "a.json") == {"ok": True}


def test_s3_faults_are_503s_the_sdk_retries_then_a_retryable_error(
    s3: object, clean_environment: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    ObjectStore(s3).put_text("results", "there.txt", "x", "text/plain")
    clean_environment.setenv("FAULT_RATE", "1")
    clean_environment.setenv("FAULT_TARGETS", "s3")
    faults.reset_fault_injector()
    store = ObjectStore(s3)
    source = tmp_path / "chunk.wav"
    source.write_bytes(b"RIFF")
    calls = [
        lambda: store.put_text("results", "k.txt", "x", "text/plain"),
        lambda: store.get_json("results", "there.txt"),
        lambda: store.exists("results", "there.txt"),  # not mistaken for a missing object
        lambda: store.read_head("results", "there.txt"),
        lambda: store.upload(source, "results", "chunk.wav"),  # boto3 wraps this one: still retryable
    ]
    for call in calls:
        with pytest.raises(RetryableError, match="SlowDown") as err:
            call()
        assert type(err.value) is RetryableError and "Injected fault" in str(err.value)
    injector = faults.active_injector()
    assert injector is not None and injector.injected["s3"] > len(calls)  # the SDK retried each
    clean_environment.delenv("FAULT_RATE")
    faults.reset_fault_injector()
    assert ObjectStore(s3).exists("results", "there.txt")  # the hook reads the environment per request


def test_an_s3_fault_the_sdk_retry_absorbs_is_invisible(s3: object) -> None:
    # Seed 1 draws 5 faults over the 10 puts, never 3 in a row (the SDK's 3 attempts).
    injector = FaultInjector(rate=0.3, targets=frozenset({"s3"}), seed=1)
    store = ObjectStore(faults.with_s3_faults(s3, injector))
    for n in range(10):
        store.put_text("results", f"{n}.txt", str(n), "text/plain")
    assert injector.injected["s3"] == 5  # faults happened, yet every put went through
    injector.rate = 0.0
    assert [store.get_json("results", f"{n}.txt") for n in range(10)] == list(range(10))


def test_engine_only_faults_leave_s3_alone(s3: object, clean_environment: pytest.MonkeyPatch) -> None:
    clean_environment.setenv("FAULT_RATE", "1")
    clean_environment.setenv("FAULT_TARGETS", "engine")
    faults.reset_fault_injector()
    store = ObjectStore(s3)
    assert store._client is s3
    store.put_text("results", "k.txt", "x", "text/plain")
