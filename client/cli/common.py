"""What every ``transcriber`` command shares: exit codes, the SDK client, output, common options."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from typing import Any, TextIO

from client import Client, TranscriberError
from client.cli.terminal import field

PROG = "transcriber"
ENV_URL = "TRANSCRIBER_API_URL"
ENV_KEY = "TRANSCRIBER_API_KEY"
EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2

#: What every subcommand's ``handler`` is: it gets the parsed arguments, returns the exit code.
Handler = Callable[[argparse.Namespace], int]


class UsageError(Exception):
    """A problem with how the command was called: exit code 2."""


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


def one_line(text: str) -> str:
    return " ".join(str(text).split())


def print_error(message: str) -> None:
    """Errors are one line on stderr, prefixed like argparse's own."""
    print(f"{PROG}: error: {field(one_line(message))}", file=sys.stderr)


def info(message: str, args: argparse.Namespace) -> None:
    """Human notes go to stderr, so stdout stays the result (the transcript, the JSON, ...)."""
    if not args.quiet:
        print(message, file=sys.stderr)


def positive_float(text: str) -> float:
    """argparse type: a number of seconds, zero or more."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{text!r} must not be negative")
    return value


def add_global_options(parser: argparse.ArgumentParser, *, on_subcommand: bool) -> None:
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
        type=positive_float,
        metavar="S",
        default=default(30.0),
        help="seconds to wait for each HTTP answer (default: 30)",
    )
    flags = (
        ("--json", "print the API's JSON instead of text"),
        ("--no-progress", "no progress bar while waiting"),
        ("--quiet", "no progress bar, no notes on stderr"),
        ("--debug", "show the traceback of an unexpected error"),
    )
    for flag, help_text in flags:
        names = ("-q", flag) if flag == "--quiet" else (flag,)
        group.add_argument(*names, action="store_true", default=default(False), help=help_text)
