"""bench/cost.py: the billing rules it models (Express children, Distributed Map, vCPU share)."""

from __future__ import annotations

import pytest

from bench import cost


def _measured(**changes: object) -> cost.Measured:
    base: dict[str, object] = {
        "audio_s": 600.0,
        "chunks": 20,
        "functions": {"ingest": (1, 0.2), "chunk": (1, 2.0), "transcribe": (21, 40.0), "aggregate": (1, 0.5)},
        "memory_mb": {"ingest": 512, "chunk": 1769, "transcribe": 1769, "aggregate": 1024},
        "cold_start_s": 0.8,
        "map_concurrency": 4,
    }
    return cost.Measured(**{**base, **changes})  # type: ignore[arg-type]


def test_express_child_bills_requests_and_duration_in_100_ms_and_64_mb_steps() -> None:
    one = cost.express_cost(children=1, child_seconds=2.01)
    assert one == pytest.approx(1e-6 + 2.1 * (64 / 1024) * 0.06 / 3600)
    assert cost.express_cost(children=10, child_seconds=2.01) == pytest.approx(10 * one)


def test_parent_transitions_do_not_grow_with_chunks_and_children_follow_the_batch() -> None:
    small, large = cost.requests(10, 1), cost.requests(10_000, 4)
    assert small.transitions == large.transitions == cost.PARENT_TRANSITIONS
    assert (small.children, large.children) == (10, 2500)
    # Per chunk one PUT (its result); per job the WAV's upload, the manifest and the four outputs.
    # An hour of WAV is 115 MB: a multipart upload of 14 parts of 8 MB, plus create and complete.
    assert large.s3_puts == 10_000 + 16 + 1 + 4
    assert cost.requests(10, 1, audio_s=60).s3_puts == 10 + 1 + 1 + 4  # 1.9 MB: one PUT
    # Per chunk three GETs or HEADs: its checkpoint, its bytes (one ranged GET), aggregate's read.
    assert large.s3_gets - small.s3_gets == 3 * (10_000 - 10)


def test_cpu_bound_work_slows_in_proportion_below_one_vcpu() -> None:
    m = _measured(cpu_share={"ingest": 0.5, "transcribe": 1.0})
    assert cost.billed_seconds(m, "transcribe", 10.0) == pytest.approx(10.0)  # 1769 MB = 1 vCPU
    # ingest at 512 MB has 512/1769 of a vCPU: its busy half takes 1769/512 times as long.
    assert cost.billed_seconds(m, "ingest", 10.0) == pytest.approx(5.0 + 5.0 * 1769 / 512)
    assert cost.billed_seconds(_measured(memory_mb={"chunk": 3008}), "chunk", 10.0) == pytest.approx(10.0)


def test_report_states_prices_memory_and_wall_times() -> None:
    lines = cost.report(_measured())
    text = "\n".join(lines)
    assert cost.PRICE_DATE in text and "transcribe 1769 MB" in text and "Express child 64 MB" in text
    assert any(line.startswith("12 h of audio at concurrency 1000") for line in lines)
    b = cost.breakdown(_measured())
    assert b.total("arm64") < b.total("x86_64")
    assert f"${b.total('arm64'):.4f}" in text


def test_more_concurrency_never_makes_the_modelled_wall_time_longer() -> None:
    m = _measured()
    walls = [cost.wall_time_s(m, 12, c)[0] for c in (10, 100, 1000)]
    assert walls == sorted(walls, reverse=True)
