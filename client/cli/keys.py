"""``transcriber keys``: create, list and revoke API keys (an operator's command, not a tenant's).

Keys live in the stack's tenants table, hashed; this command writes there directly with AWS
credentials, so it needs boto3 and the server package (the SDK and the other commands do not).
The table is found from ``--table``, from ``--stack`` (its ``TenantsTableName`` output), or, when
``make serve`` is running, from .local/serve.json (the local stack's table and endpoint).

    transcriber keys create acme [--jobs-per-day 500] [--requests-per-minute 120]
        [--audio-retention after-transcript|N|keep] [--transcript-retention-days N]
    transcriber keys list [--tenant acme]
    transcriber keys revoke KEY_ID
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from client.cli.common import EXIT_ERROR, EXIT_OK, UsageError, emit_json, print_error

if TYPE_CHECKING:
    from transcriber.adapters.tenants_table import TenantRepository
    from transcriber.domain.tenants import ApiKey

SERVE_FILE = Path(".local") / "serve.json"


def _local_settings() -> dict[str, Any]:
    path = Path(os.environ.get("TRANSCRIBER_SERVE_FILE", SERVE_FILE))
    return dict(json.loads(path.read_text())) if path.exists() else {}


def tenants_repository(args: argparse.Namespace) -> TenantRepository:
    """The tenants table named by the arguments, or by a running ``make serve``.

    boto3 and the server package are imported here, when the command runs, so that importing
    the CLI (and the SDK under it) needs nothing beyond the standard library.
    """
    try:
        import boto3

        from transcriber.adapters.tenants_table import TenantRepository
    except ImportError as err:
        raise UsageError(
            f"the keys command needs boto3 and the server package ({err.name} is missing): run it "
            "from the project's checkout with its virtualenv"
        ) from err

    local = _local_settings()
    endpoint = args.endpoint_url or (None if (args.table or args.stack) else local.get("aws_endpoint_url"))
    session = boto3.Session(region_name=args.region) if args.region else boto3.Session()
    if endpoint and not session.get_credentials():
        # the embedded AWS of `make serve` accepts any credentials
        session = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name=args.region or "us-east-1",
        )
    table = args.table
    if not table and args.stack:
        outputs = (
            session.client("cloudformation", endpoint_url=endpoint)
            .describe_stacks(StackName=args.stack)["Stacks"][0]
            .get("Outputs", [])
        )
        table = next((o["OutputValue"] for o in outputs if o["OutputKey"] == "TenantsTableName"), None)
        if not table:
            raise UsageError(f"stack {args.stack} has no TenantsTableName output")
    table = table or local.get("tenants_table")
    if not table:
        raise UsageError(
            "no tenants table: pass --stack NAME (e.g. Transcriber-prod) or --table NAME, "
            "or start the local stack with `make serve`"
        )
    return TenantRepository(table, resource=session.resource("dynamodb", endpoint_url=endpoint))


def _key_view(key: ApiKey) -> dict[str, Any]:
    return {
        "key_id": key.key_id,
        "tenant_id": key.tenant_id,
        "created_at": key.created_at,
        "revoked_at": key.revoked_at,
    }


def _create(tenants: TenantRepository, args: argparse.Namespace) -> None:
    from transcriber.domain.retention import Retention

    try:
        retention = None
        if args.audio_retention is not None or args.transcript_retention_days is not None:
            retention = Retention.parse(args.audio_retention, args.transcript_retention_days)
        api_key, key, tenant = tenants.create_key(
            args.tenant,
            jobs_per_day=args.jobs_per_day,
            requests_per_minute=args.requests_per_minute,
            retention=retention,
        )
    except ValueError as err:  # an invalid tenant id, quota or retention
        raise UsageError(str(err)) from err
    if args.json:
        emit_json(
            {
                **_key_view(key),
                "api_key": api_key,
                "webhook_secret": tenant.webhook_secret,
                "jobs_per_day": tenant.jobs_per_day,
                "requests_per_minute": tenant.requests_per_minute,
                "retention": tenant.retention.describe(),
            }
        )
        return
    print(api_key)
    print(
        f"key {key.key_id} for tenant {tenant.tenant_id} ({tenant.jobs_per_day} jobs/day, "
        f"{tenant.requests_per_minute} requests/min; retention {tenant.retention.describe()}); "
        f"webhook secret {tenant.webhook_secret}. "
        "The key is shown only now: store it.",
        file=sys.stderr,
    )


def _list(tenants: TenantRepository, args: argparse.Namespace) -> None:
    keys = tenants.list_keys(args.tenant)
    if args.json:
        emit_json([_key_view(k) for k in keys])
        return
    for k in keys:
        state = f"revoked {k.revoked_at}" if k.revoked_at else "active"
        print(f"{k.key_id}  {k.tenant_id:<24} created {k.created_at}  {state}")


def _revoke(tenants: TenantRepository, args: argparse.Namespace) -> None:
    revoked = tenants.revoke_key(args.key_id)
    if revoked is None:
        raise UsageError(f"no API key with id {args.key_id!r}; `transcriber keys list` shows them")
    if args.json:
        emit_json(_key_view(revoked))
    else:
        print(f"key {revoked.key_id} of tenant {revoked.tenant_id} revoked at {revoked.revoked_at}")


_ACTIONS = {"create": _create, "list": _list, "revoke": _revoke}


def cmd_keys(args: argparse.Namespace) -> int:
    try:
        _ACTIONS[args.keys_command](tenants_repository(args), args)
    except UsageError:
        raise
    except Exception as err:  # AWS errors: credentials, a missing table, the network
        if getattr(args, "debug", False):
            raise
        print_error(f"{type(err).__name__}: {err}")
        return EXIT_ERROR
    return EXIT_OK


def _add_stack_options(parser: argparse.ArgumentParser) -> None:
    where = parser.add_argument_group("which stack")
    where.add_argument("--stack", metavar="NAME", help="the stack whose TenantsTableName output to use")
    where.add_argument("--table", metavar="NAME", help="the tenants table itself")
    where.add_argument("--region", metavar="REGION", help="AWS region (default: your AWS configuration's)")
    where.add_argument("--endpoint-url", metavar="URL", help="an AWS endpoint (default: AWS itself)")


def register_keys_command(subparsers: Any, common: argparse.ArgumentParser) -> None:
    keys: argparse.ArgumentParser = subparsers.add_parser(
        "keys",
        parents=[common],
        help="create, list and revoke API keys (operators; needs AWS credentials)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    keys.set_defaults(handler=cmd_keys)
    actions = keys.add_subparsers(dest="keys_command", metavar="ACTION", required=True)

    def action(name: str, help_text: str) -> argparse.ArgumentParser:
        parser: argparse.ArgumentParser = actions.add_parser(
            name, parents=[common], help=help_text, description=help_text
        )
        _add_stack_options(parser)
        return parser

    create = action("create", "a new key for a tenant (created if new)")
    create.add_argument("tenant", metavar="TENANT", help="tenant id: lower-case letters, digits, hyphens")
    create.add_argument("--jobs-per-day", type=int, metavar="N", help="daily job quota (default 500)")
    create.add_argument(
        "--requests-per-minute", type=int, metavar="N", help="rate limit (default 120 requests/min)"
    )
    create.add_argument(
        "--audio-retention",
        metavar="WHEN",
        help="'after-transcript' (delete the audio as soon as the transcript exists), N days, or 'keep'",
    )
    create.add_argument(
        "--transcript-retention-days",
        type=int,
        metavar="N",
        help="delete transcripts N days after completion",
    )
    listing = action("list", "keys and their state (never the keys themselves)")
    listing.add_argument("--tenant", metavar="TENANT", help="only this tenant's keys")
    revoke = action("revoke", "revoke a key by its id: it stops working at once")
    revoke.add_argument("key_id", metavar="KEY_ID")
