"""Metrics more than one function records, so that they are named and shaped in one place."""

from __future__ import annotations

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit, single_metric

from transcriber.domain.errors import fault_of

#: Failed jobs by whose fault they are (dimensions ``service`` and ``fault``); infra's alarm reads it.
FAILED_BY_FAULT_METRIC = "JobsFailedByFault"


def count_failure(metrics: Metrics, reason_code: str) -> None:
    """One failed job: ``JobsFailed`` (the total the dashboard reads), ``JobsFailedByReason`` and
    ``JobsFailedByFault`` (dimension ``fault``: ``input`` or ``service``, see
    ``transcriber.domain.errors.fault_of``; the on-call alarm counts the service's only).

    The reason is a dimension of its own metric: a reason_code dimension on JobsFailed would split
    the total that the dashboard reads.
    """
    metrics.add_metric(name="JobsFailed", unit=MetricUnit.Count, value=1)
    for name, dimension, value in (
        ("JobsFailedByReason", "reason_code", reason_code),
        (FAILED_BY_FAULT_METRIC, "fault", fault_of(reason_code).value),
    ):
        with single_metric(
            name=name, unit=MetricUnit.Count, value=1, default_dimensions=metrics.default_dimensions
        ) as split:
            split.add_dimension(name=dimension, value=value)
