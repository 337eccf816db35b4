"""Starting the state machine's executions, idempotently, and asking how one is doing."""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from transcriber.adapters import aws_clients
from transcriber.adapters.retry import translate_client_errors


class Workflow:
    def __init__(self, state_machine_arn: str, client: Any | None = None) -> None:
        self._arn = state_machine_arn
        # arn:aws:states:<region>:<account>:stateMachine:<name> -> ...:execution:<name>:<execution>
        self._execution_prefix = state_machine_arn.replace(":stateMachine:", ":execution:", 1)
        self._client = client or aws_clients.client("stepfunctions")

    @translate_client_errors
    def start(self, name: str, payload: dict[str, Any]) -> bool:
        """Start one execution named ``name``; False when that execution already exists."""
        try:
            self._client.start_execution(stateMachineArn=self._arn, name=name, input=json.dumps(payload))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ExecutionAlreadyExists":
                return False
            raise
        return True

    def execution_arn(self, name: str) -> str:
        return f"{self._execution_prefix}:{name}"

    @translate_client_errors
    def status(self, name: str) -> str | None:
        """RUNNING, SUCCEEDED, FAILED, TIMED_OUT or ABORTED; None when no execution has that name."""
        try:
            resp = self._client.describe_execution(executionArn=self.execution_arn(name))
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") == "ExecutionDoesNotExist":
                return None
            raise
        return str(resp["status"])

    @translate_client_errors
    def stop(self, name: str, *, cause: str) -> bool:
        """Stop the execution if it is running; False when there is none or it had ended."""
        try:
            self._client.stop_execution(executionArn=self.execution_arn(name), cause=cause[:32768])
        except ClientError as err:
            if err.response.get("Error", {}).get("Code") in ("ExecutionDoesNotExist", "ExecutionNotRunning"):
                return False
            raise
        return True
