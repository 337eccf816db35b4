"""Custom vocabularies, one item per tenant and name in the tenants table (``vocabulary#<tenant>#<name>``).

The tenants table already holds per-tenant settings and the API may read and write single items
there; a vocabulary is small (at most 50 short phrases), so it needs no table of its own.
"""

from __future__ import annotations

from typing import Any

from transcriber.adapters import aws_clients
from transcriber.adapters.retry import translate_client_errors
from transcriber.domain.jobs import utc_now


def _pk(tenant_id: str, name: str) -> str:
    return f"vocabulary#{tenant_id}#{name}"


class VocabularyRepository:
    def __init__(self, table_name: str, resource: Any | None = None) -> None:
        self._table = (resource or aws_clients.resource("dynamodb")).Table(table_name)

    @translate_client_errors
    def put(self, tenant_id: str, name: str, phrases: tuple[str, ...]) -> dict[str, Any]:
        item = {"pk": _pk(tenant_id, name), "name": name, "phrases": list(phrases), "updated_at": utc_now()}
        self._table.put_item(Item=item)
        return item

    @translate_client_errors
    def get(self, tenant_id: str, name: str) -> dict[str, Any] | None:
        item = self._table.get_item(Key={"pk": _pk(tenant_id, name)}, ConsistentRead=True).get("Item")
        return dict(item) if item else None

    @translate_client_errors
    def delete(self, tenant_id: str, name: str) -> bool:
        """Whether there was one to delete."""
        gone = self._table.delete_item(Key={"pk": _pk(tenant_id, name)}, ReturnValues="ALL_OLD")
        return bool(gone.get("Attributes"))
