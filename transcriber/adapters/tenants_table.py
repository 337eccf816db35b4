"""The tenants table (DynamoDB, partition key ``pk``): tenants, hashed API keys, usage counters.

Items: ``tenant#<id>`` (limits and webhook secret), ``key#<sha256 of the key>`` (which tenant a key
is, and whether it is revoked), ``revoked-key#<tenant id>#<key id>`` (a revoked key found by its
public id, which is all a live-status connection keeps of its key) and ``usage#<id>#<window>``
(atomic counters that expire through the table's TTL attribute ``expires_at`` once their window
is long past).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, TypedDict, Unpack

from botocore.exceptions import ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.dynamo_pages import every_item
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.jobs import utc_now
from transcriber.domain.rate_limits import RateLimitStatus
from transcriber.domain.retention import Retention
from transcriber.domain.tenants import (
    DEFAULT_JOBS_PER_DAY,
    DEFAULT_REQUESTS_PER_MINUTE,
    ApiKey,
    AuthenticationError,
    LimitExceededError,
    Tenant,
    Window,
    check_tenant_id,
    day_window,
    hash_api_key,
    minute_window,
    new_api_key,
    new_webhook_secret,
)


class TenantSettings(TypedDict, total=False):
    """A tenant's limits and retention as an operator sets them; absent or ``None``: unchanged
    (the defaults, for a new tenant)."""

    jobs_per_day: int | None
    requests_per_minute: int | None
    retention: Retention | None


#: Counters are kept a day past their window, then DynamoDB's TTL removes them.
_COUNTER_GRACE = timedelta(days=1)


def _tenant_from_item(item: dict[str, Any]) -> Tenant:
    return Tenant(
        tenant_id=str(item["tenant_id"]),
        webhook_secret=str(item["webhook_secret"]),
        jobs_per_day=int(item["jobs_per_day"]),
        requests_per_minute=int(item["requests_per_minute"]),
        created_at=str(item.get("created_at", "")),
        retention=Retention.from_record(item),
    )


def _key_from_item(item: dict[str, Any]) -> ApiKey:
    return ApiKey(
        key_id=str(item["key_id"]),
        tenant_id=str(item["tenant_id"]),
        created_at=str(item["created_at"]),
        revoked_at=str(item["revoked_at"]) if item.get("revoked_at") else None,
    )


def _revoked_key_pk(tenant_id: str, key_id: str) -> str:
    return f"revoked-key#{tenant_id}#{key_id}"


class TenantRepository:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)

    # Tenants ----------------------------------------------------------------------------------

    @translate_client_errors
    def tenant(self, tenant_id: str) -> Tenant | None:
        item = self._table.get_item(Key={"pk": f"tenant#{tenant_id}"}, ConsistentRead=True).get("Item")
        return _tenant_from_item(item) if item else None

    @translate_client_errors
    def ensure_tenant(self, tenant_id: str, **settings: Unpack[TenantSettings]) -> Tenant:
        """The tenant, created with the given (or default) limits if new; given limits (and a given
        retention, both of its periods) replace old ones."""
        check_tenant_id(tenant_id)
        limits = {
            "jobs_per_day": settings.get("jobs_per_day"),
            "requests_per_minute": settings.get("requests_per_minute"),
        }
        for name, limit in limits.items():
            if limit is not None and limit < 1:
                raise ValueError(f"{name} must be at least 1, not {limit}")
        retention = settings.get("retention")
        try:
            self._table.put_item(
                Item={
                    "pk": f"tenant#{tenant_id}",
                    "kind": "tenant",
                    "tenant_id": tenant_id,
                    "webhook_secret": new_webhook_secret(),
                    "jobs_per_day": limits["jobs_per_day"] or DEFAULT_JOBS_PER_DAY,
                    "requests_per_minute": limits["requests_per_minute"] or DEFAULT_REQUESTS_PER_MINUTE,
                    "created_at": utc_now(),
                    "retention": (retention or Retention()).to_record(),
                },
                ConditionExpression="attribute_not_exists(pk)",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise
            changes: dict[str, Any] = {k: v for k, v in limits.items() if v is not None}
            if retention is not None:
                changes["retention"] = retention.to_record()
            if changes:
                self._table.update_item(
                    Key={"pk": f"tenant#{tenant_id}"},
                    UpdateExpression="SET " + ", ".join(f"{k} = :{k}" for k in changes),
                    ExpressionAttributeValues={f":{k}": v for k, v in changes.items()},
                )
        tenant = self.tenant(tenant_id)
        assert tenant is not None
        return tenant

    # API keys ---------------------------------------------------------------------------------

    @translate_client_errors
    def create_key(self, tenant_id: str, **settings: Unpack[TenantSettings]) -> tuple[str, ApiKey, Tenant]:
        """A new API key for the tenant (created if new, or given ``settings`` as ensure_tenant
        takes them). The key itself is returned only here."""
        tenant = self.ensure_tenant(tenant_id, **settings)
        api_key, key_id = new_api_key()
        record = ApiKey(key_id=key_id, tenant_id=tenant_id, created_at=utc_now())
        self._table.put_item(
            Item={
                "pk": f"key#{hash_api_key(api_key)}",
                "kind": "key",
                "key_id": key_id,
                "tenant_id": tenant_id,
                "created_at": record.created_at,
            },
            ConditionExpression="attribute_not_exists(pk)",
        )
        return api_key, record, tenant

    def _key_items(self) -> list[dict[str, Any]]:
        keys_only = {"FilterExpression": "kind = :key", "ExpressionAttributeValues": {":key": "key"}}
        return list(every_item(self._table.scan, **keys_only))

    @translate_client_errors
    def list_keys(self, tenant_id: str | None = None) -> list[ApiKey]:
        """Every key (or one tenant's), oldest first. An admin operation: it scans the table."""
        keys = [_key_from_item(item) for item in self._key_items()]
        if tenant_id is not None:
            keys = [k for k in keys if k.tenant_id == tenant_id]
        return sorted(keys, key=lambda k: (k.created_at, k.key_id))

    @translate_client_errors
    def revoke_key(self, key_id: str) -> ApiKey | None:
        """Revoke the key with this id; None when there is none. Revoking twice keeps the first time."""
        for item in self._key_items():
            if item["key_id"] == key_id:
                resp = self._table.update_item(
                    Key={"pk": item["pk"]},
                    UpdateExpression="SET revoked_at = if_not_exists(revoked_at, :now)",
                    ExpressionAttributeValues={":now": utc_now()},
                    ReturnValues="ALL_NEW",
                )
                key = _key_from_item(resp["Attributes"])
                self._table.put_item(  # what key_revoked reads (a live connection keeps the key id)
                    Item={
                        "pk": _revoked_key_pk(key.tenant_id, key.key_id),
                        "kind": "revoked-key",
                        "key_id": key.key_id,
                        "tenant_id": key.tenant_id,
                        "revoked_at": key.revoked_at,
                    }
                )
                return key
        return None

    @translate_client_errors
    def key_revoked(self, tenant_id: str, key_id: str) -> bool:
        """Whether the tenant's key with this public id was revoked: one read, by id, not by hash."""
        item = self._table.get_item(Key={"pk": _revoked_key_pk(tenant_id, key_id)}, ConsistentRead=True)
        return "Item" in item

    @translate_client_errors
    def authenticate(self, api_key: str) -> Tenant:
        """The tenant of a valid, unrevoked key; AuthenticationError otherwise (one message for all)."""
        item = self._table.get_item(Key={"pk": f"key#{hash_api_key(api_key)}"}).get("Item")
        tenant = self.tenant(str(item["tenant_id"])) if item and not item.get("revoked_at") else None
        if tenant is None:
            raise AuthenticationError("The API key is not valid or has been revoked.")
        return tenant

    # Limits -----------------------------------------------------------------------------------

    def _count(self, tenant_id: str, window: Window, limit: int) -> bool:
        return self._count_used(tenant_id, window, limit) is not None

    def _count_used(self, tenant_id: str, window: Window, limit: int) -> int | None:
        """Count one use in the window: the uses so far, or None when the limit is reached."""
        try:
            resp = self._table.update_item(
                Key={"pk": f"usage#{tenant_id}#{window.name}"},
                UpdateExpression="ADD used :one SET expires_at = if_not_exists(expires_at, :expires)",
                ConditionExpression="attribute_not_exists(used) OR used < :limit",
                ExpressionAttributeValues={
                    ":one": 1,
                    ":limit": limit,
                    ":expires": int((window.ends_at + _COUNTER_GRACE).timestamp()),
                },
                ReturnValues="UPDATED_NEW",
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return None
            raise
        return int(resp.get("Attributes", {}).get("used", limit))

    @translate_client_errors
    def give_back_job(self, tenant: Tenant, now: datetime | None = None) -> None:
        """Undo :meth:`count_job` for a job that was not created after all (its source could not
        be fetched). Never below zero; a day that ended meanwhile keeps its count."""
        try:
            self._table.update_item(
                Key={"pk": f"usage#{tenant.tenant_id}#{day_window(now or datetime.now(UTC)).name}"},
                UpdateExpression="ADD used :minus_one",
                ConditionExpression="used > :zero",
                ExpressionAttributeValues={":minus_one": -1, ":zero": 0},
            )
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
                raise

    @translate_client_errors
    def count_request(self, tenant: Tenant, now: datetime | None = None) -> RateLimitStatus:
        """Count one API request: what is left of the minute's limit (``X-RateLimit-*``);
        LimitExceededError (429) past the tenant's per-minute limit."""
        now = now or datetime.now(UTC)
        window = minute_window(now)
        used = self._count_used(tenant.tenant_id, window, tenant.requests_per_minute)
        status = RateLimitStatus(
            limit=tenant.requests_per_minute,
            remaining=tenant.requests_per_minute - (used or tenant.requests_per_minute),
            reset_s=window.seconds_left(now),
        )
        if used is None:
            error = LimitExceededError(
                f"More than {tenant.requests_per_minute} requests in a minute; slow down.",
                retry_after_s=window.seconds_left(now),
            )
            error.rate_limit = status
            raise error
        return status

    @translate_client_errors
    def count_job(self, tenant: Tenant, now: datetime | None = None) -> None:
        """Count one new job; LimitExceededError (429) past the tenant's daily quota."""
        now = now or datetime.now(UTC)
        window = day_window(now)
        if not self._count(tenant.tenant_id, window, tenant.jobs_per_day):
            raise LimitExceededError(
                f"The daily quota of {tenant.jobs_per_day} jobs is used up; it resets at 00:00 UTC.",
                retry_after_s=window.seconds_left(now),
                reason_code="QUOTA_EXCEEDED",
            )
