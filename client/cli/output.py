"""How the job commands show jobs to a person: a progress bar, a job's card, a table of jobs."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from client import AWAITING_UPLOAD, COMPLETED, FAILED, Client, Transcription
from client.cli.common import PROG, emit_json, info, one_line
from client.cli.terminal import field, file_name


def human_size(size: int | None) -> str:
    if size is None:
        return "?"
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"


def _progress_text(job: Transcription) -> str:
    text = f"{job.progress:.0f}%"
    if job.chunks_total:
        text += f" ({job.chunks_done or 0}/{job.chunks_total} chunks)"
    return text


class ProgressBar:
    """A tqdm bar on stderr fed with jobs: percent from ``progress``, status and chunks after it.

    Without tqdm installed it prints a line whenever the status or the percentage changes.
    """

    def __init__(self, label: str, *, enabled: bool = True) -> None:
        self._enabled = enabled
        self._last: tuple[str, int] | None = None
        self._bar: Any = None
        if not enabled:
            return
        try:
            from tqdm import tqdm
        except ImportError:  # the SDK needs no tqdm; the bar is a nicety
            return
        self._bar = tqdm(
            total=100,
            desc=label,
            unit="%",
            file=sys.stderr,
            bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}{postfix}]",
            dynamic_ncols=True,
        )

    def __call__(self, job: Transcription) -> None:
        if not self._enabled:
            return
        status = job.status.lower().replace("_", " ")
        chunks = f", {job.chunks_done or 0}/{job.chunks_total} chunks" if job.chunks_total else ""
        if self._bar is not None:
            self._bar.n = round(job.progress, 1)
            self._bar.set_postfix_str(f"{status}{chunks}", refresh=False)
            self._bar.refresh()
            return
        now = (job.status, int(job.progress))
        if now != self._last:
            self._last = now
            print(f"{job.job_id}: {status} {_progress_text(job)}", file=sys.stderr)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def job_json(job: Transcription) -> dict[str, Any]:
    """A job as ``--json`` prints it: the API's view, with the whole transcript in it. A transcript
    over the view's 5 MB is only linked there (``links.transcript``); the SDK downloaded it, and it
    goes where a smaller one is, in the same shape, so the output does not depend on its size."""
    data = dict(job.raw)
    transcript = job.transcript
    if transcript is not None and not isinstance(data.get("transcript"), Mapping):
        data["transcript"] = {
            "text": transcript.text,
            "language": transcript.language,
            "duration": transcript.duration,
            "segments": [segment.raw for segment in transcript.segments],
        }
    return data


def wait_and_show(client: Client, job_id: str, label: str, args: argparse.Namespace) -> None:
    """Follow a job to its end with a progress bar, then show the result (text or --json)."""
    with ProgressBar(label, enabled=not (args.quiet or args.no_progress)) as bar:
        job = client.wait(job_id, poll_s=args.poll, timeout_s=args.wait_timeout, on_progress=bar)
    if args.json:
        emit_json(job_json(job))
    else:
        _print_done(job, args)


def _stem(job: Transcription) -> str:
    """The job's file name without its extension, safe to suggest in a shell command."""
    name = job.filename or job.job_id
    return file_name(name.rsplit(".", 1)[0] if "." in name else name, default=job.job_id)


def print_job(job: Transcription) -> None:
    """A job's card: one aligned row per known fact, then the next command to run."""
    rows: list[tuple[str, str]] = [("job", job.job_id), ("status", job.status)]
    if job.status not in (COMPLETED, AWAITING_UPLOAD):
        rows.append(("progress", _progress_text(job)))
    if job.filename or job.size is not None:
        rows.append(("file", f"{job.filename or '?'} ({human_size(job.size)})"))
    if job.language:
        rows.append(("language", job.language))
    if job.duration is not None:
        rows.append(("duration", f"{job.duration:.1f} s"))
    if job.options:
        rows.append(("options", ", ".join(f"{k}={v}" for k, v in sorted(job.options.items()))))
    for name in ("created_at", "started_at", "completed_at", "failed_at"):
        value = getattr(job, name)
        if value:
            rows.append((name.removesuffix("_at"), value))
    if job.duplicate_of:
        rows.append(("duplicate of", job.duplicate_of))
    if job.status == FAILED:
        rows.append(
            ("error", f"{job.reason_code or 'UNKNOWN'}: {job.error_message or 'no message recorded'}")
        )
    if job.warnings:
        rows.append(("warnings", "; ".join(job.warnings)))
    if job.transcript is not None:
        rows.append(("segments", str(len(job.transcript.segments))))
        text = one_line(job.transcript.text)
        rows.append(("text", text if len(text) <= 200 else text[:197] + "..."))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {field(value)}")
    if job.status == FAILED:
        print(f"\nStart it again with: {PROG} retry {job.job_id}")
    elif job.status == COMPLETED:
        print(f"\nDownload it with: {PROG} download {job.job_id} --format srt -o {_stem(job)}.srt")


def print_table(jobs: list[Transcription]) -> None:
    if not jobs:
        print("No jobs.")
        return
    rows: list[tuple[str, ...]] = [("JOB ID", "STATUS", "PROGRESS", "CREATED", "FILE")]
    for job in jobs:
        rows.append(
            tuple(
                field(cell)
                for cell in (
                    job.job_id,
                    job.status,
                    f"{job.progress:.0f}%",
                    job.created_at or "-",
                    job.filename or "-",
                )
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])


def _print_done(job: Transcription, args: argparse.Namespace) -> None:
    if job.transcript is not None:
        print(job.transcript.text.strip())
    elif job.status == COMPLETED:  # not even linked: say where the text is, even with --quiet
        print(
            f"The transcript is not in the job's view: {PROG} download {job.job_id} --format txt",
            file=sys.stderr,
        )
    facts = [f"job {job.job_id}"]
    if job.duration is not None:
        facts.append(f"{job.duration:.1f} s of audio")
    if job.language:
        facts.append(f"language {job.language}")
    if job.transcript is not None:
        facts.append(f"{len(job.transcript.segments)} segments")
    for warning in job.warnings:  # shown even with --quiet: an empty transcript is not silence
        print(f"Warning: {warning}.", file=sys.stderr)
    info(
        f"Done: {', '.join(facts)}. Download: {PROG} download {job.job_id} --format srt -o {_stem(job)}.srt",
        args,
    )
