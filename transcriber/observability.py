"""Metrics more than one function records, so that they are named and shaped in one place."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric


def count_failure(metrics: Metrics, reason_code: str) -> None:
    """One failed job: ``JobsFailed`` (the total alarms read) and ``JobsFailedByReason``.

    The reason is a dimension of its own metric: a reason_code dimension on JobsFailed would split
    the total that the dashboard and alarms read.
    """
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    with single_metric(
        name="JobsFailedByReason",
        unit=MetricUnit.Count,
        value=1,
        default_dimensions=metrics.default_dimensions,
    ) as by_reason:
        by_reason.add_dimension(name="reason_code", value=reason_code)
