"""``transcriber``: the transcription HTTP API from the command line.

    transcriber submit talk.mp3 --language en --wait      upload, then follow it to the end
    transcriber status JOB_ID                              status, progress, timings, errors
    transcriber list [--status COMPLETED] [--limit 20]     your jobs, newest first
    transcriber wait JOB_ID                                a progress bar until it finishes
    transcriber download JOB_ID --format srt -o talk.srt   the transcript as json, srt, vtt or txt
    transcriber delete JOB_ID                              stop it and delete its audio and outputs
    transcriber retry JOB_ID                               start a FAILED job again
    transcriber search '"quick fox" lazy'                   time, file and text of matching segments
    transcriber keys create|list|revoke ...                API keys (operators; AWS credentials)
    transcriber admin reindex --tenant T                   rebuild a tenant's search index (operators)

The API's address and key come from --base-url and --api-key, or from TRANSCRIBER_API_URL and
TRANSCRIBER_API_KEY (``make serve`` prints both). --json prints the API's JSON instead of text.

Exit codes: 0 done; 1 an error (the API refused, the job failed, the network, ...); 2 a usage
or validation error (bad arguments, missing configuration, a request the API found invalid).
Errors are one line on stderr; --debug shows the traceback of an unexpected one.
"""

from __future__ import annotations

import argparse

from client import TranscriberError, TranscriptionFailedError, ValidationError, WaitTimeoutError
from client.cli.common import (
    EXIT_ERROR,
    EXIT_OK,
    EXIT_USAGE,
    PROG,
    Handler,
    UsageError,
    add_global_options,
    emit_json,
    print_error,
)
from client.cli.jobs import register_job_commands
from client.cli.keys import register_keys_command
from client.cli.search import register_search_commands
from client.cli.speakers import register_speakers_command
from client.cli.terminal import escaped_output


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_global_options(parser, on_subcommand=False)
    common = argparse.ArgumentParser(add_help=False)
    add_global_options(common, on_subcommand=True)
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    register_job_commands(subparsers, common)
    register_speakers_command(subparsers, common)
    # Operators' command: it writes the tenants table with AWS credentials, not through the API.
    register_keys_command(subparsers, common)
    register_search_commands(subparsers, common)  # search (the API); admin reindex (operators)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse: --help (0) or a usage error (2, already printed)
        return exit_.code if isinstance(exit_.code, int) else (EXIT_OK if exit_.code is None else EXIT_USAGE)
    with escaped_output():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    handler: Handler = args.handler
    try:
        return handler(args)
    except (UsageError, ValidationError) as err:
        print_error(str(err))
        return EXIT_USAGE
    except (TranscriptionFailedError, WaitTimeoutError) as err:
        if args.json:
            emit_json(err.transcription.raw)
        print_error(str(err))
        return EXIT_ERROR
    except TranscriberError as err:
        print_error(str(err))
        return EXIT_ERROR
    except KeyboardInterrupt:
        print_error("interrupted; a submitted job keeps running on the server")
        return 130
    except Exception as err:
        if args.debug:
            raise
        print_error(f"unexpected {type(err).__name__}: {err}. Run again with --debug for the traceback")
        return EXIT_ERROR


__all__ = ["build_parser", "main"]
