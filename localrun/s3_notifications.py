"""S3 to Lambda notifications delivered the way AWS delivers them: asynchronously, after the PUT.

moto invokes the function inline, inside the PUT request and before it stores the object's user
metadata, so the function would see an object without the metadata that carries its job options,
and the uploader would wait for the function. AWS instead queues an asynchronous invocation once
the object exists, retries a failed one twice, then sends the event to the function's
dead-letter queue. This module does the same on background threads.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

log = logging.getLogger(__name__)

#: Lambda's default for asynchronous invocations: the first attempt plus two retries.
ASYNC_ATTEMPTS = 3
#: Seconds before each retry (AWS waits about 1 and 2 minutes; locally the shape matters, not the wait).
RETRY_DELAYS_S = (1.0, 2.0)

DeadLetter = Callable[[str, str], None]  # (function name, event JSON)


class AsyncS3Notifications:
    """Replaces moto's inline S3-to-Lambda call while installed."""

    def __init__(self, dead_letter: DeadLetter, max_workers: int = 4) -> None:
        self._dead_letter = dead_letter
        self._pool = ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="s3-notify")
        self._pending = threading.local()
        self._originals: dict[str, Any] = {}
        #: deliveries retried after a failed attempt, and events sent to a dead-letter queue
        self.retried = 0
        self.dead_lettered = 0

    def install(self) -> None:
        from moto.s3 import notifications
        from moto.s3.responses import S3Response

        self._originals = {
            "invoke": notifications._invoke_awslambda,
            "put_object": S3Response.put_object,
        }
        original_put = S3Response.put_object
        deliveries = self

        def invoke_later(account_id: str, event_body: Any, fn_arn: str, region_name: str) -> None:
            deliveries._queue(account_id, json.dumps(event_body), fn_arn, region_name)

        def put_object(response: S3Response) -> Any:
            with deliveries._deferred():
                return original_put(response)

        notifications._invoke_awslambda = invoke_later
        S3Response.put_object = put_object  # type: ignore[method-assign, assignment]

    def uninstall(self) -> None:
        from moto.s3 import notifications
        from moto.s3.responses import S3Response

        if self._originals:
            notifications._invoke_awslambda = self._originals["invoke"]
            S3Response.put_object = self._originals["put_object"]  # type: ignore[method-assign]
            self._originals = {}
        self._pool.shutdown(wait=False, cancel_futures=True)

    @contextmanager
    def _deferred(self) -> Iterator[None]:
        """Hold the notifications a PUT raises until the PUT (metadata included) has finished."""
        self._pending.calls = []
        try:
            yield
        finally:
            calls, self._pending.calls = self._pending.calls, None
            for call in calls:
                self._pool.submit(self._deliver, *call)

    def _queue(self, account_id: str, payload: str, fn_arn: str, region_name: str) -> None:
        calls = getattr(self._pending, "calls", None)
        if calls is not None:
            calls.append((account_id, payload, fn_arn, region_name))
        else:
            self._pool.submit(self._deliver, account_id, payload, fn_arn, region_name)

    def _deliver(self, account_id: str, payload: str, fn_arn: str, region_name: str) -> None:
        from moto.awslambda.utils import get_backend

        try:
            function = get_backend(account_id, region_name).get_function(fn_arn)
        except Exception:
            log.warning("S3 notification for a function that does not exist: %s", fn_arn)
            return
        for attempt in range(ASYNC_ATTEMPTS):
            try:
                _, errored, _ = function._invoke_lambda(payload)
            except Exception:
                log.exception("local S3 notification to %s raised", function.function_name)
                errored = True
            if not errored:
                return
            if attempt < len(RETRY_DELAYS_S):
                self.retried += 1
                time.sleep(RETRY_DELAYS_S[attempt])
        self.dead_lettered += 1
        self._dead_letter(function.function_name, payload)
