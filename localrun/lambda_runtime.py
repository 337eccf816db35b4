"""Run Lambda functions on this machine, the way Lambda does: warm worker processes per function.

moto stores functions but can only run them in Docker. Every invocation path it has (boto3
``invoke``, Step Functions tasks, S3 notifications, CloudFormation custom resources) goes through
``LambdaFunction._invoke_lambda(self, event)``, which must return ``(payload, errored, logs)``.
:func:`install` replaces that one method so that the function's own code (the zip CloudFormation
deployed, or for an image function its build context in ``cdk.out``) runs in a pool of warm
worker processes: each with that function's environment, each importing the handler once (so
the speech model loads once per worker), at most ``concurrency`` at a time per function.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import threading
import time
import uuid
import zipfile
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from moto.awslambda.models import LambdaFunction

from localrun.worker import (
    FunctionSpec,
    InvocationResult,
    LambdaWorkerContext,
    _init_worker,
    _run_in_worker,
    _warm,
)

#: The moto method this runtime replaces. tests/integration/test_moto_seam.py fails loudly if moto moves it.
SEAM_NAME = "_invoke_lambda"


@dataclass
class InvocationStats:
    """What ran where and when, per function: for the CLI's report and for tests of parallelism."""

    #: function name -> [(worker pid, start, end)] of every finished invocation, in wall-clock seconds
    runs: dict[str, list[tuple[int, float, float]]] = field(default_factory=dict)
    #: function name -> [(worker pid, runtime imported, init started, init ended)], one per worker:
    #: the cold start (interpreter start, imports, the handler's init phase) a benchmark reports
    inits: dict[str, list[tuple[int, float, float, float]]] = field(default_factory=dict)
    #: function name -> [(CPU seconds, wall seconds)] of every finished invocation (sizes memory)
    cpu: dict[str, list[tuple[float, float]]] = field(default_factory=dict)
    #: function name -> seconds each finished invocation waited for a free worker (Lambda would throttle)
    waits: dict[str, list[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(
        self, name: str, pid: int, start: float, end: float, cpu_s: float = 0.0, queued: float | None = None
    ) -> None:
        with self._lock:
            self.runs.setdefault(name, []).append((pid, start, end))
            self.cpu.setdefault(name, []).append((cpu_s, end - start))
            if queued is not None:
                self.waits.setdefault(name, []).append(max(0.0, start - queued))

    def record_init(self, name: str, init: tuple[int, float, float, float]) -> None:
        with self._lock:
            known = self.inits.setdefault(name, [])
            if all(pid != init[0] for pid, *_ in known):
                known.append(init)

    def pids(self, name: str) -> set[int]:
        """Every worker process known to have served or warmed up for the function."""
        return {run[0] for run in self.runs.get(name, [])} | {i[0] for i in self.inits.get(name, [])}

    def workers(self, name: str) -> int:
        """How many distinct warm worker processes served the function."""
        return len({pid for pid, _, _ in self.runs.get(name, [])})

    def peak_parallel(self, name: str) -> int:
        """The most invocations of the function that were executing at the same moment."""
        edges = sorted(
            [(start, 1) for _, start, _ in self.runs.get(name, [])]
            + [(end, -1) for _, _, end in self.runs.get(name, [])]
        )
        peak = running = 0
        for _, step in edges:  # at equal times, -1 sorts first: touching runs do not overlap
            running += step
            peak = max(peak, running)
        return peak

    def busiest(self, name_part: str) -> tuple[int, int]:
        """(peak parallel, workers) of the function whose name contains ``name_part``."""
        names = [n for n in self.runs if name_part in n]
        return (
            max((self.peak_parallel(n) for n in names), default=0),
            max((self.workers(n) for n in names), default=0),
        )


def _stringify(value: Any) -> Any:
    """CloudFormation sends custom-resource properties as strings; moto sends JSON booleans."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return {k: _stringify(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_stringify(v) for v in value]
    return value


class LambdaRuntime:
    """Warm worker pools, one per function, behind moto's invocation seam."""

    def __init__(
        self,
        *,
        work_dir: Path,
        base_environment: dict[str, str],
        concurrency: int,
        image_handlers: dict[str, tuple[Path, str]] | None = None,
        function_overrides: Callable[[str], dict[str, str]] | None = None,
    ) -> None:
        self.work_dir = work_dir.resolve()
        self.base_environment = base_environment
        self.concurrency = max(1, concurrency)
        #: image tag (the CDK asset hash) -> (build context folder, handler)
        self.image_handlers = dict(image_handlers or {})
        self.function_overrides = function_overrides
        self.stats = InvocationStats()
        self._pools: dict[str, tuple[str, ProcessPoolExecutor]] = {}
        self._lock = threading.Lock()
        self._original: Any = None
        (work_dir / "logs").mkdir(parents=True, exist_ok=True)

    # The seam ---------------------------------------------------------------------------------

    def install(self) -> None:
        if not hasattr(LambdaFunction, SEAM_NAME):
            raise RuntimeError(
                f"moto no longer has LambdaFunction.{SEAM_NAME}; the local runtime needs updating"
            )
        self._original = getattr(LambdaFunction, SEAM_NAME)
        runtime = self

        def invoke(fn: LambdaFunction, event: Any = None) -> tuple[str, bool, str]:
            return runtime.invoke(fn, event)

        setattr(LambdaFunction, SEAM_NAME, invoke)

    def uninstall(self) -> None:
        if self._original is not None:
            setattr(LambdaFunction, SEAM_NAME, self._original)
            self._original = None

    def shutdown(self) -> None:
        self.uninstall()
        with self._lock:
            pools = list(self._pools.values())
            self._pools.clear()
        for _, pool in pools:
            pool.shutdown(wait=False, cancel_futures=True)

    # Invocation --------------------------------------------------------------------------------

    def invoke(self, fn: LambdaFunction, event: Any) -> tuple[str, bool, str]:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        payload = event if isinstance(event, str) else json.dumps(event if event is not None else {})
        parsed = json.loads(payload) if payload else {}
        if isinstance(parsed, dict) and "ResponseURL" in parsed and "ResourceProperties" in parsed:
            parsed["ResourceProperties"] = _stringify(parsed["ResourceProperties"])
            payload = json.dumps(parsed)
        request_id = str(uuid.uuid4())
        try:
            return self._submit(fn, payload, request_id)
        except Exception as err:  # the runtime itself failed: report it as Lambda would, never hang
            error = {"errorType": "Runtime.LocalRuntimeError", "errorMessage": f"{fn.function_name}: {err}"}
            return json.dumps(error), True, ""

    def _submit(self, fn: LambdaFunction, payload: str, request_id: str) -> tuple[str, bool, str]:
        for attempt in (1, 2):
            pool = self._pool_for(fn)
            queued = time.time()
            try:
                future: Future[InvocationResult] = pool.submit(_run_in_worker, payload, request_id)
                result, errored, pid, start, end, init, cpu_s = future.result()
                self.stats.record(fn.function_name, pid, start, end, cpu_s, queued)
                self.stats.record_init(fn.function_name, init)
                return result, errored, ""
            except BrokenProcessPool:
                # A worker died (killed, out of memory): Lambda would report it and start a fresh one.
                self._discard_pool(fn.function_name)
                if attempt == 2:
                    error = {
                        "errorType": "Runtime.ExitError",
                        "errorMessage": f"{fn.function_name}: worker exited",
                    }
                    return json.dumps(error), True, ""
        raise AssertionError("unreachable")

    def prewarm(self, fn: LambdaFunction, workers: int = 1) -> None:
        """Start ``workers`` execution environments now (like provisioned concurrency), in the background."""
        pool = self._pool_for(fn)
        name = fn.function_name

        def record(done: Future[tuple[int, float, float, float]]) -> None:
            if not done.cancelled() and done.exception() is None:
                self.stats.record_init(name, done.result())

        for _ in range(min(workers, self.concurrency)):
            pool.submit(_warm).add_done_callback(record)

    def cold_start(self, fn: LambdaFunction) -> tuple[float, float]:
        """Start one fresh worker of ``fn`` beside the warm ones and time it, then stop it.

        Returns seconds (request to init start: process spawn and interpreter bootstrap; the init
        phase: handler imports, engine and model load): what a Lambda cold start costs this
        function here, measured on its own so that other workers starting at the same moment
        do not share its cores. Both are taken on this process's clock and the worker's, which
        are the same wall clock.
        """
        spec = self._spec_for(fn)
        requested = time.time()
        with ProcessPoolExecutor(
            max_workers=1,
            mp_context=LambdaWorkerContext(),
            initializer=_init_worker,
            initargs=(spec, str(self.work_dir / "logs" / f"{fn.function_name}.cold.log")),
        ) as pool:
            _, _, init_started, init_ended = pool.submit(_warm).result()
        return init_started - requested, init_ended - init_started

    def worker_pids(self, name: str) -> set[int]:
        """The live worker processes of a function's pool, and any that served it before."""
        with self._lock:
            entry = self._pools.get(name)
        live = set(getattr(entry[1], "_processes", None) or ()) if entry else set()
        return live | self.stats.pids(name)

    def peak_rss_mb(self, name: str) -> dict[int, float]:
        """Peak resident memory (VmHWM) of each live worker of a function, in MiB, by pid (Linux)."""
        peaks: dict[int, float] = {}
        for pid in sorted(self.worker_pids(name)):
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue  # the worker has exited, or this is not Linux
            for line in status.splitlines():
                if line.startswith("VmHWM:"):
                    peaks[pid] = int(line.split()[1]) / 1024
        return peaks

    def _discard_pool(self, name: str) -> None:
        with self._lock:
            entry = self._pools.pop(name, None)
        if entry:
            entry[1].shutdown(wait=False, cancel_futures=True)

    def _pool_for(self, fn: LambdaFunction) -> ProcessPoolExecutor:
        spec = self._spec_for(fn)
        fingerprint = hashlib.sha256(
            json.dumps([str(spec.code_dir), spec.handler, spec.environment], sort_keys=True).encode()
        ).hexdigest()
        with self._lock:
            entry = self._pools.get(fn.function_name)
            if entry and entry[0] == fingerprint:
                return entry[1]
            if entry:  # code or configuration changed: retire the old workers
                entry[1].shutdown(wait=False)
            log_path = self.work_dir / "logs" / f"{fn.function_name}.log"
            pool = ProcessPoolExecutor(
                max_workers=self.concurrency,
                mp_context=LambdaWorkerContext(),
                initializer=_init_worker,
                initargs=(spec, str(log_path)),
            )
            self._pools[fn.function_name] = (fingerprint, pool)
            return pool

    def _spec_for(self, fn: LambdaFunction) -> FunctionSpec:
        image_uri = fn.code.get("ImageUri") if isinstance(fn.code, dict) else None
        if image_uri:
            tag = str(image_uri).rsplit(":", 1)[-1]
            if tag not in self.image_handlers:
                raise RuntimeError(f"{fn.function_name}: no local build context for image {image_uri}")
            code_dir, handler = self.image_handlers[tag]
        else:
            code_dir = self._extract(fn.function_name, fn.code_bytes)
            handler = str(fn.handler)
        environment = {
            **self.base_environment,
            "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
            "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
            "_HANDLER": handler,
            # Lambda sets it (its /var/task); the X-Ray SDK reads it to use Lambda's sampling instead
            # of building a sampling client of its own at init, a cost no Lambda cold start has.
            "LAMBDA_TASK_ROOT": str(code_dir),
            **{k: str(v) for k, v in (fn.environment_vars or {}).items()},
        }
        if self.function_overrides:
            environment.update(self.function_overrides(fn.function_name))
        return FunctionSpec(
            name=fn.function_name,
            code_dir=code_dir,
            handler=handler,
            environment=environment,
            timeout_s=float(fn.timeout),
            memory_mb=int(fn.memory_size),
        )

    def _extract(self, name: str, code: bytes) -> Path:
        digest = hashlib.sha256(code).hexdigest()[:16]
        target = self.work_dir / "functions" / f"{name}-{digest}"
        if not target.exists():
            staging = target.with_name(target.name + f".{os.getpid()}.tmp")
            with zipfile.ZipFile(io.BytesIO(code)) as zf:
                zf.extractall(staging)
            staging.rename(target)
        return target
