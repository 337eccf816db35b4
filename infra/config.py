"""Per-environment settings, read from ``cdk.json`` context (``-c env=dev|staging|prod``).

Everything that differs between environments lives here, typed and checked (pydantic, strict)
before any construct is created: a misspelt environment, key or value fails the synth with a
message that names it, instead of silently falling back to a default that would only show up in
the deployed account.
"""

from __future__ import annotations

import math
import re
from typing import Any, Literal, Self

import aws_cdk as cdk
from aws_cdk import aws_logs as logs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from pydantic_core import ErrorDetails

from transcriber.domain.preparation import scratch_bytes

FUNCTIONS = ("ingest", "chunk", "transcribe", "aggregate", "fail", "api", "notifier")
#: API Gateway gives up on a Lambda integration after 29 s: the API function must answer sooner.
API_INTEGRATION_TIMEOUT_S = 29
#: Lambda gives a function one full vCPU at this memory (a share in proportion to memory).
MB_PER_VCPU = 1769
MIB = 1024 * 1024
#: Lambda's /tmp: 512 MB unless a function asks for more, up to 10,240 MB.
DEFAULT_SCRATCH_MB, MAX_SCRATCH_MB = 512, 10240
#: What else the API function may keep in /tmp beside a spooled source_url fetch.
API_SPOOL_MARGIN_MB = 64
#: The production environment: no test-only setting (fault injection) may be turned on there.
PROD = "prod"
#: The retention periods CloudWatch Logs accepts, in days (0 keeps logs forever): the one table
#: that both checks ``log_retention_days`` and gives the log groups their retention.
LOG_RETENTION: dict[int, logs.RetentionDays] = {
    0: logs.RetentionDays.INFINITE,
    1: logs.RetentionDays.ONE_DAY,
    3: logs.RetentionDays.THREE_DAYS,
    5: logs.RetentionDays.FIVE_DAYS,
    7: logs.RetentionDays.ONE_WEEK,
    14: logs.RetentionDays.TWO_WEEKS,
    30: logs.RetentionDays.ONE_MONTH,
    60: logs.RetentionDays.TWO_MONTHS,
    90: logs.RetentionDays.THREE_MONTHS,
    120: logs.RetentionDays.FOUR_MONTHS,
    150: logs.RetentionDays.FIVE_MONTHS,
    180: logs.RetentionDays.SIX_MONTHS,
    365: logs.RetentionDays.ONE_YEAR,
    400: logs.RetentionDays.THIRTEEN_MONTHS,
    545: logs.RetentionDays.EIGHTEEN_MONTHS,
    731: logs.RetentionDays.TWO_YEARS,
    1096: logs.RetentionDays.THREE_YEARS,
    1827: logs.RetentionDays.FIVE_YEARS,
    2192: logs.RetentionDays.SIX_YEARS,
    2557: logs.RetentionDays.SEVEN_YEARS,
    2922: logs.RetentionDays.EIGHT_YEARS,
    3288: logs.RetentionDays.NINE_YEARS,
    3653: logs.RetentionDays.TEN_YEARS,
}
LOG_RETENTION_DAYS = tuple(LOG_RETENTION)
#: CloudFront takes only a web ACL of scope CLOUDFRONT ("global"), which lives in us-east-1.
CLOUDFRONT_WEB_ACL_ARN = re.compile(
    r"arn:aws[a-z-]*:wafv2:us-east-1:\d{12}:global/webacl/[\w-]{1,128}/[0-9a-f-]{36}"
)


def _scratch_mb(need_bytes: int) -> int:
    """Lambda ephemeral storage for ``need_bytes``: in 512 MB steps, never under the default."""
    return max(DEFAULT_SCRATCH_MB, math.ceil(need_bytes / MIB / DEFAULT_SCRATCH_MB) * DEFAULT_SCRATCH_MB)


