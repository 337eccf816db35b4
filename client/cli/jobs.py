"""The tenant's commands: submit, status, list, wait, download, delete and retry, through the SDK."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from client import DOWNLOAD_FORMATS, STATUSES, Client, Page, TranscriberError
from client.cli.common import (
    EXIT_OK,
    PROG,
    Handler,
    UsageError,
    emit_json,
    info,
    make_client,
    positive_float,
)
from client.cli.output import human_size, job_json, print_job, print_table, wait_and_show
from client.cli.terminal import write_document

#: Empty filtered pages ``list`` reads past (the API may answer one with a cursor) before it stops.
LIST_MAX_EMPTY_PAGES = 10

#: The per-job options the submit command sends, by their API names (the flags spell them with
#: dashes). A flag left out stays None and is not sent: the server's default applies.
JOB_OPTIONS = (
    "language", "word_timestamps", "beam_size", "max_chunk_seconds", "dedupe", "callback_url",
    "task", "prompt", "channel_identification", "speaker_labels", "min_speakers", "max_speakers",
    "vocabulary_name", "redact_pii", "pii_entity_types", "keep_unredacted", "replacements",
    "caption_max_line_chars", "caption_max_lines", "caption_max_duration_s",
)  # fmt: skip


def comma_list(text: str) -> list[str]:
    """argparse type: ``email,phone_number`` as a list of names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give one or more names separated by commas")
    return names


def replacement(text: str) -> dict[str, str]:
    """argparse type: ``FROM=TO``, a custom spelling as the API takes it."""
    source, equals, target = text.partition("=")
    if not equals or not source.strip() or not target.strip():
        raise argparse.ArgumentTypeError(f"{text!r} is not FROM=TO (for example: tom=Thom)")
    return {"from": source.strip(), "to": target.strip()}


def cmd_submit(args: argparse.Namespace) -> int:
    options: dict[str, Any] = {name: getattr(args, name) for name in JOB_OPTIONS}
    if str(args.file).startswith(("https://", "http://")):  # fetched by the service (source_url)
        client = make_client(args)
        submission = client.submit_url(str(args.file), options=options)
        info(f"Submitted {args.file} as job {submission.job_id}", args)
        return _after_submit(client, submission.job_id, str(args.file), args)
    path = Path(args.file)
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is not a file"
        raise UsageError(f"{path} {what}; give the path of an audio file (WAV, MP3, M4A, FLAC, OGG, ...)")
    client = make_client(args)
    submission = client.submit(path, options=options, inline=args.inline)
    info(f"Uploaded {path.name} ({human_size(path.stat().st_size)}) as job {submission.job_id}", args)
    return _after_submit(client, submission.job_id, path.name, args)


def _after_submit(client: Any, job_id: str, name: str, args: argparse.Namespace) -> int:
    if args.wait:
        wait_and_show(client, job_id, f"Transcribing {name}", args)
        return EXIT_OK
    job = client.get(job_id)
    if args.json:
        emit_json(job_json(job))
    else:
        print(job.job_id)
        info(f"Status {job.status}. Follow it with: {PROG} wait {job.job_id}", args)
    return EXIT_OK


def cmd_status(args: argparse.Namespace) -> int:
    job = make_client(args).get(args.job_id)
    if args.json:
        emit_json(job_json(job))
    else:
        print_job(job)
    return EXIT_OK


def cmd_list(args: argparse.Namespace) -> int:
    client = make_client(args)
    if args.all:
        jobs = list(client.iter_all(args.status, page_size=args.limit))
        if args.json:
            emit_json({"items": [job.raw for job in jobs], "next_cursor": None})
        else:
            print_table(jobs)
        return EXIT_OK
    page = _first_page_with_jobs(client, args.status, args.limit, args.cursor)
    if args.json:
        emit_json(page.raw)
        return EXIT_OK
    more = _list_command(args, page.next_cursor) if page.next_cursor else ""
    if not page.items and more:  # said on stdout: "No jobs." would be wrong, and --quiet hides notes
        print(f"No jobs in {LIST_MAX_EMPTY_PAGES} pages read; more may follow: {more}")
        return EXIT_OK
    print_table(list(page.items))
    if more:
        info(f"More: {more}  (or --all)", args)
    return EXIT_OK


