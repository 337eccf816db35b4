"""The local runtime's CPU accounting, which sizes the functions' memory (bench.compare)."""

from __future__ import annotations

import subprocess
import sys
import time

from localrun.lambda_runtime import InvocationStats
from localrun.worker import _cpu_seconds


def test_cpu_seconds_count_this_process_and_the_children_it_waited_for() -> None:
    before = _cpu_seconds()
    end = time.process_time() + 0.2
    while time.process_time() < end:
        pass
    own = _cpu_seconds() - before
    assert own >= 0.19
    # A subprocess (ffmpeg in the chunk step) counts once it has been waited for.
    before = _cpu_seconds()
    busy = "import time\nend = time.process_time() + 0.3\nwhile time.process_time() < end: pass"
    subprocess.run([sys.executable, "-c", busy], check=True)
    assert _cpu_seconds() - before >= 0.29


def test_stats_keep_cpu_and_wall_seconds_per_invocation() -> None:
    stats = InvocationStats()
    stats.record("fn", pid=1, start=10.0, end=12.5, cpu_s=2.0)
    stats.record("fn", pid=1, start=13.0, end=14.0)
    assert stats.cpu["fn"] == [(2.0, 2.5), (0.0, 1.0)]
    assert stats.runs["fn"] == [(1, 10.0, 12.5), (1, 13.0, 14.0)]
