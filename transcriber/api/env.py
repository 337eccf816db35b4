"""The environment of the HTTP API and notifier functions, one pydantic model per handler.

Each handler validates its model in Lambda's init phase, so a missing or malformed variable
fails the deployment's first invocation with the variable's name, never a request later on.
The variable names are the ones infra/ sets (see infra/stack.py and infra/webhooks.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import fields
from typing import Annotated, Self

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from transcriber.adapters.jwt_verifier import JwtSettings

#: ``TRANSCRIBER_LOCAL_MODE=1`` is set by the local runtime only (never in AWS).
LocalMode = Annotated[bool, BeforeValidator(lambda raw: str(raw).strip() == "1")]
Name = Annotated[str, Field(min_length=1)]


class _FunctionEnv(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Self:
        """The model read from ``environ`` (default: the process environment); raises
        pydantic's ValidationError naming each missing or invalid variable."""
        return cls.model_validate(dict(os.environ if environ is None else environ))


class _TrustsJwt(_FunctionEnv):
    """Bearer JWTs (infra/constructs/identity.py gives the API and search functions the same
    ``JWT_*`` variables); no issuer: API keys only."""

    jwt_issuer: str = Field(default="", alias="JWT_ISSUER")
    jwt_audience: str = Field(default="", alias="JWT_AUDIENCE")
    jwt_tenant_claim: str = Field(default="custom:tenant_id", alias="JWT_TENANT_CLAIM")
    jwt_jwks_url: str = Field(default="", alias="JWT_JWKS_URL")
    jwt_jwks_json: str = Field(default="", alias="JWT_JWKS_JSON")

    @property
    def jwt(self) -> JwtSettings:
        """The ``jwt_*`` fields, unprefixed."""
        return JwtSettings(**{f.name: getattr(self, f"jwt_{f.name}") for f in fields(JwtSettings)})


class ApiEnv(_TrustsJwt):
    """functions/api: the tables, buckets and state machine the HTTP API works with."""

    jobs_table: Name = Field(alias="JOBS_TABLE")
    tenants_table: Name = Field(alias="TENANTS_TABLE")
    input_bucket: Name = Field(alias="INPUT_BUCKET")
    results_bucket: Name = Field(alias="RESULTS_BUCKET")
    state_machine_arn: Name = Field(alias="STATE_MACHINE_ARN")
    max_upload_bytes: int = Field(default=500 * 1024 * 1024, alias="MAX_UPLOAD_BYTES", gt=0)
    #: longer values are cut to 15 minutes by the service
    upload_url_expiry_s: int = Field(default=900, alias="UPLOAD_URL_EXPIRY_S", gt=0)
    #: the live-status WebSocket (wss://...), advertised in the OpenAPI document as x-live-status-url
    live_status_url: str | None = Field(default=None, alias="LIVE_STATUS_URL")
    local_mode: LocalMode = Field(default=False, alias="TRANSCRIBER_LOCAL_MODE")
    engine: str = Field(default="faster-whisper", alias="TRANSCRIBE_ENGINE")
    sync_max_audio_s: float = Field(default=120.0, alias="SYNC_MAX_AUDIO_S", gt=0)
    #: the jobs bus, where a deletion is announced (the search indexer removes the job)
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")


class SearchEnv(_TrustsJwt):
    """functions/search: who may search (the tenants table, bearer JWTs as the API trusts them);
    the index location is the adapter's."""

    tenants_table: Name = Field(alias="TENANTS_TABLE")
    search_index_uri: Name = Field(alias="SEARCH_INDEX_URI")


class NotifierEnv(_FunctionEnv):
    """functions/notifier: where jobs and tenants' webhook secrets are, and the queue it reads."""

    jobs_table: Name = Field(alias="JOBS_TABLE")
    tenants_table: Name = Field(alias="TENANTS_TABLE")
    #: set by infra; without it the URL is derived from each record's source ARN
    queue_url: str | None = Field(default=None, alias="QUEUE_URL")
    local_mode: LocalMode = Field(default=False, alias="TRANSCRIBER_LOCAL_MODE")


class LiveStatusEnv(_FunctionEnv):
    """functions/live and functions/pusher: connections, jobs, tenants (keys) and where to push."""

    connections_table: Name = Field(alias="CONNECTIONS_TABLE")
    jobs_table: Name = Field(alias="JOBS_TABLE")
    tenants_table: Name = Field(alias="TENANTS_TABLE")
    #: the WebSocket API's stage URL (https://<api>.execute-api.<region>.amazonaws.com/<stage>);
    #: functions/live never pushes and has none
    management_url: str | None = Field(default=None, alias="WEBSOCKET_MANAGEMENT_URL")
    local_mode: LocalMode = Field(default=False, alias="TRANSCRIBER_LOCAL_MODE")
