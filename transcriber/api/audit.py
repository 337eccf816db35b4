"""The audit trail of the HTTP API: one structured line per call, for operators to query.

Every call, answered or refused, becomes one ``api_call`` log line with who (tenant, key id),
what (action, job id), the outcome (HTTP status) and where from (request id, source IP). The
key itself, or any part of its secret, never appears: only the 8-hex-digit id that ``trk_<id>_``
keys carry in the clear (``transcriber keys list`` shows the same id). docs/deploy.md has the
CloudWatch Logs Insights query.
"""

from __future__ import annotations

import re
from typing import Any

from transcriber.domain.tenants import Tenant

AUDIT_MESSAGE = "api_call"
_JOB = r"(?P<job_id>[0-9a-f]{32})"
_VOCABULARY = r"[A-Za-z0-9_-]{1,64}"
#: (method, path pattern, action), one for every route of transcriber/api/routes.py and
#: openai_routes.py (tests/unit/test_audit_actions.py fails for a route without one). The names
#: follow the OpenAPI operations and must not change: operators' queries filter on them.
ACTIONS: tuple[tuple[str, re.Pattern[str], str], ...] = tuple(
    (method, re.compile(pattern), action)
    for method, pattern, action in (
        ("POST", r"^/v1/transcriptions/?$", "CreateTranscription"),
        ("GET", r"^/v1/transcriptions/?$", "ListTranscriptions"),
        ("GET", rf"^/v1/transcriptions/{_JOB}/?$", "GetTranscription"),
        ("DELETE", rf"^/v1/transcriptions/{_JOB}/?$", "DeleteTranscription"),
        ("GET", rf"^/v1/transcriptions/{_JOB}/segments/?$", "GetSegments"),
        ("PUT", rf"^/v1/transcriptions/{_JOB}/speakers/?$", "RenameSpeakers"),
        ("GET", rf"^/v1/transcriptions/{_JOB}/download/?$", "DownloadTranscript"),
        ("GET", rf"^/v1/transcriptions/{_JOB}/audio/?$", "GetAudio"),
        ("POST", rf"^/v1/transcriptions/{_JOB}/retry/?$", "RetryTranscription"),
        ("PUT", rf"^/v1/vocabularies/{_VOCABULARY}/?$", "PutVocabulary"),
        ("GET", rf"^/v1/vocabularies/{_VOCABULARY}/?$", "GetVocabulary"),
        ("DELETE", rf"^/v1/vocabularies/{_VOCABULARY}/?$", "DeleteVocabulary"),
        ("GET", r"^/v1/search/?$", "SearchTranscripts"),
        ("GET", r"^/v1/tenant/?$", "GetTenantSettings"),
        ("POST", r"^/v1/audio/transcriptions/?$", "CreateAudioTranscription"),
        ("POST", r"^/v1/audio/translations/?$", "CreateAudioTranslation"),
        ("GET", r"^/v1/openapi\.json$", "GetOpenApiDocument"),
    )
)
_KEY_ID = re.compile(r"^Bearer\s+trk_([0-9a-f]{8})_\S+$", re.I)


def key_id_of(authorization: str | None) -> str | None:
    """The public id of a well-formed ``Bearer trk_<id>_<secret>`` key; None for anything else,
    so a malformed header (perhaps a secret pasted wrongly) is never logged in part."""
    match = _KEY_ID.match((authorization or "").strip())
    return match.group(1).lower() if match else None


def action_of(method: str, path: str) -> tuple[str, str | None]:
    """The action a request asks for and the job id its path names (``Unknown`` for no route)."""
    if method == "OPTIONS":
        return "Preflight", None
    for wanted, pattern, action in ACTIONS:
        match = pattern.match(path)
        if match and wanted == method:
            return action, match.groupdict().get("job_id")
    return "Unknown", None


def outcome_of(status: int) -> str:
    if status in (401, 403):
        return "denied"
    if status == 429:
        return "throttled"
    if status < 400:
        return "success"
    return "client_error" if status < 500 else "server_error"


def audit_record(event: dict[str, Any], answer: dict[str, Any], tenant: Tenant | None) -> dict[str, Any]:
    """The fields of one call's audit line (no header, query or body is copied)."""
    headers = event.get("headers") or {}
    authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), None)
    context = event.get("requestContext") or {}
    method = str(event.get("httpMethod") or "").upper()
    action, job_id = action_of(method, str(event.get("path") or ""))
    status = int(answer.get("statusCode") or 0)
    if action == "CreateTranscription" and status == 201:
        job_id = _created_job_id(answer)
    return {
        "audit": True,
        "action": action,
        "method": method,
        "tenant_id": tenant.tenant_id if tenant else None,
        "key_id": key_id_of(authorization),
        "job_id": job_id,
        "status": status,
        "outcome": outcome_of(status),
        "request_id": context.get("requestId"),
        "source_ip": (context.get("identity") or {}).get("sourceIp"),
    }


def _created_job_id(answer: dict[str, Any]) -> str | None:
    match = re.search(r'"job_id"\s*:\s*"([0-9a-f]{32})"', str(answer.get("body") or ""))
    return match.group(1) if match else None
