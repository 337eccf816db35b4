"""The on-call alarm on failed jobs counts the service's failures, not a user's bad upload."""

from __future__ import annotations

import json
from typing import Any

from aws_cdk.assertions import Template


def _failure_alarm(template: Template) -> dict[str, Any]:
    alarms = template.find_resources("AWS::CloudWatch::Alarm")
    (alarm,) = (a for a in alarms.values() if json.dumps(a).count("ExecutionsFailed"))
    return dict(alarm["Properties"])


def _metric_stats(alarm: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {m["Id"]: m["MetricStat"]["Metric"] for m in alarm["Metrics"] if "MetricStat" in m}


def test_the_alarm_counts_service_failures_and_timeouts_not_every_failed_execution(prod: Template) -> None:
    alarm = _failure_alarm(prod)
    stats = _metric_stats(alarm)
    names = {metric["MetricName"] for metric in stats.values()}
    # Every job failure ends the execution in JobFailed: ExecutionsFailed would page on a bad upload.
    assert "ExecutionsFailed" not in names
    assert names == {"JobsFailedByFault", "ExecutionsTimedOut"}
    by_fault = [m for m in stats.values() if m["MetricName"] == "JobsFailedByFault"]
    assert {d["Value"] for m in by_fault for d in m["Dimensions"] if d["Name"] == "service"} == {
        "transcriber-fail",
        "transcriber-sweeper",
    }
    assert all({"Name": "fault", "Value": "service"} in m["Dimensions"] for m in by_fault)
    assert all(m["Namespace"] == "AudioTranscriber" for m in by_fault)
    (expression,) = (m["Expression"] for m in alarm["Metrics"] if "Expression" in m)
    assert all(metric_id in expression for metric_id in stats)
    assert alarm["Threshold"] == 1  # prod still pages on the first failure that is the service's
    assert alarm["AlarmActions"]
