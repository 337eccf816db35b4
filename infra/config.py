"""Per-environment settings, read from ``cdk.json`` context (``-c env=dev|staging|prod``).

Everything that differs between environments lives here, typed and checked before any construct
is created: a misspelt environment, key or value fails the synth with a message that names it,
instead of silently falling back to a default that would only show up in the deployed account.
"""

from __future__ import annotations

import types
import typing
from dataclasses import dataclass, fields
from typing import Any, TypeVar

ARCHITECTURES = ("arm64", "x86_64")
FUNCTIONS = ("ingest", "chunk", "transcribe", "aggregate", "fail", "api", "notifier")
#: API Gateway gives up on a Lambda integration after 29 s: the API function must answer sooner.
API_INTEGRATION_TIMEOUT_S = 29
#: The production environment: no test-only setting (fault injection) may be turned on there.
PROD = "prod"
# The retention periods CloudWatch Logs accepts (aws_logs.RetentionDays); 0 keeps logs forever.
LOG_RETENTION_DAYS = (
    0, 1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
)  # fmt: skip

_T = TypeVar("_T")


def _check_type(where: str, value: Any, expected: Any) -> None:
    options = typing.get_args(expected) if isinstance(expected, types.UnionType) else (expected,)
    for option in options:
        if option is type(None) and value is None:
            return
        # bool is an int in Python; a JSON true where a number belongs is still a mistake.
        if option is int and isinstance(value, int) and not isinstance(value, bool):
            return
        if option is float and isinstance(value, int | float) and not isinstance(value, bool):
            return
        if option in (str, bool) and isinstance(value, option):
            return
    raise ValueError(f"{where} must be {expected}, not {value!r}")


def _build(cls: type[_T], values: Any, where: str, *, nested: dict[str, Any] | None = None) -> _T:
    """Instantiate a settings dataclass from plain JSON, naming unknown, missing or mistyped keys."""
    if not isinstance(values, dict):
        raise ValueError(f"{where} must be an object, not {values!r}")
    hints = typing.get_type_hints(cls)
    expected = {f.name for f in fields(cls)}  # type: ignore[arg-type]
    unknown, missing = set(values) - expected, expected - set(values)
    if unknown or missing:
        raise ValueError(f"{where}: unknown keys {sorted(unknown)}, missing {sorted(missing)}")
    built: dict[str, Any] = {}
    for name, value in values.items():
        if nested and name in nested:
            built[name] = nested[name]
            continue
        _check_type(f"{where}.{name}", value, hints[name])
        built[name] = value
    return cls(**built)


@dataclass(frozen=True)
class FunctionSizing:
    """Memory and timeout of one Lambda function."""

    memory_mb: int
    timeout_s: int

    def __post_init__(self) -> None:
        if not 128 <= self.memory_mb <= 10240:
            raise ValueError(f"memory_mb must be within 128..10240, not {self.memory_mb}")
        if not 1 <= self.timeout_s <= 900:
            raise ValueError(f"timeout_s must be within 1..900 (Lambda's limit), not {self.timeout_s}")


@dataclass(frozen=True)
class Lifecycle:
    """Object lifecycle: intermediate audio expires; raw uploads may move to Glacier; results stay."""

    work_expiry_days: int
    raw_to_glacier_days: int | None

    def __post_init__(self) -> None:
        if self.work_expiry_days < 1:
            raise ValueError("work_expiry_days must be at least 1")
        if self.raw_to_glacier_days is not None and self.raw_to_glacier_days < 1:
            raise ValueError("raw_to_glacier_days must be at least 1, or null to keep uploads in Standard")


@dataclass(frozen=True)
class AlarmThresholds:
    """Alarm thresholds; counts are per five-minute period, the duration is the hourly p95."""

    failed_executions: int
    throttles: int
    transcribe_errors: int
    p95_job_duration_s: int

    def __post_init__(self) -> None:
        for f in fields(self):
            if getattr(self, f.name) < 1:
                raise ValueError(f"alarms.{f.name} must be at least 1")


@dataclass(frozen=True)
class ApiSettings:
    """The HTTP API stage's throttling: requests per second (steady) and the burst above it.

    Per stage, for all tenants together; each tenant's own rate limit and quota are enforced by the
    API function (tenants table), below these.
    """

    throttle_rate_per_s: float
    throttle_burst: int

    def __post_init__(self) -> None:
        if not self.throttle_rate_per_s > 0:
            raise ValueError(f"api.throttle_rate_per_s must be above 0, not {self.throttle_rate_per_s}")
        if self.throttle_burst < 1:
            raise ValueError(f"api.throttle_burst must be at least 1, not {self.throttle_burst}")


@dataclass(frozen=True)
class EnvironmentConfig:
    name: str
    stack_name: str
    architecture: str
    map_max_concurrency: int
    max_upload_mb: int
    max_duration_minutes: int
    chunk_max_seconds: int
    #: hours a transcript is reused for the same audio and options (0: never)
    dedup_window_hours: float
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

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise ValueError(f"architecture must be one of {ARCHITECTURES}, not {self.architecture!r}")
        if self.map_max_concurrency < 1:
            raise ValueError("map_max_concurrency must be at least 1")
        for name in ("max_upload_mb", "max_duration_minutes", "chunk_max_seconds"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1")
        if not 0 <= self.dedup_window_hours <= 24 * 365:
            raise ValueError("dedup_window_hours must lie between 0 and 8760")
        if not 0 <= self.fault_rate <= 1:
            raise ValueError(f"fault_rate must lie between 0 and 1, not {self.fault_rate}")
        if self.name == PROD and self.fault_rate != 0:
            raise ValueError(
                f"fault_rate must be 0 in {PROD!r} (fault injection is for tests), not {self.fault_rate}"
            )
        api_timeout = self.functions["api"].timeout_s
        if api_timeout > API_INTEGRATION_TIMEOUT_S:
            raise ValueError(
                f"functions.api.timeout_s must be at most {API_INTEGRATION_TIMEOUT_S} (API Gateway's "
                f"integration timeout), not {api_timeout}"
            )
        if self.log_retention_days not in LOG_RETENTION_DAYS:
            raise ValueError(
                f"log_retention_days must be one of {LOG_RETENTION_DAYS}, not {self.log_retention_days}"
            )

    def function(self, name: str) -> FunctionSizing:
        return self.functions[name]

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
        nested: dict[str, Any] = {}
        sizing = values.get("functions")
        if "functions" in values:
            if not isinstance(sizing, dict) or set(sizing) != set(FUNCTIONS):
                found = sorted(sizing) if isinstance(sizing, dict) else sizing
                raise ValueError(f"{where}.functions must set exactly {list(FUNCTIONS)}, not {found}")
            nested["functions"] = {
                fn: _build(FunctionSizing, sizing[fn], f"{where}.functions.{fn}") for fn in FUNCTIONS
            }
        if "lifecycle" in values:
            nested["lifecycle"] = _build(Lifecycle, values["lifecycle"], f"{where}.lifecycle")
        if "alarms" in values:
            nested["alarms"] = _build(AlarmThresholds, values["alarms"], f"{where}.alarms")
        if "api" in values:
            nested["api"] = _build(ApiSettings, values["api"], f"{where}.api")
        return _build(cls, values, where, nested=nested)
