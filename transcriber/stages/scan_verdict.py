"""Ingest behind GuardDuty Malware Protection: a scan verdict becomes a job, or a refused one.

Where scanning is on (cdk.json ``malware_scanning``), ingest hears of an upload only through
GuardDuty's scan-result event (infra/constructs/malware_protection.py). A clean object goes through
the same ingest as an S3 notification would; anything else fails its job before a byte is read:
``MALWARE_DETECTED`` (and the object, with its version, is deleted) or ``MALWARE_SCAN_FAILED``
(unscannable objects fail closed and are kept for the operator to look at).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from transcriber.domain.errors import PermanentError
from transcriber.domain.malware import MalwareDetectedError, ScanResult
from transcriber.domain.messages import Upload
from transcriber.stages.ports import Store

logger = Logger(child=True)
#: ingest_object(upload=..., refused=...) behind the handler's idempotency guard
Ingest = Callable[..., dict[str, Any]]


class ScanResultEvent(EventBridgeModel):
    """GuardDuty's "Object Scan Result" event on the default bus, as EventBridge delivers it."""

    detail: ScanResult


def ingest_verdict(result: ScanResult, *, store: Store, ingest: Ingest) -> dict[str, Any]:
    """Start the object's job on a clean verdict; fail it (and delete a threat) otherwise."""
    obj = result.object
    logger.append_keys(bucket=obj.bucket, key=obj.key, scan_status=result.result.status.value)
    size = store.size(obj.bucket, obj.key)
    if size is None:  # deleted between the upload and the verdict (a DELETE of its job)
        logger.info("Scanned object is gone; nothing to ingest")
        return {"job_id": None, "status": "GONE", "started": False}
    upload = Upload(bucket=obj.bucket, key=obj.key, size=size, etag=obj.etag, version_id=obj.version_id)
    refusal: PermanentError | None = result.refusal()
    answer = ingest(upload=upload, refused=refusal)
    if isinstance(refusal, MalwareDetectedError):
        store.delete(obj.bucket, obj.key, version_id=obj.version_id)
        logger.warning("Malware found; the object was deleted", extra={"job_id": answer.get("job_id")})
    return answer
