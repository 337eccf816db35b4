"""bench.compare's accounting of the workers' decoding intervals (what its breakdown prints)."""

from __future__ import annotations

from bench.compare import _short_handed


def test_short_handed_time_and_the_tail_after_a_worker_runs_out() -> None:
    # worker A decodes 0-10, 10-12, 12-13; worker B 0-9, 9-11: B runs out at 11
    a, b = [(0.0, 10.0), (10.0, 12.0), (12.0, 13.0)], [(0.0, 9.0), (9.0, 11.0)]
    assert _short_handed(a + b, 2) == (2.0, 2.0)


def test_a_late_start_is_short_handed_but_not_tail() -> None:
    assert _short_handed([(0.0, 2.0), (1.0, 3.0)], 2) == (2.0, 1.0)
    assert _short_handed([(0.0, 2.0), (0.0, 2.0)], 2) == (0.0, 0.0)
    assert _short_handed([(0.0, 2.0)], 1) == (0.0, 0.0)  # one worker is never short-handed
