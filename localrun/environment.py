"""An embedded AWS on this machine: moto in server mode, inside this process.

The real ``cdk synth`` template is deployed through moto's CloudFormation; Lambda functions run
through :mod:`localrun.lambda_runtime`; Step Functions executes the real definition with the ASL
interpreter moto ships.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import socket
import threading
import time
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3

from localrun.s3_front import read_only_the_range
from localrun.s3_notifications import AsyncS3Notifications
from localrun.sqs_delivery import AsyncQueueDeliveries
from localrun.synth import ASSEMBLY_ROOT, IN_USE_GRACE_S
from localrun.throttling import ConcurrencyLimit, mark_state_machine_client, name_lambda_errors_as_aws

REPO_ROOT = Path(__file__).resolve().parents[1]
ACCOUNT_ID = "123456789012"
REGION = "us-east-1"
BOOTSTRAP_QUALIFIER = "hnb659fds"
#: zipped file assets, by asset hash, shared by the local runs (pruned by prune_asset_cache)
ASSET_CACHE = REPO_ROOT / ".cache" / "assets"


def referenced_assets(assemblies: Path = ASSEMBLY_ROOT) -> set[str]:
    """The hashes of the file assets the cloud assemblies under ``assemblies`` name."""
    hashes: set[str] = set()
    for manifest in assemblies.glob("*/*.assets.json"):
        try:
            hashes.update(json.loads(manifest.read_text()).get("files", {}))
        except (OSError, ValueError):
            continue  # an assembly being written or removed
    return hashes


def prune_asset_cache(
    cache: Path = ASSET_CACHE,
    assemblies: Path = ASSEMBLY_ROOT,
    *,
    grace_s: float = IN_USE_GRACE_S,
    now: float | None = None,
) -> list[Path]:
    """Remove the zipped assets no assembly left under ``assemblies`` names; returns those removed.

    Never one written or used within ``grace_s`` (a deploy may be uploading it); unfinished
    ``.part`` files only once ``grace_s`` has passed.
    """
    if not cache.is_dir():
        return []
    now = time.time() if now is None else now
    wanted = referenced_assets(assemblies)
    removed = []
    for path in cache.iterdir():
        if path.suffix == ".zip" and path.stem in wanted:
            continue
        if path.suffix not in (".zip", ".part"):
            continue
        try:
            if now - path.stat().st_mtime < grace_s:
                continue
            path.unlink()
        except OSError:
            continue
        removed.append(path)
    return removed


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _configure_moto(port: int) -> None:
    """Apply the settings and the three CloudFormation fixes the local stack needs (see NOTES)."""
    from moto import settings
    from moto.core.config import default_user_config
    from moto.stepfunctions import models as sfn_models
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.models import stepfunctions_parser_backends

    from localrun import moto_asl

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    moto_asl.install()  # Express children and the Map's failure threshold, as AWS has them
    # CloudFormation creates state machines in the backend that does not execute them.
    sfn_models.stepfunctions_backends = stepfunctions_parser_backends  # type: ignore[assignment]
    # The ASL interpreter builds a new boto3 client for every Lambda task (about 30 ms of CPU in
    # this process, on the path of every chunk); AWS's service calls Lambda without such a cost.
    if not isinstance(lambda_eval_utils.boto_client_for, _ReusedClients):
        lambda_eval_utils.boto_client_for = _ReusedClients(lambda_eval_utils.boto_client_for)
    _parse_each_json_path_once()
    read_only_the_range()  # a chunk's GET reads its bytes, not the job's whole WAV
    name_lambda_errors_as_aws()  # so that Retry on Lambda.TooManyRequestsException etc. matches
    # Custom resources must answer on this machine's loopback, not host.docker.internal.
    settings.moto_server_host = lambda: "http://127.0.0.1"  # type: ignore[assignment]
    os.environ["MOTO_PORT"] = str(port)


def _parse_each_json_path_once() -> None:
    """moto parses a JSONPath from its text at every use: the ASL interpreter each path of each
    state it evaluates, the event bus eight paths per event and target (about 0.45 ms apiece, in
    this process beside the function workers). A parsed path is not changed by its use, so each
    text is parsed once."""
    import jsonpath_ng
    import jsonpath_ng.ext
    from moto.stepfunctions.parser.asl.component.common.path import result_path
    from moto.stepfunctions.parser.asl.utils import json_path

    if not hasattr(jsonpath_ng.ext.parse, "cache_info"):
        parse_ext = functools.lru_cache(maxsize=1024)(jsonpath_ng.ext.parse)
        jsonpath_ng.ext.parse = parse_ext  # moto.events.utils imports it at every call
        json_path.parse = parse_ext
    if not hasattr(result_path.parse, "cache_info"):
        result_path.parse = functools.lru_cache(maxsize=1024)(jsonpath_ng.parse)


class _ReusedClients:
    """Wraps moto's ``boto_client_for``: one client per region, service and moto port, reused.

    boto3 clients are thread-safe, so the Map state's parallel iterations can share one. The
    interpreter's clients differ only by those three (its credentials are fixed dummies).
    """

    def __init__(self, build: Any) -> None:
        self._build = build
        self._clients: dict[tuple[str, str, int], Any] = {}
        self._lock = threading.Lock()

    def __call__(self, region: str, service: str, state_credentials: Any = None) -> Any:
        from moto.settings import moto_server_port

        key = (region, service, int(moto_server_port()))
        with self._lock:
            if key not in self._clients:
                self._clients[key] = self._build(
                    region=region, service=service, state_credentials=state_credentials
                )
                if service == "lambda" and hasattr(self._clients[key], "meta"):
                    mark_state_machine_client(self._clients[key])  # an emulated limit may refuse these
            return self._clients[key]


@dataclass
class StackOutputs:
    input_bucket: str
    results_bucket: str
    jobs_table: str
    event_bus: str
    state_machine_arn: str
    sweeper_function: str
    api_function: str
    tenants_table: str
    search_function: str | None = None

    @classmethod
    def from_cloudformation(cls, outputs: list[dict[str, str]]) -> StackOutputs:
        values = {o["OutputKey"]: o["OutputValue"] for o in outputs}
        return cls(
            input_bucket=values["InputBucketName"],
            results_bucket=values["ResultsBucketName"],
            jobs_table=values["JobsTableName"],
            event_bus=values["EventBusName"],
            state_machine_arn=values["StateMachineArn"],
            sweeper_function=values["SweeperFunctionName"],
            api_function=values["ApiFunctionName"],
            tenants_table=values["TenantsTableName"],
            search_function=values.get("SearchFunctionName"),
        )


@dataclass(frozen=True)
class RuntimeSettings:
    """How the local runtime runs the functions (the benches and the CLI set these)."""

    #: workers per function, Lambda's concurrency (default: the machine's cores)
    concurrency: int | None = None
    #: speech threads per transcribe worker (default: the cores shared out among the workers)
    threads_per_worker: int | None = None
    #: refuse the state machine's calls beyond this many in flight per function, as Lambda does
    throttle_at: int | None = None
    #: deliver SQS messages to their consumers apart from the sender, as AWS does
    async_queues: bool = False


#: The runtime as ``make run``, ``make serve`` and the tests use it.
DEFAULT_RUNTIME = RuntimeSettings()


class LocalAws:
    """The moto server plus the Lambda runtime, and the clients to talk to them.

    moto keeps its state in module globals, so one process holds one local AWS at a time.
    """

    _active: LocalAws | None = None

    def __init__(self, *, work_dir: Path, runtime: RuntimeSettings = DEFAULT_RUNTIME) -> None:
        self.work_dir = work_dir
        #: SQS-to-Lambda mappings delivered apart from the sender (localrun/sqs_delivery.py)
        self.queue_deliveries = AsyncQueueDeliveries() if runtime.async_queues else None
        #: Lambda's concurrency limit per function for the state machine's calls (localrun/throttling.py)
        self.concurrency_limit = ConcurrencyLimit(runtime.throttle_at) if runtime.throttle_at else None
        self.concurrency = runtime.concurrency or os.cpu_count() or 2
        #: speech threads per transcribe worker; default: the cores shared out among the workers
        self.threads_per_worker = runtime.threads_per_worker
        self.port = _free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self._server: Any = None
        self.runtime: Any = None
        self.s3_notifications: AsyncS3Notifications | None = None
        #: function name -> its dead-letter queue's ARN (moto keeps no DeadLetterConfig)
        self.dead_letter_queues: dict[str, str] = {}
        # One session and one client per service: a new session reloads botocore's service data
        # (about 0.1 s of CPU in this process, beside the workers), and polling asks often.
        self._boto_session: boto3.Session | None = None
        self._clients: dict[str, Any] = {}
        self._clients_lock = threading.Lock()

    def _session(self) -> boto3.Session:
        if self._boto_session is None:
            self._boto_session = boto3.Session(
                aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
            )
        return self._boto_session

    def client(self, service: str) -> Any:
        """The shared client of ``service`` (boto3 clients are thread-safe)."""
        with self._clients_lock:
            if service not in self._clients:
                self._clients[service] = self._session().client(service, endpoint_url=self.endpoint)
            return self._clients[service]

    def resource(self, service: str) -> Any:
        """A new resource (they are not thread-safe), built from the shared session's loaded data."""
        with self._clients_lock:
            return self._session().resource(service, endpoint_url=self.endpoint)

    def start(self) -> None:
        from moto.core.base_backend import BackendDict
        from moto.core.model_instances import reset_model_data

        from localrun.lambda_runtime import LambdaRuntime
        from localrun.s3_front import S3CompatibleMotoServer

        for key, value in {
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
        }.items():
            os.environ.setdefault(key, value)
        if LocalAws._active is not None:
            raise RuntimeError("a local AWS is already running in this process; stop it first")
        BackendDict.reset()  # a fresh account: nothing left from an earlier local AWS in this process
        reset_model_data()
        _configure_moto(self.port)
        LocalAws._active = self
        # moto's request log and its notes on resource types it skips are noise for a CLI user.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        logging.getLogger("moto").setLevel(logging.ERROR)
        # The ASL interpreter logs a Choice's IsPresent test of an absent path as an ERROR; failures
        # that matter reach the execution history and the job record.
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        warnings.filterwarnings("ignore", message="Tried to parse .* but it's not supported")
        self._server = S3CompatibleMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self._server.start()
        worker_env = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_SESSION_TOKEN": "testing",
            "AWS_DEFAULT_REGION": REGION,
            "AWS_REGION": REGION,
            "POWERTOOLS_TRACE_DISABLED": "true",
            "POWERTOOLS_METRICS_DISABLED": "false",
            "PYTHONUNBUFFERED": "1",
        }
        self.runtime = LambdaRuntime(
            work_dir=self.work_dir, base_environment=worker_env, concurrency=self.concurrency
        )
        self.runtime.install()
        if self.concurrency_limit is not None:
            self.concurrency_limit.install()
        if self.queue_deliveries is not None:
            self.queue_deliveries.install()
        self.s3_notifications = AsyncS3Notifications(dead_letter=self._dead_letter)
        self.s3_notifications.install()

    def stop(self) -> None:
        if self.s3_notifications is not None:
            self.s3_notifications.uninstall()
            self.s3_notifications = None
        if self.concurrency_limit is not None:
            self.concurrency_limit.uninstall()
        if self.queue_deliveries is not None:
            self.queue_deliveries.uninstall()
        if self.runtime is not None:
            self.runtime.shutdown()
            self.runtime = None
        if self._server is not None:
            self._server.stop()
            self._server = None
        if LocalAws._active is self:
            LocalAws._active = None

    # Deployment -------------------------------------------------------------------------------

    def deploy(self, assembly_dir: Path, stack_name: str, *, timeout_s: float = 120) -> StackOutputs:
        """Publish the synthesized assets and create the stack from the synthesized template."""
        template_path = assembly_dir / f"{stack_name}.template.json"
        template = json.loads(template_path.read_text())
        manifest = json.loads((assembly_dir / f"{stack_name}.assets.json").read_text())
        self._publish_file_assets(assembly_dir, manifest)
        self._register_images(assembly_dir, manifest, template)
        self.client("ssm").put_parameter(
            Name=f"/cdk-bootstrap/{BOOTSTRAP_QUALIFIER}/version", Value="30", Type="String", Overwrite=True
        )
        cfn = self.client("cloudformation")
        cfn.create_stack(
            StackName=stack_name,
            TemplateBody=template_path.read_text(),
            Capabilities=["CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND"],
        )
        deadline = time.monotonic() + timeout_s
        while True:
            stack = cfn.describe_stacks(StackName=stack_name)["Stacks"][0]
            status = stack["StackStatus"]
            if status == "CREATE_COMPLETE":
                break
            if status.endswith("FAILED") or status.startswith("ROLLBACK") or time.monotonic() > deadline:
                events = cfn.describe_stack_events(StackName=stack_name)["StackEvents"][:10]
                reasons = [f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', '')}" for e in events]
                raise RuntimeError(f"local deployment of {stack_name} ended {status}: {reasons}")
            time.sleep(0.2)
        self._set_local_overrides(stack_name, template)
        self._record_dead_letter_queues(stack_name, template)
        self._prewarm(stack_name, template)
        return StackOutputs.from_cloudformation(stack.get("Outputs", []))

    def _prewarm(self, stack_name: str, template: dict[str, Any]) -> None:
        """Start the pipeline's workers while the caller uploads: imports and model loads overlap."""
        from moto.awslambda.models import lambda_backends

        backend = lambda_backends[ACCOUNT_ID][REGION]
        resources = self.client("cloudformation").list_stack_resources(StackName=stack_name)
        for resource in resources["StackResourceSummaries"]:
            props = template["Resources"].get(resource["LogicalResourceId"], {}).get("Properties", {})
            if resource["ResourceType"] != "AWS::Lambda::Function" or "ZipFile" in props.get("Code", {}):
                continue  # inline helper functions (CDK custom resources) run only at deploy
            # All the speech workers (each loads the model); one of every other function (search too).
            image = props.get("PackageType") == "Image"
            speech = image and "transcribe" in json.dumps(props.get("ImageConfig"))
            function = backend.get_function(resource["PhysicalResourceId"])
            self.runtime.prewarm(function, workers=self.concurrency if speech else 1)

    def _record_dead_letter_queues(self, stack_name: str, template: dict[str, Any]) -> None:
        resources = self.client("cloudformation").list_stack_resources(StackName=stack_name)
        physical = {
            r["LogicalResourceId"]: r["PhysicalResourceId"] for r in resources["StackResourceSummaries"]
        }
        for logical, resource in template["Resources"].items():
            target = resource.get("Properties", {}).get("DeadLetterConfig", {}).get("TargetArn", {})
            queue = target.get("Fn::GetAtt", [None])[0] if isinstance(target, dict) else None
            if resource["Type"] == "AWS::Lambda::Function" and queue in physical:
                url = physical[queue]  # an SQS queue's physical id is its URL
                self.dead_letter_queues[physical[logical]] = url

    def _dead_letter(self, function_name: str, event: str) -> None:
        """An asynchronous event the function failed three times: kept in its DLQ, as in AWS."""
        url = self.dead_letter_queues.get(function_name)
        if url is None:
            logging.getLogger(__name__).error("event for %s lost: no dead-letter queue", function_name)
            return
        self.client("sqs").send_message(QueueUrl=url, MessageBody=event)

    def _publish_file_assets(self, assembly_dir: Path, manifest: dict[str, Any]) -> None:
        s3 = self.client("s3")
        bucket = f"cdk-{BOOTSTRAP_QUALIFIER}-assets-{ACCOUNT_ID}-{REGION}"
        s3.create_bucket(Bucket=bucket)
        cache = ASSET_CACHE
        cache.mkdir(parents=True, exist_ok=True)
        zipped = False
        for asset_hash, asset in manifest.get("files", {}).items():
            source = assembly_dir / asset["source"]["path"]
            if asset["source"].get("packaging") == "zip":
                archive = cache / f"{asset_hash}.zip"
                if archive.exists():
                    archive.touch()  # its mtime says when it was last used (prune_asset_cache)
                else:
                    _zip_folder(source, archive)
                    zipped = True
                body = archive
            else:
                body = source
            for destination in asset["destinations"].values():
                key = destination["objectKey"]
                s3.upload_file(str(body), bucket, key)
        if zipped:  # new assets: those of assemblies pruned since are no longer needed
            prune_asset_cache(cache, ASSEMBLY_ROOT)

    def _register_images(
        self, assembly_dir: Path, manifest: dict[str, Any], template: dict[str, Any]
    ) -> None:
        """Image functions run from their build context; the handler is the image's command."""
        commands: dict[str, str] = {}
        for resource in template["Resources"].values():
            props = resource.get("Properties", {})
            if resource["Type"] == "AWS::Lambda::Function" and props.get("PackageType") == "Image":
                uri = json.dumps(props["Code"]["ImageUri"])
                tag = uri.rsplit(":", 1)[-1].strip('"}] ')
                commands[tag] = props.get("ImageConfig", {}).get("Command", [""])[0]
        for image_hash, image in manifest.get("dockerImages", {}).items():
            tag = next(iter(image["destinations"].values()))["imageTag"]
            if commands.get(tag):
                self.runtime.image_handlers[tag] = (
                    assembly_dir / image["source"]["directory"],
                    commands[tag],
                )
            elif tag in commands:
                raise RuntimeError(f"image asset {image_hash} has no ImageConfig.Command to run locally")

    def _set_local_overrides(self, stack_name: str, template: dict[str, Any]) -> None:
        """Local mode for every function; threads per speech worker: the cores are shared by
        ``concurrency`` local workers."""
        image_ids = {
            logical
            for logical, r in template["Resources"].items()
            if r["Type"] == "AWS::Lambda::Function" and r.get("Properties", {}).get("PackageType") == "Image"
        }
        resources = self.client("cloudformation").list_stack_resources(StackName=stack_name)[
            "StackResourceSummaries"
        ]
        image_functions = {r["PhysicalResourceId"] for r in resources if r["LogicalResourceId"] in image_ids}
        threads = str(self.threads_per_worker or max(1, (os.cpu_count() or 2) // self.concurrency))

        def overrides(function_name: str) -> dict[str, str]:
            # Only here, never in AWS: webhooks may go to http://localhost (transcriber/settings.py).
            local = {"TRANSCRIBER_LOCAL_MODE": "1"}
            if function_name not in image_functions:
                return local
            # OpenMP and BLAS pools default to one thread per core in every worker process: with
            # several workers on the same cores they would fight over them.
            return {
                **local,
                "WHISPER_CPU_THREADS": threads,
                "OMP_NUM_THREADS": threads,
                "OPENBLAS_NUM_THREADS": threads,
            }

        self.runtime.function_overrides = overrides


def _zip_folder(source: Path, archive: Path) -> None:
    partial = archive.with_suffix(f".{os.getpid()}.part")
    with zipfile.ZipFile(partial, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo.from_file(path, path.relative_to(source).as_posix())
                with path.open("rb") as fh:
                    zf.writestr(info, fh.read(), compress_type=zipfile.ZIP_DEFLATED, compresslevel=1)
    partial.replace(archive)
