"""The HTTP API's wiring: its service and authentication over the real adapters, built once per
execution environment from the API function's environment model (transcriber/api/env.py)."""

from __future__ import annotations

from transcriber.adapters.events import EventPublisher
from transcriber.adapters.jobs_table import JobRepository
from transcriber.adapters.jwt_verifier import JwtVerifier
from transcriber.adapters.media_fetch import fetch_media
from transcriber.adapters.resolver import resolve_host
from transcriber.adapters.storage import ObjectStore
from transcriber.adapters.tenants_table import TenantRepository
from transcriber.adapters.vocabularies_table import VocabularyRepository
from transcriber.adapters.workflow import Workflow
from transcriber.api.env import ApiEnv
from transcriber.api.http_api import HttpApi
from transcriber.api.service import TranscriptionService
from transcriber.api.vocabularies import Vocabularies

#: the service's settings that the environment model holds under the same names
SERVICE_SETTINGS = {
    "input_bucket", "results_bucket", "max_upload_bytes", "upload_url_expiry_s", "local_mode", "engine",
    "sync_max_audio_s",
}  # fmt: skip


def wire(env: ApiEnv) -> HttpApi:
    """The API's service and authentication over the real adapters."""
    tenants = TenantRepository(env.tenants_table)
    service = TranscriptionService(
        jobs=JobRepository(env.jobs_table),
        objects=ObjectStore(),
        runs=Workflow(env.state_machine_arn),
        limits=tenants,
        resolve=resolve_host,
        **env.model_dump(include=SERVICE_SETTINGS),
        fetch_media=fetch_media,
        events=EventPublisher(env.event_bus_name) if env.event_bus_name else None,
        vocabularies=Vocabularies(VocabularyRepository(env.tenants_table)),
    )
    tokens = JwtVerifier(env.jwt) if env.jwt.enabled else None
    return HttpApi(service=service, tenants=tenants, tokens=tokens, live_status_url=env.live_status_url)
