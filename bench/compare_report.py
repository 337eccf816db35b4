"""What bench.compare prints: one length's comparison and breakdown, the functions' CPU use and
memory, and the summary set against the figures measured before the cost work (issue 21).

Kept apart from the measuring (bench/compare.py) so that each stays readable; nothing here
measures or asserts anything.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from typing import Any

from bench import long_audio
from bench.scoring import start_errors, wer
from transcriber.engines.faster_whisper_engine import BATCH_SIZE


@dataclass(frozen=True)
class Figures:
    """The headline figures of one run (or of the baseline)."""

    pipeline_s: float
    direct_s: float
    batched_s: float
    outside_asr_pct: float
    cold_start_s: float
    cost_arm64: float
    #: modelled wall minutes: 1 hour of audio at Map concurrency 100, 12 hours at 1,000
    wall_1h_c100_min: float | None = None
    wall_12h_c1000_min: float | None = None

    @property
    def direct_ratio(self) -> float:
        return self.pipeline_s / self.direct_s

    @property
    def batched_ratio(self) -> float:
        return self.pipeline_s / self.batched_s


#: Measured 2026-12-04 with ``bench.compare --minutes 10 --batched-direct`` before this work
#: (issue 21): inline Map of Standard transitions, transcribe at 3008 MB.
BASELINE = Figures(
    pipeline_s=25.4, direct_s=48.1, batched_s=28.3, outside_asr_pct=5.2, cold_start_s=0.95, cost_arm64=0.018
)
BASELINE_LABEL = "2026-12-04 (issue 21)"


def _row(name: str, before: str, now: str, goal: str, met: bool | None) -> str:
    verdict = "" if met is None else ("met" if met else "NOT met")
    return f"  {name:<38} {before:>12} {now:>12}   {goal:<10} {verdict}"


def summary(now: Figures, trials: int) -> list[str]:
    """The figures against the baseline and the issue's goals (medians over the trials)."""
    lines = [
        f"\n== summary: median of {trials} alternating trial(s), against the baseline",
        _row("figure", BASELINE_LABEL[:10], "now", "goal", None),
        _row(
            "ratio pipeline / direct",
            f"{BASELINE.direct_ratio:.2f}x",
            f"{now.direct_ratio:.2f}x",
            "<= 0.5x",
            now.direct_ratio <= 0.5,
        ),
        _row(
            "ratio pipeline / batched",
            f"{BASELINE.batched_ratio:.2f}x",
            f"{now.batched_ratio:.2f}x",
            "<= 0.8x",
            now.batched_ratio <= 0.8,
        ),
        _row(
            "time outside ASR",
            f"{BASELINE.outside_asr_pct:.1f}%",
            f"{now.outside_asr_pct:.1f}%",
            "<= 3%",
            now.outside_asr_pct <= 3,
        ),
        _row(
            "cold start, transcribe",
            f"{BASELINE.cold_start_s:.2f} s",
            f"{now.cold_start_s:.2f} s",
            "<= 0.8 s",
            now.cold_start_s <= 0.8,
        ),
        _row(
            "cost per audio hour, arm64",
            f"${BASELINE.cost_arm64:.4f}",
            f"${now.cost_arm64:.4f}",
            "<= $0.01",
            now.cost_arm64 <= 0.01,
        ),
    ]
    for label, minutes in (
        ("wall, 1 h of audio at 100", now.wall_1h_c100_min),
        ("wall, 12 h of audio at 1,000", now.wall_12h_c1000_min),
    ):
        if minutes is not None:
            lines.append(_row(label + " (model)", "-", f"{minutes:.1f} min", "", None))
    lines.append(
        f"  (baseline wall times: pipeline {BASELINE.pipeline_s} s, direct {BASELINE.direct_s} s, "
        f"batched {BASELINE.batched_s} s; now {now.pipeline_s:.1f} s, {now.direct_s:.1f} s, "
        f"{now.batched_s:.1f} s)"
    )
    return lines


def cpu_and_memory(
    cpu: dict[str, list[tuple[float, float]]], peaks: dict[str, list[float]], memory_mb: dict[str, int]
) -> list[str]:
    """Per function: CPU seconds per wall second while it ran (what its memory should buy), the
    workers' peak RSS and the configured memory."""
    lines = ["\n== CPU use and memory per function (all invocations of this run)"]
    for role in ("ingest", "chunk", "transcribe", "aggregate"):
        runs = cpu.get(role, [])
        cpu_s, wall_s = sum(c for c, _ in runs), sum(w for _, w in runs)
        share = f"{cpu_s / wall_s:.2f} CPU s per wall s" if wall_s else "no runs"
        peak = max(peaks.get(role) or [0.0])
        lines.append(
            f"  {role:<11} {share} over {len(runs)} invocations ({wall_s:.1f} s); "
            f"peak RSS {peak:.0f} MiB; configured {memory_mb.get(role, 0)} MB"
        )
    return lines