def _first_page_with_jobs(client: Client, status: str | None, limit: int | None, cursor: str | None) -> Page:
    """The first page that has jobs, or the last one read: the API filters by status after
    reading, so a page may be empty while its cursor leads to matching jobs."""
    page = client.list(status=status, limit=limit, cursor=cursor)
    for _ in range(LIST_MAX_EMPTY_PAGES - 1):
        if page.items or not page.next_cursor:
            break
        page = client.list(status=status, limit=limit, cursor=page.next_cursor)
    return page


def _list_command(args: argparse.Namespace, cursor: str) -> str:
    """The command for the page after ``cursor``, with the same filter and page size."""
    status = f" --status {args.status}" if args.status else ""
    limit = f" --limit {args.limit}" if args.limit else ""
    return f"{PROG} list{status}{limit} --cursor {cursor}"


def cmd_wait(args: argparse.Namespace) -> int:
    wait_and_show(make_client(args), args.job_id, f"Job {args.job_id}", args)
    return EXIT_OK


def cmd_download(args: argparse.Namespace) -> int:
    fmt = args.format or ("json" if args.unredacted else "srt")
    text = make_client(args).download(args.job_id, format=fmt, unredacted=args.unredacted)
    if args.output is None or str(args.output) == "-":
        write_document(text)
        return EXIT_OK
    try:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
    except OSError as err:
        raise TranscriberError(f"cannot write {args.output}: {err.strerror or err}") from err
    size = len(text.encode("utf-8"))
    if args.json:
        emit_json({"job_id": args.job_id, "format": fmt, "path": str(args.output), "bytes": size})
    else:
        info(f"Wrote {args.output} ({human_size(size)})", args)
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
        wait_and_show(client, job.job_id, f"Retrying {args.job_id}", args)
    elif args.json:
        emit_json(job_json(job))
    else:
        print(f"Job {job.job_id} restarted: {job.status}. Follow it with: {PROG} wait {job.job_id}")
    return EXIT_OK


def _add_wait_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--poll", type=positive_float, default=1.0, metavar="S", help="seconds between polls (default: 1)"
    )
    parser.add_argument(
        "--wait-timeout",
        type=positive_float,
        default=3600.0,
        metavar="S",
        help="give up waiting after this many seconds; the job keeps running (default: 3600)",
    )


