"""The worker side of the local Lambda runtime: what runs inside each warm worker process.

Kept apart from :mod:`localrun.lambda_runtime` so that a worker imports only the standard library
and its function's own code: the runtime side imports moto, which costs every worker about a
second of CPU and 55 MB of memory at start if it comes along (spawned workers import the module
that holds the function they run).
"""

from __future__ import annotations

import json
import os
import resource
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing import spawn
from multiprocessing.context import SpawnContext, SpawnProcess
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class FunctionSpec:
    """What a worker needs to run one function."""

    name: str
    code_dir: Path
    handler: str
    environment: dict[str, str]
    timeout_s: float
    memory_mb: int


_INHERITED = frozenset({"PATH", "HOME", "LANG", "TMPDIR", "TZ", "SSL_CERT_FILE", "VIRTUAL_ENV", "USER"})
_worker_handler: Callable[[Any, Any], Any] | None = None
_worker_spec: FunctionSpec | None = None
#: When the interpreter got as far as importing this module: the end of a spawned worker's bootstrap.
_IMPORTED = time.time()
#: (pid, module imported, init started, init ended) of this worker, wall-clock seconds
_worker_init: tuple[int, float, float, float] = (0, 0.0, 0.0, 0.0)


#: Keys of multiprocessing's spawn preparation data that make a child import the parent's ``__main__``.
_MAIN_MODULE_KEYS = ("init_main_from_name", "init_main_from_path")
_launching = threading.local()
_spawn_patch_lock = threading.Lock()


def _preparation_data(name: str, *, original: Callable[[str], dict[str, Any]]) -> dict[str, Any]:
    """multiprocessing's preparation data, without the parent's main module for a Lambda worker.

    A spawned child imports its parent's ``__main__`` first (``bench.compare``, the CLI: moto and all,
    about 0.2 s and 50 MB), which no Lambda execution environment does. The worker's functions live
    in :mod:`localrun.worker`, so the child needs nothing from it.
    """
    data = original(name)
    if getattr(_launching, "lambda_worker", False):
        for key in _MAIN_MODULE_KEYS:
            data.pop(key, None)
    return data


def _install_spawn_patch() -> None:
    with _spawn_patch_lock:
        current = spawn.get_preparation_data
        if getattr(current, "__wrapped_for_lambda__", False):
            return

        def patched(name: str) -> dict[str, Any]:
            return _preparation_data(name, original=current)

        patched.__wrapped_for_lambda__ = True  # type: ignore[attr-defined]
        spawn.get_preparation_data = patched


class _LambdaWorkerProcess(SpawnProcess):
    """A spawned process that starts as a Lambda execution environment does: from its own code."""

    @staticmethod
    def _Popen(process_obj: Any) -> Any:
        _install_spawn_patch()
        _launching.lambda_worker = True
        try:
            return SpawnProcess._Popen(process_obj)
        finally:
            _launching.lambda_worker = False


class LambdaWorkerContext(SpawnContext):
    """The spawn start method, minus the parent's main module (see :func:`_preparation_data`)."""

    Process = _LambdaWorkerProcess


class _Context:
    """The parts of Lambda's context object that Powertools and handlers read."""

    def __init__(self, spec: FunctionSpec, request_id: str, deadline: float) -> None:
        self.function_name = spec.name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = spec.memory_mb
        self.invoked_function_arn = (
            f"arn:aws:lambda:{os.environ.get('AWS_REGION', 'us-east-1')}:123456789012:function:{spec.name}"
        )
        self.aws_request_id = request_id
        self.log_group_name = f"/aws/lambda/{spec.name}"
        self.log_stream_name = request_id
        self._deadline = deadline

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.time()) * 1000))


def _init_worker(spec: FunctionSpec, log_path: str) -> None:
    global _worker_handler, _worker_spec, _worker_init
    init_started = time.time()
    log = open(log_path, "a", buffering=1, encoding="utf-8")  # noqa: SIM115 - lives as long as the worker
    sys.stdout = sys.stderr = log
    os.dup2(log.fileno(), 1)
    os.dup2(log.fileno(), 2)
    # Lambda gives a function only its own environment: keep what the machine needs to run a
    # process at all, drop the rest of the parent's (test settings, credentials, ...).
    kept = {k: v for k, v in os.environ.items() if k in _INHERITED or k.startswith(("LC_", "OPENBLAS_"))}
    os.environ.clear()
    os.environ.update({**kept, **spec.environment})
    os.chdir(spec.code_dir)
    sys.path.insert(0, str(spec.code_dir))
    module_name, _, func_name = spec.handler.rpartition(".")
    module = __import__(module_name, fromlist=[func_name])
    _worker_handler = getattr(module, func_name)
    _worker_spec = spec
    _worker_init = (os.getpid(), _IMPORTED, init_started, time.time())


def _warm() -> tuple[int, float, float, float]:
    """Nothing: submitting it makes the pool start a worker, which runs the init phase.

    Returns the worker's init timings so the runtime can report cold starts.
    """
    return _worker_init


def _cpu_seconds() -> float:
    """CPU seconds (user + system) of this worker and the children it waited for (ffmpeg)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


#: (payload, errored, worker pid, start, end, init timings, CPU seconds) of one invocation
InvocationResult = tuple[str, bool, int, float, float, tuple[int, float, float, float], float]


def _run_in_worker(event_json: str, request_id: str) -> InvocationResult:
    """Run one invocation; returns (payload, errored, worker pid, start, end, init timings, CPU seconds).

    A worker runs one invocation at a time, so the CPU its process used meanwhile (every thread,
    plus waited-for subprocesses) is the invocation's: what sizes a function's memory (vCPUs).
    """
    assert _worker_handler is not None and _worker_spec is not None
    started, cpu_before = time.time(), _cpu_seconds()
    payload, errored = _invoke_handler(event_json, request_id, started)
    cpu = _cpu_seconds() - cpu_before
    return payload, errored, os.getpid(), started, time.time(), _worker_init, cpu


def _invoke_handler(event_json: str, request_id: str, started: float) -> tuple[str, bool]:
    assert _worker_handler is not None and _worker_spec is not None
    context = _Context(_worker_spec, request_id, started + _worker_spec.timeout_s)
    try:
        result = _worker_handler(json.loads(event_json) if event_json else {}, context)
        return json.dumps(result), False
    except Exception as err:
        # Lambda's error shape: Step Functions matches Retry/Catch on errorType.
        error = {
            "errorType": type(err).__name__,
            "errorMessage": str(err),
            "stackTrace": traceback.format_exception(err),
        }
        print(
            f"[ERROR] {error['errorType']}: {error['errorMessage']}\n{''.join(error['stackTrace'])}",
            flush=True,
        )
        return json.dumps(error), True
