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


def wire(env: ApiEnv) -> HttpApi:
    """The API's service and authentication over the real adapters."""
    tenants = TenantRepository(env.tenants_table)
    service = TranscriptionService(
        jobs=JobRepository(env.jobs_table),
        objects=ObjectStore(),
        runs=Workflow(env.state_machine_arn),
        limits=tenants,
        resolve=resolve_host,
        input_bucket=env.input_bucket,
        results_bucket=env.results_bucket,
        max_upload_bytes=env.max_upload_bytes,
        upload_url_expiry_s=env.upload_url_expiry_s,
        local_mode=env.local_mode,
        engine=env.engine,
        sync_max_audio_s=env.sync_max_audio_s,
        fetch_media=fetch_media,
        events=EventPublisher(env.event_bus_name) if env.event_bus_name else None,
        vocabularies=Vocabularies(VocabularyRepository(env.tenants_table)),
    )
    tokens = JwtVerifier(env.jwt) if env.jwt.enabled else None
    return HttpApi(service=service, tenants=tenants, tokens=tokens, live_status_url=env.live_status_url)