def _add_job_options(parser: argparse.ArgumentParser) -> None:
    """One flag per name in JOB_OPTIONS, each None unless given."""
    options = parser.add_argument_group("per-job options (defaults: the server's)")
    options.add_argument("--language", metavar="CODE", help="ISO 639-1 code such as en or de, or auto")
    options.add_argument(
        "--no-word-timestamps",
        dest="word_timestamps",
        action="store_const",
        const=False,
        help="no word-level times (faster)",
    )
    options.add_argument("--beam-size", type=int, metavar="N", help="decoder beam, 1-10 (1 is fastest)")
    options.add_argument("--max-chunk-seconds", type=float, metavar="S", help="longest chunk, 10-600 seconds")
    options.add_argument(
        "--no-dedupe",
        dest="dedupe",
        action="store_const",
        const=False,
        help="transcribe even if the same audio was transcribed recently with the same options",
    )
    options.add_argument("--callback-url", metavar="URL", help="POST the result to this webhook when done")
    options.add_argument(
        "--channel-identification",
        action="store_const",
        const=True,
        help="transcribe each channel on its own, labelled ch_0, ch_1 (call recordings)",
    )
    options.add_argument("--task", choices=("transcribe", "translate"), help="translate: write it in English")
    options.add_argument("--prompt", metavar="TEXT", help="text that primes every chunk (names, spelling)")
    options.add_argument(
        "--speaker-labels", action="store_const", const=True, help="label who speaks (spk_0, spk_1, ...)"
    )
    options.add_argument(
        "--min-speakers", type=int, metavar="N", help="fewest speakers, 1-30 (implies labels)"
    )
    options.add_argument("--max-speakers", type=int, metavar="N", help="most speakers, 1-30 (implies labels)")
    text = parser.add_argument_group("transcript options (defaults: the server's)")
    text.add_argument(
        "--vocabulary-name", metavar="NAME", help="a vocabulary of yours (PUT /v1/vocabularies/NAME)"
    )
    text.add_argument(
        "--redact-pii",
        action="store_const",
        const=True,
        help="replace personal data with [EMAIL], [PHONE], ...",
    )
    text.add_argument(
        "--pii-entity-types",
        type=comma_list,
        metavar="TYPES",
        help="with --redact-pii: what to redact, comma-separated (default: all)",
    )
    text.add_argument(
        "--keep-unredacted",
        action="store_const",
        const=True,
        help="with --redact-pii: also keep the unredacted JSON",
    )
    text.add_argument(
        "--replacements",
        type=replacement,
        action="append",
        metavar="FROM=TO",
        help="a custom spelling, whole words (repeat the flag for more)",
    )
    text.add_argument(
        "--caption-max-line-chars", type=int, metavar="N", help="SRT/VTT characters a line, 10-80"
    )
    text.add_argument("--caption-max-lines", type=int, metavar="N", help="SRT/VTT lines a cue, 1-4")
    text.add_argument("--caption-max-duration-s", type=float, metavar="S", help="SRT/VTT seconds a cue, 1-30")


def register_job_commands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    """submit, status, list, wait, download, delete and retry: the jobs of the API key's tenant."""

    def add(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = subparsers.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        parser.set_defaults(handler=handler)
        return parser

    def add_for_one_job(name: str, handler: Handler, help_text: str) -> argparse.ArgumentParser:
        parser = add(name, handler, help_text)
        parser.add_argument("job_id", metavar="ID")
        return parser

    submit = add("submit", cmd_submit, "upload an audio file for transcription")
    submit.add_argument(
        "file",
        metavar="FILE",
        help="audio file (WAV, MP3, M4A, FLAC, OGG, ...), or an https URL the service fetches",
    )
    _add_job_options(submit)
    submit.add_argument(
        "--inline", action="store_true", help="send the file inside the request (up to 4 MiB)"
    )
    submit.add_argument("--wait", action="store_true", help="wait for the result with a progress bar")
    _add_wait_options(submit)

    add_for_one_job("status", cmd_status, "show a job: status, progress, timings, errors")

    listing = add("list", cmd_list, "list your jobs, newest first")
    listing.add_argument("--status", type=str.upper, choices=STATUSES, help="only jobs in this state")
    listing.add_argument("--limit", type=int, metavar="N", help="jobs per page")
    listing.add_argument("--cursor", metavar="CURSOR", help="the page after this cursor (printed by list)")
    listing.add_argument("--all", action="store_true", help="every page")

    wait = add_for_one_job("wait", cmd_wait, "wait for a job to finish, with a progress bar")
    _add_wait_options(wait)

    download = add_for_one_job("download", cmd_download, "download a completed job's transcript")
    download.add_argument(
        "--format",
        "-f",
        type=str.lower,
        choices=DOWNLOAD_FORMATS,
        help="default: srt (json with --unredacted)",
    )
    download.add_argument(
        "--unredacted",
        action="store_true",
        help="the JSON as heard, kept by a job submitted with --redact-pii --keep-unredacted",
    )
    download.add_argument("-o", "--output", type=Path, metavar="FILE", help="write here (default: stdout)")

    add_for_one_job("delete", cmd_delete, "stop a job and delete its audio and outputs")

    retry = add_for_one_job("retry", cmd_retry, "start a FAILED job again (finished chunks are reused)")
    retry.add_argument("--wait", action="store_true", help="wait for the result with a progress bar")
    _add_wait_options(retry)