def print_run(
    minutes: float,
    item: long_audio.LongInput,
    direct: Any | None,
    r: dict[str, Any],
    batched: Any | None = None,
) -> str:
    """Print one length's comparison and breakdown; returns its scaling row."""
    w, inv, steps = r["wall"], r["invocation"], r["steps"]
    print(f"\n== {minutes:g} min: {item.duration_s:.1f} s of audio, {item.clips} clips, {r['chunks']} chunks")
    ratio = float("nan")
    if direct:
        ratio = w / direct.wall_s
        print(
            f"faster-whisper direct  {direct.wall_s:7.1f} s   WER {wer(item.reference, direct.text):.3f}"
            f"   (model load {direct.load_s:.2f} s, peak RSS {direct.peak_mb:.0f} MiB)"
        )
    print(
        f"pipeline               {w:7.1f} s   WER {wer(item.reference, r['text']):.3f}   (upload to outputs)"
    )
    print(f"ratio pipeline/direct  {ratio:7.2f}")
    if batched:
        print(
            f"faster-whisper batched {batched.wall_s:7.1f} s   WER {wer(item.reference, batched.text):.3f}"
            f"   (BatchedInferencePipeline, batch {BATCH_SIZE}, whole file; ratio pipeline/batched "
            f"{w / batched.wall_s:.2f})"
        )
    errors = start_errors(item.starts, r["segments"])
    if errors:
        tenth = max(1, len(errors) // 10)
        print(
            f"utterance start error  median {statistics.median(errors):.3f} s over {len(errors)} utterances; "
            f"first tenth {statistics.median(errors[:tenth]):.3f} s, last tenth "
            f"{statistics.median(errors[-tenth:]):.3f} s, last {errors[-1]:.3f} s"
        )
    non_model = w - r["model_covered"]
    chunk_io = inv.get("chunk", 0) - steps["conversion"] - steps["planning"] - steps["byte ranges"]
    print(
        f"time outside ASR       {non_model:7.2f} s = {100 * non_model / w:.1f}% of wall "
        "(Whisper not decoding; it detects the language inside each chunk's decode)"
    )
    first, last = r["model_span"]
    before, after = max(0.0, first - (r["t1"] - w)), max(0.0, r["t1"] - last)
    print(
        f"  when                 {before:7.2f} s before Whisper's first pass, {after:.2f} s after its last, "
        f"{max(0.0, non_model - before - after):.2f} s between"
    )
    print(f"  conversion           {steps['conversion']:7.2f} s   (ffmpeg; none for a 16 kHz mono WAV)")
    print(f"  chunk planning       {steps['planning']:7.2f} s   (+ byte ranges {steps['byte ranges']:.2f} s)")
    print(f"  chunk step S3/DDB    {chunk_io:7.2f} s   (invocation {inv.get('chunk', 0):.2f} s less those)")
    print(
        f"  ingest               {inv.get('ingest', 0):7.2f} s   (S3 notification, sniff, hash, job record)"
    )
    print(
        f"  transcribe non-ASR   {inv.get('transcribe', 0) - r['asr_sum']:7.2f} s   summed over "
        f"{r['counts'].get('transcribe', 0)} invocations (S3, checkpoint, DDB, pause scan "
        f"{steps['pause scan']:.2f} s); partly overlaps other workers' ASR"
    )
    print(f"  merge + outputs      {inv.get('aggregate', 0):7.2f} s   (aggregate invocation)")
    print(f"  state machine gaps   {r['no_lambda']:7.2f} s   (no function running: Step Functions, polling)")
    print(f"  ASR summed           {r['asr_sum']:7.1f} s   on {r['peak_parallel']} parallel workers")
    short, tail = r.get("short_handed", (0.0, 0.0))
    print(
        f"  ASR short-handed     {short:7.2f} s   (fewer than {r['peak_parallel']} workers decoding; "
        f"{tail:.2f} s of it at the end, the last chunk(s) alone)"
    )
    return (
        f"{minutes:>6g} min {item.duration_s:8.1f} s  direct "
        f"{direct.wall_s if direct else float('nan'):7.1f} s  pipeline {w:7.1f} s  ratio {ratio:5.2f}  "
        f"pipeline s per audio min {60 * w / item.duration_s:5.2f}"
    )
