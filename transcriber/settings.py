"""Runtime settings of the Lambda functions, read from the environment CDK sets."""

from __future__ import annotations

import os
from dataclasses import dataclass


def _required(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise RuntimeError(f"environment variable {name} is not set; the function is misconfigured")
    return value


@dataclass(frozen=True)
class Settings:
    jobs_table: str
    results_bucket: str
    event_bus_name: str
    state_machine_arn: str
    max_upload_bytes: int
    max_duration_s: float
    #: Powertools Idempotency records of ingest ('' where a function does not need them)
    idempotency_table: str = ""
    #: how long a transcript is reused for the same audio and options (0 turns reuse off)
    dedup_window_hours: float = 24.0
    #: the HTTP API's: where uploads go, the tenants table and how long an upload URL lasts
    input_bucket: str = ""
    tenants_table: str = ""
    upload_url_expiry_s: int = 900
    #: set by the local runtime only (never in AWS): webhooks may then use http to localhost
    local_mode: bool = False

    @classmethod
    def from_env(cls) -> Settings:
        return cls(
            jobs_table=_required("JOBS_TABLE"),
            results_bucket=os.environ.get("RESULTS_BUCKET", ""),
            event_bus_name=_required("EVENT_BUS_NAME"),
            state_machine_arn=os.environ.get("STATE_MACHINE_ARN", ""),
            max_upload_bytes=int(os.environ.get("MAX_UPLOAD_BYTES", str(500 * 1024 * 1024))),
            max_duration_s=float(os.environ.get("MAX_DURATION_SECONDS", str(4 * 3600))),
            idempotency_table=os.environ.get("IDEMPOTENCY_TABLE", ""),
            dedup_window_hours=float(os.environ.get("DEDUP_WINDOW_HOURS", "24")),
            input_bucket=os.environ.get("INPUT_BUCKET", ""),
            tenants_table=os.environ.get("TENANTS_TABLE", ""),
            upload_url_expiry_s=min(int(os.environ.get("UPLOAD_URL_EXPIRY_S", "900")), 900),
            local_mode=os.environ.get("TRANSCRIBER_LOCAL_MODE") == "1",
        )
