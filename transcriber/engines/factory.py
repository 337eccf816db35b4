"""Pick the speech engine from ``TRANSCRIBE_ENGINE``; one instance per process.

A warm Lambda worker keeps its engine (and the loaded model) between invocations, so the
model load is paid once per worker rather than once per chunk. Test tooling stays out: fault
injection (transcriber/faults.py) wraps the engine where a handler wires it, not here.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

from transcriber.engines.base import SpeechEngine

DEFAULT_ENGINE = "faster-whisper"


def _faster_whisper() -> SpeechEngine:
    from transcriber.engines.faster_whisper_engine import FasterWhisperEngine

    return FasterWhisperEngine()


def _pocketsphinx() -> SpeechEngine:
    from transcriber.engines.pocketsphinx_engine import PocketsphinxEngine

    return PocketsphinxEngine()


#: Engine name -> constructor; imports are deferred so an engine's libraries load only if chosen.
ENGINES: dict[str, Callable[[], SpeechEngine]] = {
    "faster-whisper": _faster_whisper,
    "pocketsphinx": _pocketsphinx,
}

_instances: dict[str, SpeechEngine] = {}
_lock = threading.Lock()


def engine_from_env() -> SpeechEngine:
    """The engine named by ``TRANSCRIBE_ENGINE`` (default faster-whisper), cached per process."""
    name = (os.environ.get("TRANSCRIBE_ENGINE") or DEFAULT_ENGINE).strip().lower()
    factory = ENGINES.get(name)
    if factory is None:
        raise ValueError(f"unknown TRANSCRIBE_ENGINE {name!r}; valid names: {', '.join(sorted(ENGINES))}")
    with _lock:
        if name not in _instances:
            _instances[name] = factory()
        return _instances[name]


def reset_engine_cache() -> None:
    """Forget cached engines (for tests that change the environment)."""
    with _lock:
        _instances.clear()
