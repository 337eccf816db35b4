"""``transcriber``: the transcription HTTP API from the command line.

    transcriber submit talk.mp3 --language en --wait      upload, then follow it to the end
    transcriber status JOB_ID                              status, progress, timings, errors
    transcriber list [--status COMPLETED] [--limit 20]     your jobs, newest first
    transcriber wait JOB_ID                                a progress bar until it finishes
    transcriber download JOB_ID --format srt -o talk.srt   the transcript as json, srt, vtt or txt
    transcriber delete JOB_ID                              stop it and delete its audio and outputs
    transcriber retry JOB_ID                               start a FAILED job again
    transcriber keys create|list|revoke ...                API keys (operators; AWS credentials)

The API's address and key come from --base-url and --api-key, or from TRANSCRIBER_API_URL and
TRANSCRIBER_API_KEY (``make serve`` prints both). --json prints the API's JSON instead of text.

Exit codes: 0 done; 1 an error (the API refused, the job failed, the network, ...); 2 a usage
or validation error (bad arguments, missing configuration, a request the API found invalid).
Errors are one line on stderr; --debug shows the traceback of an unexpected one.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from client.keys import register_keys_command
from client.sdk import (
    COMPLETED,
    DOWNLOAD_FORMATS,
    FAILED,
    Client,
    Page,
    TranscriberError,
    Transcription,
    TranscriptionFailedError,
    ValidationError,
    WaitTimeoutError,
)

PROG = "transcriber"
ENV_URL = "TRANSCRIBER_API_URL"
ENV_KEY = "TRANSCRIBER_API_KEY"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
STATUSES = ("AWAITING_UPLOAD", "PENDING", "PROCESSING", COMPLETED, FAILED)

#: What every subcommand's ``handler`` is: it gets the parsed arguments, returns the exit code.
Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem with how the command was called: exit code 2."""


# --------------------------------------------------------------------------------------------
# Helpers a subcommand uses (the ``keys`` command, added by the admin module, may use them too)
# --------------------------------------------------------------------------------------------


def make_client(args: argparse.Namespace) -> Client:
    """The SDK client from --base-url/--api-key, or the environment; UsageError when missing."""
    base_url = args.base_url or os.environ.get(ENV_URL, "")
    api_key = args.api_key or os.environ.get(ENV_KEY, "")
    if not base_url.strip():
        raise UsageError(f"no API address: pass --base-url URL or set {ENV_URL} (make serve prints it)")
    if not api_key.strip():
        raise UsageError(
            f"no API key: pass --api-key KEY or set {ENV_KEY} (make serve prints a development key)"
        )
    try:
        return Client(base_url, api_key, timeout=args.timeout)
    except TranscriberError as err:
        raise UsageError(str(err)) from err


def emit_json(data: Any, out: TextIO | None = None) -> None:
    """Machine-readable output: one JSON document on stdout."""
    print(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=False), file=out or sys.stdout)


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _error(message: str) -> None:
    print(f"{PROG}: error: {_one_line(message)}", file=sys.stderr)


def _info(message: str, args: argparse.Namespace) -> None:
    """Human notes go to stderr, so stdout stays the result (the transcript, the JSON, ...)."""
    if not args.quiet:
        print(message, file=sys.stderr)


def _size(size: int | None) -> str:
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


def _wait_with_bar(client: Client, job_id: str, label: str, args: argparse.Namespace) -> Transcription:
    with ProgressBar(label, enabled=not (args.quiet or args.no_progress)) as bar:
        return client.wait(job_id, poll_s=args.poll, timeout_s=args.wait_timeout, on_progress=bar)


# --------------------------------------------------------------------------------------------
# Human output
# --------------------------------------------------------------------------------------------


def _print_job(job: Transcription) -> None:
    rows: list[tuple[str, str]] = [("job", job.job_id), ("status", job.status)]
    if job.status not in (COMPLETED, "AWAITING_UPLOAD"):
        rows.append(("progress", _progress_text(job)))
    if job.filename or job.size is not None:
        rows.append(("file", f"{job.filename or '?'} ({_size(job.size)})"))
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
    if job.transcript is not None:
        rows.append(("segments", str(len(job.transcript.segments))))
        text = _one_line(job.transcript.text)
        rows.append(("text", text if len(text) <= 200 else text[:197] + "..."))
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name:<{width}}  {value}")
    if job.status == FAILED:
        print(f"\nStart it again with: {PROG} retry {job.job_id}")
    elif job.status == COMPLETED:
        print(f"\nDownload it with: {PROG} download {job.job_id} --format srt -o {_stem(job)}.srt")


def _stem(job: Transcription) -> str:
    name = job.filename or job.job_id
    return name.rsplit(".", 1)[0] if "." in name else name


def _print_table(jobs: list[Transcription]) -> None:
    if not jobs:
        print("No jobs.")
        return
    rows = [("JOB ID", "STATUS", "PROGRESS", "CREATED", "FILE")]
    for job in jobs:
        rows.append(
            (job.job_id, job.status, f"{job.progress:.0f}%", job.created_at or "-", job.filename or "-")
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:-1])) + "  " + row[-1])


