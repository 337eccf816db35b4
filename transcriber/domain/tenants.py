"""Tenants, their API keys and their limits: the rules, without AWS.

Every job belongs to one tenant. A caller of the HTTP API is the tenant its API key names; a file
dropped straight into the input bucket belongs to the tenant its key's prefix names
(``tenants/<tenant id>/...``), or to :data:`DEFAULT_TENANT`.

API keys look like ``trk_<key id>_<secret>``. Only a SHA-256 of the whole key is stored: the key
carries 256 bits of randomness, so a plain hash cannot be reversed by guessing, and looking a key
up is one read of its hash. The key id (8 hex characters) is public: it names the key in lists
and in ``revoke``, and is not enough to use it.

Limits are fixed windows: requests per minute and jobs per UTC day, counted atomically in the
tenants table. Over a limit, the caller is told when the window turns (``Retry-After``).
"""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from transcriber.domain.errors import PermanentError
from transcriber.domain.jobs import extension_of, safe_stem
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.retention import Retention

DEFAULT_TENANT = "default"
#: Object keys under this prefix name their tenant: ``tenants/<tenant id>/...``
TENANTS_PREFIX = "tenants"
API_KEY_PREFIX = "trk"
WEBHOOK_SECRET_PREFIX = "whsec"
DEFAULT_JOBS_PER_DAY = 500
DEFAULT_REQUESTS_PER_MINUTE = 120

_TENANT_ID = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?$")
_API_KEY = re.compile(rf"^{API_KEY_PREFIX}_([0-9a-f]{{8}})_([A-Za-z0-9_-]{{43}})$")
_RESERVED_UPLOAD = re.compile(rf"^{TENANTS_PREFIX}/([^/]+)/jobs/([0-9a-f]{{32}})/[^/]+$")


class AuthenticationError(PermanentError):
    reason_code = "UNAUTHORIZED"


class LimitExceededError(PermanentError):
    """Over a rate limit or a quota; ``retry_after_s`` says when the window turns."""

    reason_code = "RATE_LIMITED"
    #: the request limit's status, for the ``X-RateLimit-*`` headers of the 429
    rate_limit: RateLimitStatus | None = None

    def __init__(self, message: str, *, retry_after_s: int, reason_code: str | None = None) -> None:
        super().__init__(message, reason_code=reason_code)
        self.retry_after_s = max(1, retry_after_s)


class TooManySubscriptionsError(PermanentError):
    """A live-status connection holds the most subscriptions it may: a subscribe the client must
    change (subscribe to all its jobs instead)."""

    reason_code = "TOO_MANY_SUBSCRIPTIONS"


@dataclass(frozen=True)
class Tenant:
    tenant_id: str
    #: signs the tenant's webhooks (transcriber/domain/webhooks.py); shown once, at creation
    webhook_secret: str
    jobs_per_day: int
    requests_per_minute: int
    created_at: str = ""
    #: how long the tenant's audio and transcripts are kept (transcriber/domain/retention.py)
    retention: Retention = field(default_factory=Retention)


@dataclass(frozen=True)
class ApiKey:
    key_id: str
    tenant_id: str
    created_at: str
    revoked_at: str | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def check_tenant_id(tenant_id: str) -> str:
    """A tenant id is 1-40 lower-case letters, digits and inner hyphens: safe in keys and paths."""
    if not _TENANT_ID.match(tenant_id):
        raise ValueError(
            f"tenant id {tenant_id!r} is not valid: use 1-40 lower-case letters, digits and hyphens, "
            "starting and ending with a letter or digit"
        )
    return tenant_id


def tenant_of_key(key: str) -> str:
    """The tenant an input object belongs to: named by a ``tenants/<id>/`` prefix, else the default."""
    first, _, rest = key.partition("/")
    if first == TENANTS_PREFIX and rest:
        candidate = rest.split("/", 1)[0]
        if _TENANT_ID.match(candidate):
            return candidate
    return DEFAULT_TENANT


def upload_key(tenant_id: str, job_id: str, filename: str) -> str:
    """Where the API puts (or lets the client put) a job's audio; the file name is sanitised."""
    ext = extension_of(filename)
    name = safe_stem(filename) + (f".{ext}" if ext and re.fullmatch(r"[a-z0-9]{1,8}", ext) else "")
    return f"{TENANTS_PREFIX}/{check_tenant_id(tenant_id)}/jobs/{job_id}/{name}"


def reserved_job_of_key(key: str) -> tuple[str, str] | None:
    """(tenant id, job id) of an object uploaded for a job the API created, else None."""
    match = _RESERVED_UPLOAD.match(key)
    if not match or not _TENANT_ID.match(match.group(1)):
        return None
    return match.group(1), match.group(2)


def new_api_key() -> tuple[str, str]:
    """A fresh API key and its public key id."""
    key_id = secrets.token_hex(4)
    return f"{API_KEY_PREFIX}_{key_id}_{secrets.token_urlsafe(32)}", key_id


def new_webhook_secret() -> str:
    return f"{WEBHOOK_SECRET_PREFIX}_{secrets.token_hex(32)}"


def hash_api_key(api_key: str) -> str:
    return hashlib.sha256(api_key.encode("utf-8")).hexdigest()


def api_key_from_header(authorization: str | None) -> str:
    """The API key of an ``Authorization: Bearer <key>`` header; AuthenticationError otherwise."""
    if not authorization:
        raise AuthenticationError("Send your API key as 'Authorization: Bearer <key>'.")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("Use the Bearer scheme: 'Authorization: Bearer <key>'.")
    if not _API_KEY.match(token):
        raise AuthenticationError("The API key is malformed; keys look like 'trk_<id>_<secret>'.")
    return token


@dataclass(frozen=True)
class Window:
    """One fixed counting window: its id, when it ends and when its counter may be forgotten."""

    name: str
    ends_at: datetime

    def seconds_left(self, now: datetime) -> int:
        return max(1, int((self.ends_at - now).total_seconds() + 0.999))


def minute_window(now: datetime) -> Window:
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    return Window(name=f"rpm#{start:%Y%m%dT%H%M}", ends_at=start + timedelta(minutes=1))


def day_window(now: datetime) -> Window:
    start = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return Window(name=f"jobs#{start:%Y%m%d}", ends_at=start + timedelta(days=1))