class _Settings(BaseModel):
    """Strict JSON settings: no unknown key, no missing key, no coercion (``"1"`` is not 1)."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True)


class FunctionSizing(_Settings):
    """Memory and timeout of one Lambda function (Lambda's limits)."""

    memory_mb: int = Field(ge=128, le=10240)
    timeout_s: int = Field(ge=1, le=900)

    @property
    def whole_vcpus(self) -> int:
        """Full vCPUs at this memory: Lambda gives one per 1,769 MB; a thread more would share one."""
        return max(1, self.memory_mb // MB_PER_VCPU)


class Lifecycle(_Settings):
    """Object lifecycle: intermediate audio expires; raw uploads may move to Glacier; results stay."""

    work_expiry_days: int = Field(ge=1)
    #: null keeps uploads in S3 Standard
    raw_to_glacier_days: int | None = Field(ge=1)


class AlarmThresholds(_Settings):
    """Alarm thresholds; counts are per five-minute period, the duration is the hourly p95."""

    failed_executions: int = Field(ge=1)
    throttles: int = Field(ge=1)
    transcribe_errors: int = Field(ge=1)
    p95_job_duration_s: int = Field(ge=1)


class ApiSettings(_Settings):
    """The HTTP API stage's throttling: requests per second (steady) and the burst above it.

    Per stage, for all tenants together; each tenant's own rate limit and quota are enforced by the
    API function (tenants table), below these.
    """

    throttle_rate_per_s: float = Field(gt=0)
    throttle_burst: int = Field(ge=1)


class WafSettings(_Settings):
    """The API's web ACL: requests per source IP per 5 minutes (WAF's window; 100 is WAF's
    minimum) and the blocked requests per 5 minutes that raise the alarm."""

    requests_per_5_min_per_ip: int = Field(ge=100, le=2_000_000_000)
    blocked_alarm_threshold: int = Field(ge=1)


class JwtIssuerSettings(_Settings):
    """Who may sign bearer JWTs for the API. ``issuer`` null: the stack's own Cognito user pool
    (its ID tokens, whose ``aud`` is the pool's app client); otherwise an external OIDC issuer,
    whose JWKS is ``<issuer>/.well-known/jwks.json``, for ``audience``."""

    issuer: str | None
    audience: str | None
    tenant_claim: str = Field(min_length=1)
    #: the issuer's key set inline (the local stack's signing key, localrun/tokens.py); null: fetched
    jwks_json: str | None = None

    @model_validator(mode="after")
    def _audience_with_issuer(self) -> Self:
        if self.issuer is not None and not self.issuer.startswith("https://"):
            raise ValueError(f"jwt.issuer must be an https:// URL, not {self.issuer!r}")
        if (self.issuer is None) != (self.audience is None):
            raise ValueError("jwt.issuer and jwt.audience are given together (or both null: Cognito)")
        return self


class EnvironmentConfig(_Settings):
    name: str
    stack_name: str
    architecture: Literal["arm64", "x86_64"]
    #: child workflows of the Distributed Map at once (its limit is 10,000; Lambda's default account
    #: concurrency, 1,000, is the practical one)
    map_max_concurrency: int = Field(ge=1, le=1000)
    max_upload_mb: int = Field(ge=1)
    max_duration_minutes: int = Field(ge=1)
    #: the longest audio /v1/audio/* answers synchronously, within the API function's timeout
    sync_max_audio_s: int = Field(default=120, ge=1)
    #: the longest chunk, in seconds (MAX_CHUNK_SECONDS of the chunk function)
    max_chunk_seconds: int = Field(ge=1)
    #: hours a transcript is reused for the same audio and options (0: never)
    dedup_window_hours: float = Field(ge=0, le=24 * 365)
    engine: str
    #: probability that one engine or S3 call fails on purpose (transcriber/faults.py): tests and
    #: soak runs only; 0 turns it off, and the prod environment refuses anything else
    fault_rate: float
    functions: dict[str, FunctionSizing]
    retain_data: bool
    customer_managed_key: bool
    version_input_bucket: bool
    log_retention_days: int
    lifecycle: Lifecycle
    alarms: AlarmThresholds
    api: ApiSettings
    waf: WafSettings
    jwt: JwtIssuerSettings
    #: GuardDuty Malware Protection for S3 on the input bucket; on, only clean uploads start jobs
    malware_scanning: bool
    #: a CLOUDFRONT-scope WAF web ACL (us-east-1) for the web app's distribution; null: none
    web_acl_arn: str | None = None

    @field_validator("fault_rate")
    @classmethod
    def _a_probability(cls, rate: float) -> float:
        if not 0 <= rate <= 1:
            raise ValueError(f"must lie between 0 and 1, not {rate}")
        return rate

    @field_validator("web_acl_arn")
    @classmethod
    def _a_cloudfront_web_acl(cls, arn: str | None) -> str | None:
        if arn is not None and not CLOUDFRONT_WEB_ACL_ARN.fullmatch(arn):
            raise ValueError(
                "must be the ARN of a CLOUDFRONT-scope web ACL in us-east-1 "
                f"(arn:aws:wafv2:us-east-1:<account>:global/webacl/<name>/<id>), not {arn!r}"
            )
        return arn

    @field_validator("functions", mode="before")
    @classmethod
    def _every_function_sized(cls, sizing: Any) -> Any:
        if not isinstance(sizing, dict) or set(sizing) != set(FUNCTIONS):
            found = sorted(sizing) if isinstance(sizing, dict) else sizing
            raise ValueError(f"must set exactly {list(FUNCTIONS)}, not {found}")
        return sizing

    @field_validator("log_retention_days")
    @classmethod
    def _a_retention_logs_accept(cls, days: int) -> int:
        if days not in LOG_RETENTION:
            raise ValueError(f"must be one of {LOG_RETENTION_DAYS}, not {days}")
        return days

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if self.name == PROD and self.fault_rate != 0:
            raise ValueError(
                f"fault_rate must be 0 in {PROD!r} (fault injection is for tests), not {self.fault_rate}"
            )
        if self.chunk_scratch_mb > MAX_SCRATCH_MB:
            raise ValueError(
                f"max_upload_mb {self.max_upload_mb} and max_duration_minutes "
                f"{self.max_duration_minutes} need {self.chunk_scratch_mb} MB of /tmp in the chunk step, "
                f"over Lambda's {MAX_SCRATCH_MB} MB"
            )
        api_timeout = self.functions["api"].timeout_s
        if api_timeout > API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"functions.api.timeout_s must be at most {API_INTEGRATION_TIMEOUT_S} (API Gateway's "
                f"integration timeout), not {api_timeout}"
            )
        return self

    def function(self, name: str) -> FunctionSizing:
        return self.functions[name]

    @property
    def max_upload_bytes(self) -> int:
        return self.max_upload_mb * MIB

    @property
    def chunk_scratch_mb(self) -> int:
        """/tmp for the chunk step: the largest upload and twice its WAV at the longest duration
        (a channel split holds two at once; transcriber/domain/preparation.py)."""
        return _scratch_mb(scratch_bytes(self.max_upload_bytes, self.max_duration_minutes * 60.0))

    @property
    def api_scratch_mb(self) -> int:
        """/tmp for the API function: a ``source_url`` fetch is spooled there, up to the upload limit."""
        return _scratch_mb(self.max_upload_bytes + API_SPOOL_MARGIN_MB * MIB)

    @property
    def log_retention(self) -> logs.RetentionDays:
        return LOG_RETENTION[self.log_retention_days]

    @property
    def removal_policy(self) -> cdk.RemovalPolicy:
        """What deleting the stack does to its data: kept where ``retain_data`` (prod)."""
        return cdk.RemovalPolicy.RETAIN if self.retain_data else cdk.RemovalPolicy.DESTROY

    @classmethod
    def from_context(
        cls, env_name: str, environments: dict[str, Any], overrides: dict[str, Any] | None = None
    ) -> EnvironmentConfig:
        """Build the settings of ``env_name``; an unknown name is an error, never a default."""
        if env_name not in environments:
            raise ValueError(
                f"unknown environment {env_name!r}; choose one of: {', '.join(sorted(environments))}"
            )
        values = {**environments[env_name], **(overrides or {}), "name": env_name}
        where = f"environment {env_name!r}"
        try:
            return cls.model_validate(values)
        except ValidationError as error:
            raise ValueError("; ".join(_explain(error, where))) from None


_EXPECTED = {
    "int_type": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "an object",
    "model_type": "an object",
}


def _explain(error: ValidationError, where: str) -> list[str]:
    """One message per mistake, each naming its key: ``environment 'dev'.lifecycle.x must be ...``.

    Unknown and missing keys of one object are reported together, as
    ``<object>: unknown keys [...], missing [...]``.
    """
    messages: list[str] = []
    unknown: dict[str, list[str]] = {}
    missing: dict[str, list[str]] = {}

    def path(parts: tuple[int | str, ...]) -> str:
        return ".".join([where, *map(str, parts)])

    details: list[ErrorDetails] = error.errors(include_url=False)
    for detail in details:
        *parent, key = detail["loc"] or ("",)
        kind, value = detail["type"], detail["input"]
        if kind in ("extra_forbidden", "missing"):
            (unknown if kind == "extra_forbidden" else missing).setdefault(path(tuple(parent)), []).append(
                str(key)
            )
            continue
        at = path(detail["loc"])
        context = detail.get("ctx", {})
        if kind == "value_error":
            reason = str(context.get("error", detail["msg"]))
            messages.append(f"{at} {reason}" if detail["loc"] else f"{where}: {reason}")
        elif kind == "greater_than_equal":
            messages.append(f"{at} must be at least {context['ge']}, not {value!r}")
        elif kind == "greater_than":
            messages.append(f"{at} must be above {context['gt']}, not {value!r}")
        elif kind == "less_than_equal":
            messages.append(f"{at} must be at most {context['le']}, not {value!r}")
        elif kind == "literal_error":
            messages.append(f"{at} must be one of {context['expected']}, not {value!r}")
        else:
            messages.append(f"{at} must be {_EXPECTED.get(kind, detail['msg'])}, not {value!r}")
    for at in sorted({*unknown, *missing}):
        messages.append(
            f"{at}: unknown keys {sorted(unknown.get(at, []))}, missing {sorted(missing.get(at, []))}"
        )
    return messages
