"""DELETE announces the deletion on the jobs bus (moto), so the search indexer forgets the job."""

from __future__ import annotations

from tests.handlers.conftest import Aws, api_service
from tests.handlers.test_api_service import TENANT, _completed_job
from transcriber.domain.messages import JobDeleted, JobEvent
from transcriber.domain.search import EVENT_JOB_DELETED
from transcriber.domain.search import JobEvent as IndexerEvent


class Bus:
    def __init__(self) -> None:
        self.events: list[JobEvent] = []

    def emit(self, event: JobEvent) -> None:
        self.events.append(event)


def test_deleting_a_job_emits_job_deleted_with_its_tenant(aws: Aws) -> None:
    job_id = "b" * 32
    _completed_job(aws, job_id, srt="", document={"segments": []})
    bus = Bus()
    service = api_service(max_upload_bytes=1024, events=bus)
    service.delete(TENANT, job_id)
    (event,) = bus.events
    assert isinstance(event, JobDeleted) and event.detail_type == EVENT_JOB_DELETED
    assert event.job_id == job_id and event.tenant_id == TENANT.tenant_id
    # What the indexer reads off the queue (EventBridge's envelope around the detail).
    envelope = {"detail-type": event.detail_type, "detail": event.to_wire()}
    parsed = IndexerEvent.model_validate(envelope)
    assert parsed.removes_job and parsed.detail.tenant_id == TENANT.tenant_id
