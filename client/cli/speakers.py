"""``transcriber speakers rename JOB spk_0=Alice spk_1=Bob``: name a completed job's speakers."""

from __future__ import annotations

import argparse
from typing import Any

from client.cli.common import EXIT_OK, UsageError, emit_json, make_client


def parse_names(pairs: list[str]) -> dict[str, str]:
    """``LABEL=NAME`` arguments to a dict; the server checks labels and names."""
    names: dict[str, str] = {}
    for pair in pairs:
        label, sep, name = pair.partition("=")
        if not sep or not label.strip():
            raise UsageError(f"{pair!r} is not LABEL=NAME; write for example spk_0=Alice")
        names[label.strip()] = name
    return names


def cmd_rename(args: argparse.Namespace) -> int:
    speakers = make_client(args).rename_speakers(args.job_id, parse_names(args.names))
    if args.json:
        emit_json({"job_id": args.job_id, "speakers": speakers})
        return EXIT_OK
    for speaker in speakers:
        print(f"{speaker.get('label')}\t{speaker.get('name') or '-'}\t{speaker.get('seconds')} s")
    return EXIT_OK


def register_speakers_command(subparsers: Any, common: argparse.ArgumentParser) -> None:
    speakers: argparse.ArgumentParser = subparsers.add_parser(
        "speakers", parents=[common], help="name the speakers of a job run with speaker labels"
    )
    actions = speakers.add_subparsers(dest="speakers_command", metavar="ACTION", required=True)
    rename = actions.add_parser(
        "rename",
        parents=[common],
        help="give speakers names; all four outputs are rewritten",
        description="Give speakers names (LABEL=NAME, e.g. spk_0=Alice); all four outputs are rewritten.",
    )
    rename.add_argument("job_id", metavar="ID")
    rename.add_argument("names", nargs="+", metavar="LABEL=NAME")
    rename.set_defaults(handler=cmd_rename)
