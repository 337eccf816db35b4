"""Reading every page of a DynamoDB query or scan: one answer holds at most 1 MB of items."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any


def every_item(read: Callable[..., Mapping[str, Any]], **request: Any) -> Iterator[dict[str, Any]]:
    """The items of ``read(**request)`` (a Table's ``query`` or ``scan``), page after page, read
    lazily: each page starts where the last one's ``LastEvaluatedKey`` left off."""
    while True:
        page = read(**request)
        yield from page.get("Items", [])
        if "LastEvaluatedKey" not in page:
            return
        request["ExclusiveStartKey"] = page["LastEvaluatedKey"]
