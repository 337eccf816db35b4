"""``GET /v1/tenant``: the caller's own tenant settings: limits and data retention (never the
webhook secret, which is shown once, when the tenant is created)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from transcriber.domain.tenants import Tenant


class RetentionSettings(BaseModel):
    audio: str = Field(description="'keep', 'after-transcript' (deleted once transcribed) or 'N days'")
    transcripts: str = Field(description="'keep' or 'N days' after the job completed")


class TenantSettings(BaseModel):
    tenant_id: str
    jobs_per_day: int
    requests_per_minute: int
    retention: RetentionSettings


def settings_of(tenant: Tenant) -> TenantSettings:
    return TenantSettings(
        tenant_id=tenant.tenant_id,
        jobs_per_day=tenant.jobs_per_day,
        requests_per_minute=tenant.requests_per_minute,
        retention=RetentionSettings.model_validate(tenant.retention.describe()),
    )