def _print_done(job: Transcription, args: argparse.Namespace) -> None:
    if job.transcript is not None:
        print(job.transcript.text.strip())
    facts = [f"job {job.job_id}"]
    if job.duration is not None:
        facts.append(f"{job.duration:.1f} s of audio")
    if job.language:
        facts.append(f"language {job.language}")
    if job.transcript is not None:
        facts.append(f"{len(job.transcript.segments)} segments")
    _info(
        f"Done: {', '.join(facts)}. Download: {PROG} download {job.job_id} --format srt -o {_stem(job)}.srt",
        args,
    )


# --------------------------------------------------------------------------------------------
# Subcommands
# --------------------------------------------------------------------------------------------


def _job_options(args: argparse.Namespace) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if args.language:
        options["language"] = args.language
    if not args.word_timestamps:
        options["word_timestamps"] = False
    if args.beam_size is not None:
        options["beam_size"] = args.beam_size
    if args.max_chunk_seconds is not None:
        options["max_chunk_seconds"] = args.max_chunk_seconds
    if not args.dedupe:
        options["dedupe"] = False
    if args.callback_url:
        options["callback_url"] = args.callback_url
    return options


def cmd_submit(args: argparse.Namespace) -> int:
    path: Path = args.file
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise UsageError(f"{path} {what}; give the path of an audio file (WAV, MP3, M4A, FLAC, OGG, ...)")
    client = make_client(args)
    submission = client.submit(path, options=_job_options(args), inline=args.inline)
    _info(f"Uploaded {path.name} ({_size(path.stat().st_size)}) as job {submission.job_id}", args)
    if not args.wait:
        job = client.get(submission.job_id)
        if args.json:
            emit_json(job.raw)
        else:
            print(job.job_id)
            _info(f"Status {job.status}. Follow it with: {PROG} wait {job.job_id}", args)
        return EXIT_OK
    job = _wait_with_bar(client, submission.job_id, f"Transcribing {path.name}", args)
    if args.json:
        emit_json(job.raw)
    else:
        _print_done(job, args)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    job = make_client(args).get(args.job_id)
    if args.json:
        emit_json(job.raw)
    else:
        _print_job(job)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    client = make_client(args)
    if args.all:
        jobs = list(client.iter_all(args.status, page_size=args.limit))
        if args.json:
            emit_json({"items": [job.raw for job in jobs], "next_cursor": None})
        else:
            _print_table(jobs)
        return EXIT_OK
    page: Page = client.list(status=args.status, limit=args.limit, cursor=args.cursor)
    if args.json:
        emit_json(page.raw)
        return EXIT_OK
    _print_table(list(page.items))
    if page.next_cursor:
        _info(f"More: {PROG} list --cursor {page.next_cursor}  (or --all)", args)
    return EXIT_OK


def cmd_wait(args: argparse.Namespace) -> int:
    client = make_client(args)
    job = _wait_with_bar(client, args.job_id, f"Job {args.job_id}", args)
    if args.json:
        emit_json(job.raw)
    else:
        _print_done(job, args)
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    text = make_client(args).download(args.job_id, format=args.format)
    if args.output is None or str(args.output) == "-":
        sys.stdout.write(text if text.endswith("\n") or not text else text + "\n")
        return EXIT_OK
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise TranscriberError(f"cannot write {args.output}: {err.strerror or err}") from err
    size = len(text.encode("utf-8"))
    if args.json:
        emit_json({"job_id": args.job_id, "format": args.format, "path": str(args.output), "bytes": size})
    else:
        _info(f"Wrote {args.output} ({_size(size)})", args)
    return EXIT_OK


def cmd_delete(args: argparse.Namespace) -> int:
    make_client(args).delete(args.job_id)
    if args.json:
        emit_json({"job_id": args.job_id, "deleted": True})
    else:
        print(f"Deleted job {args.job_id}.")
    return EXIT_OK


def cmd_retry(args: argparse.Namespace) -> int:
    client = make_client(args)
    job = client.retry(args.job_id)
    if args.wait:
        job = _wait_with_bar(client, job.job_id, f"Retrying {args.job_id}", args)
        if args.json:
            emit_json(job.raw)
        else:
            _print_done(job, args)
        return EXIT_OK
    if args.json:
        emit_json(job.raw)
    else:
        print(f"Job {job.job_id} restarted: {job.status}. Follow it with: {PROG} wait {job.job_id}")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# Parser
