"""``transcriber search`` (a tenant's, through the API) and ``transcriber admin reindex`` (operators').

``search`` prints a table: the time in the audio as mm:ss, the file name and the segment's text,
every value escaped (client/cli/terminal.py: they are other people's text). ``admin reindex``
rebuilds one tenant's search index from the transcripts in S3 by invoking the stack's search
maintenance function with AWS credentials, like ``keys``: it is not part of the user SDK.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from client.cli.common import EXIT_ERROR, EXIT_OK, UsageError, emit_json, make_client, print_error
from client.cli.keys import _local_settings
from client.cli.terminal import field
from client.search import SearchResults

MAINTENANCE_OUTPUT = "SearchMaintenanceFunctionName"
LOCAL_STACK = "Transcriber-dev"
#: the search options the command passes on as they are (their dests are the SDK's parameter names)
SEARCH_FILTERS = ("language", "created_after", "created_before", "job_id", "limit", "cursor")


def mm_ss(seconds: float) -> str:
    """``75.4`` -> ``01:15``; hours run on as minutes (``90:00``), keeping the column narrow."""
    whole = max(0, int(seconds))
    return f"{whole // 60:02d}:{whole % 60:02d}"


def print_hits(results: SearchResults) -> None:
    if not results.hits:
        print("No matches.")
        return
    rows = [("TIME", "FILE", "TEXT")] + [
        (mm_ss(hit.start), field(hit.filename or hit.job_id), field(hit.text)) for hit in results
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(2)]
    for row in rows:
        print(f"{row[0].ljust(widths[0])}  {row[1].ljust(widths[1])}  {row[2]}")
    if results.next_cursor:
        print(f"More: --cursor {results.next_cursor}")


def cmd_search(args: argparse.Namespace) -> int:
    filters = {name: getattr(args, name) for name in SEARCH_FILTERS}
    results = make_client(args).search(args.query, **filters)
    if args.json:
        emit_json(dict(results.raw))
    else:
        print_hits(results)
    return EXIT_OK


def _invoke_reindex(args: argparse.Namespace) -> dict[str, Any]:
    try:
        import boto3
    except ImportError as err:
        raise UsageError("admin commands need boto3: run them from the project's virtualenv") from err
    local = _local_settings()
    endpoint = args.endpoint_url or (None if args.stack or args.function else local.get("aws_endpoint_url"))
    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    if endpoint and not session.get_credentials():  # the embedded AWS accepts any credentials
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=args.region or "us-east-1",
        )
    function = args.function
    if not function:
        stack = args.stack or (LOCAL_STACK if endpoint else None)
        if not stack:
            raise UsageError("pass --stack NAME or --function NAME, or start the local stack (make serve)")
        outputs = session.client("cloudformation", endpoint_url=endpoint).describe_stacks(StackName=stack)
        values = {o["OutputKey"]: o["OutputValue"] for o in outputs["Stacks"][0].get("Outputs", [])}
        function = values.get(MAINTENANCE_OUTPUT)
        if not function:
            raise UsageError(f"stack {stack} has no {MAINTENANCE_OUTPUT} output")
    response = session.client("lambda", endpoint_url=endpoint).invoke(
        FunctionName=function, Payload=json.dumps({"reindex_tenant": args.tenant}).encode()
    )
    answer = json.loads(response["Payload"].read() or b"{}")
    if response.get("FunctionError"):
        raise RuntimeError(f"reindex failed: {answer.get('errorType')}: {answer.get('errorMessage')}")
    return dict(answer)


def cmd_admin_reindex(args: argparse.Namespace) -> int:
    try:
        answer = _invoke_reindex(args)
    except UsageError:
        raise
    except Exception as err:  # AWS errors: credentials, a missing stack or function, the network
        if getattr(args, "debug", False):
            raise
        print_error(f"{type(err).__name__}: {err}")
        return EXIT_ERROR
    if args.json:
        emit_json(answer)
    else:
        print(f"tenant {field(args.tenant)}: {answer.get('indexed_jobs', 0)} completed jobs indexed")
    return EXIT_OK


def register_search_commands(subparsers: Any, common: argparse.ArgumentParser) -> None:
    search: argparse.ArgumentParser = subparsers.add_parser(
        "search", parents=[common], help="search all your transcripts", description=__doc__.split("\n\n")[1]
    )
    search.set_defaults(handler=cmd_search)
    search.add_argument("query", metavar="QUERY", help='words (all must match) and "phrases"')
    search.add_argument("--language", metavar="CODE", help="only transcripts in this language (e.g. en)")
    search.add_argument("--created-after", metavar="TIME", help="only jobs created after (ISO 8601)")
    search.add_argument("--created-before", metavar="TIME", help="only jobs created before (ISO 8601)")
    search.add_argument("--job", dest="job_id", metavar="ID", help="only this job")
    search.add_argument("--limit", type=int, metavar="N", help="hits per page (1-100, default 20)")
    search.add_argument("--cursor", metavar="CURSOR", help="the next page of the same query")

    admin: argparse.ArgumentParser = subparsers.add_parser(
        "admin", parents=[common], help="operators' tasks (needs AWS credentials)"
    )
    actions = admin.add_subparsers(dest="admin_command", metavar="ACTION", required=True)
    reindex: argparse.ArgumentParser = actions.add_parser(
        "reindex", parents=[common], help="rebuild a tenant's search index from its transcripts in S3"
    )
    reindex.set_defaults(handler=cmd_admin_reindex)
    reindex.add_argument("--tenant", required=True, metavar="TENANT")
    where = reindex.add_argument_group("which stack")
    where.add_argument("--stack", metavar="NAME", help="the stack whose maintenance function to invoke")
    where.add_argument("--function", metavar="NAME", help="the search maintenance function itself")
    where.add_argument("--region", metavar="REGION")
    where.add_argument("--endpoint-url", metavar="URL", help="an AWS endpoint (default: AWS itself)")
