"""The Lambda functions' common ground: layers, runtime, tracing, log groups, shared environment.

Every function of the stack is made here (and lives under this construct), so that they differ
only in what their concern asks for: handler, layers, sizing and extra environment.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import bundling
from infra.config import EnvironmentConfig, FunctionSizing
from infra.constructs.concern import Concern

METRICS_NAMESPACE = "AudioTranscriber"


def env_number(value: float) -> str:
    """A setting as an environment variable: ``24`` for 24.0 (cdk.json's number as written)."""
    return str(int(value)) if float(value).is_integer() else str(value)


def log_group(
    scope: Construct, construct_id: str, config: EnvironmentConfig, *, name: str | None = None
) -> logs.LogGroup:
    """A log group with the environment's retention, kept with the data where that is kept."""
    return logs.LogGroup(
        scope,
        construct_id,
        log_group_name=name,
        retention=config.log_retention,
        removal_policy=config.removal_policy,
    )


class Functions(Concern):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        common_env: dict[str, str],
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self.common_env = {
            **common_env,
            "POWERTOOLS_METRICS_NAMESPACE": METRICS_NAMESPACE,
            "LOG_LEVEL": "INFO",
        }
        self.architecture = (
            lambda_.Architecture.ARM_64 if config.architecture == "arm64" else lambda_.Architecture.X86_64
        )
        # Fault injection (transcriber/faults.py), for tests and soak runs: only where cdk.json's
        # fault_rate is above 0, which the prod configuration refuses. The state machine's tasks get
        # it (their Retry is what a soak tests); ingest does not (its failures go to its DLQ).
        self.fault_env: dict[str, str] = {}
        if config.fault_rate > 0:
            self.fault_env = {"FAULT_RATE": env_number(config.fault_rate), "FAULT_TARGETS": "engine,s3"}
        self.dependencies_layer = lambda_.LayerVersion(
            self,
            "DependenciesLayer",
            code=bundling.dependencies_layer_code(config.architecture),
            compatible_architectures=[self.architecture],
            compatible_runtimes=[lambda_.Runtime.PYTHON_3_12],
            description="Powertools and pydub for the zip functions",
        )
        self.ffmpeg_layer = lambda_.LayerVersion(
            self,
            "FfmpegLayer",
            code=bundling.ffmpeg_layer_code(config.architecture),
            compatible_architectures=[self.architecture],
            description="ffmpeg from the imageio-ffmpeg wheel",
        )

    def log_group(self, scope: Construct, construct_id: str) -> logs.LogGroup:
        """A log group with the environment's retention, kept with the data where that is kept."""
        return log_group(scope, construct_id, self._config)

    def zip_function(
        self,
        name: str,
        *,
        env: dict[str, str] | None = None,
        sizing: FunctionSizing | None = None,
        with_ffmpeg: bool = False,
        scratch_mb: int | None = None,
    ) -> lambda_.Function:
        """``functions/<name>/handler.py`` on Python 3.12 with the dependencies layer (and ffmpeg);
        ``scratch_mb``: its /tmp, when Lambda's default 512 MB is not enough."""
        sizing = sizing or self._config.function(name)
        layers: list[lambda_.ILayerVersion] = [self.dependencies_layer]
        if with_ffmpeg:
            layers.append(self.ffmpeg_layer)
        return lambda_.Function(
            self,
            f"{name.title()}Function",
            runtime=lambda_.Runtime.PYTHON_3_12,
            architecture=self.architecture,
            handler=f"functions.{name}.handler.handler",
            code=bundling.function_code(name),
            layers=layers,
            memory_size=sizing.memory_mb,
            timeout=cdk.Duration.seconds(sizing.timeout_s),
            ephemeral_storage_size=cdk.Size.mebibytes(scratch_mb) if scratch_mb else None,
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group(self, f"{name.title()}Logs"),
            environment={**self.common_env, "POWERTOOLS_SERVICE_NAME": f"transcriber-{name}", **(env or {})},
        )

    def transcribe_function(self) -> lambda_.DockerImageFunction:
        """The transcribe function: a container image (the speech model does not fit in a zip)."""
        sizing = self._config.function("transcribe")
        return lambda_.DockerImageFunction(
            self,
            "TranscribeFunction",
            code=bundling.transcribe_image_code(),
            architecture=self.architecture,
            memory_size=sizing.memory_mb,
            timeout=cdk.Duration.seconds(sizing.timeout_s),
            tracing=lambda_.Tracing.ACTIVE,
            log_group=self.log_group(self, "TranscribeLogs"),
            environment={
                **self.common_env,
                "POWERTOOLS_SERVICE_NAME": "transcriber-transcribe",
                "TRANSCRIBE_ENGINE": self._config.engine,
                "WHISPER_CPU_THREADS": str(sizing.whole_vcpus),  # one decoder thread per full vCPU
                **self.fault_env,
            },
        )