# --------------------------------------------------------------------------------------------


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def _add_global_options(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
    """The options every command takes, before or after the command's name.

    On a subcommand their defaults are SUPPRESS, so they only override what was given before it.
    """

    def default(value: Any) -> Any:
        return argparse.SUPPRESS if on_subcommand else value

    group = parser.add_argument_group("connection and output")
    group.add_argument(
        "--base-url", metavar="URL", default=default(None), help=f"the API's address (default: ${ENV_URL})"
    )
    group.add_argument(
        "--api-key", metavar="KEY", default=default(None), help=f"API key (default: ${ENV_KEY})"
    )
    group.add_argument(
        "--timeout",
        type=_positive_float,
        metavar="S",
        default=default(30.0),
        help="seconds to wait for each HTTP answer (default: 30)",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print the API's JSON instead of text"
    )
    group.add_argument(
        "--no-progress", action="store_true", default=default(False), help="no progress bar while waiting"
    )
    group.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=default(False),
        help="no progress bar, no notes on stderr",
    )
    group.add_argument(
        "--debug",
        action="store_true",
        default=default(False),
        help="show the traceback of an unexpected error",
    )


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll", type=_positive_float, default=1.0, metavar="S", help="seconds between polls (default: 1)"
    )
    parser.add_argument(
        "--wait-timeout",
        type=_positive_float,
        default=3600.0,
        metavar="S",
        help="give up waiting after this many seconds; the job keeps running (default: 3600)",
    )


def register_job_commands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """submit, status, list, wait, download, delete and retry: the jobs of the API key's tenant."""

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        parser.set_defaults(handler=handler)
        return parser

    submit = add("submit", cmd_submit, "upload an audio file for transcription")
    submit.add_argument("file", type=Path, metavar="FILE", help="audio file (WAV, MP3, M4A, FLAC, OGG, ...)")
    options = submit.add_argument_group("per-job options (defaults: the server's)")
    options.add_argument("--language", metavar="CODE", help="ISO 639-1 code such as en or de, or auto")
    options.add_argument(
        "--no-word-timestamps",
        dest="word_timestamps",
        action="store_false",
        help="no word-level times (faster)",
    )
    options.add_argument("--beam-size", type=int, metavar="N", help="decoder beam, 1-10 (1 is fastest)")
    options.add_argument("--max-chunk-seconds", type=int, metavar="S", help="longest chunk, 20-600 seconds")
    options.add_argument(
        "--no-dedupe",
        dest="dedupe",
        action="store_false",
        help="transcribe even if the same audio was transcribed recently with the same options",
    )
    options.add_argument("--callback-url", metavar="URL", help="POST the result to this webhook when done")
    submit.add_argument(
        "--inline", action="store_true", help="send the file inside the request (up to 4 MiB)"
    )
    submit.add_argument("--wait", action="store_true", help="wait for the result with a progress bar")
    _add_wait_options(submit)

    status = add("status", cmd_status, "show a job: status, progress, timings, errors")
    status.add_argument("job_id", metavar="ID")

    listing = add("list", cmd_list, "list your jobs, newest first")
    listing.add_argument("--status", type=str.upper, choices=STATUSES, help="only jobs in this state")
    listing.add_argument("--limit", type=int, metavar="N", help="jobs per page")
    listing.add_argument("--cursor", metavar="CURSOR", help="the page after this cursor (printed by list)")
    listing.add_argument("--all", action="store_true", help="every page")

    wait = add("wait", cmd_wait, "wait for a job to finish, with a progress bar")
    wait.add_argument("job_id", metavar="ID")
    _add_wait_options(wait)

    download = add("download", cmd_download, "download a completed job's transcript")
    download.add_argument("job_id", metavar="ID")
    download.add_argument(
        "--format", "-f", type=str.lower, choices=DOWNLOAD_FORMATS, default="srt", help="default: srt"
    )
    download.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default: stdout)")

    delete = add("delete", cmd_delete, "stop a job and delete its audio and outputs")
    delete.add_argument("job_id", metavar="ID")

    retry = add("retry", cmd_retry, "start a FAILED job again (finished chunks are reused)")
    retry.add_argument("job_id", metavar="ID")
    retry.add_argument("--wait", action="store_true", help="wait for the result with a progress bar")
    _add_wait_options(retry)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    _add_global_options(parser, on_subcommand=False)
    common = argparse.ArgumentParser(add_help=False)
    _add_global_options(common, on_subcommand=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_job_commands(subparsers, common)
    # Operators' command: it writes the tenants table with AWS credentials, not through the API.
    register_keys_command(subparsers, common)
    return parser


# --------------------------------------------------------------------------------------------
# Entry point
# --------------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_USAGE)
    handler: Handler = args.handler
    try:
        return handler(args)
    except UsageError as err:
        _error(str(err))
        return EXIT_USAGE
    except ValidationError as err:
        _error(str(err))
        return EXIT_USAGE
    except TranscriptionFailedError as err:
        if args.json:
            emit_json(err.transcription.raw)
        _error(str(err))
        return EXIT_ERROR
    except WaitTimeoutError as err:
        if args.json:
            emit_json(err.transcription.raw)
        _error(str(err))
        return EXIT_ERROR
    except TranscriberError as err:
        _error(str(err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        _error("interrupted; a submitted job keeps running on the server")
        return 130
    except Exception as err:
        if args.debug:
            raise
        _error(f"unexpected {type(err).__name__}: {err}. Run again with --debug for the traceback")
        return EXIT_ERROR


if __name__ == "__main__":
    sys.exit(main())
