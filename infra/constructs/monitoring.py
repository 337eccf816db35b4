"""Alarms to an SNS topic, and one dashboard: what an on-call engineer looks at first.

Alarms cover the ways a job can be lost or late: jobs that fail through the service's fault
(not a bad upload's) or time out, messages in
any dead-letter queue (events nobody handled), throttled functions, transcribe errors and a slow
p95 job duration (the ``JobDuration`` EMF metric the aggregate function emits).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as actions
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.config import EnvironmentConfig
from transcriber.domain.errors import Fault
from transcriber.observability import FAILED_BY_FAULT_METRIC

FIVE_MINUTES = cdk.Duration.minutes(5)


class Monitoring(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: EnvironmentConfig,
        state_machine: sfn.StateMachine,
        functions: dict[str, lambda_.IFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        metrics_namespace: str,
        topic_key: kms.IKey | None,
    ) -> None:
        super().__init__(scope, construct_id)
        thresholds = config.alarms
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{config.stack_name} alarms",
            enforce_ssl=True,
            master_key=topic_key,
        )
        notify = actions.SnsAction(self.topic)
        self.alarms: list[cloudwatch.Alarm] = []
        self._alarm_names: list[str] = []

        def alarm(
            name: str,
            metric: cloudwatch.IMetric,
            threshold: float,
            description: str,
            comparison: cloudwatch.ComparisonOperator = (
                cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD
            ),
        ) -> None:
            alarm_name = f"{config.stack_name}-{name.removesuffix('Alarm')}"
            created = cloudwatch.Alarm(
                self,
                name,
                alarm_name=alarm_name,
                metric=metric,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=comparison,
                # No data means nothing happened (no jobs, no throttles): not an alarm.
                treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(notify)
            self.alarms.append(created)
            self._alarm_names.append(alarm_name)

        def failed_by_service(service: str) -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=metrics_namespace,
                metric_name=FAILED_BY_FAULT_METRIC,
                dimensions_map={"service": f"transcriber-{service}", "fault": Fault.SERVICE.value},
                statistic="Sum",
                period=FIVE_MINUTES,
            )

        # Every job failure ends the execution in its JobFailed state, a bad upload's too: the
        # executions' Failed metric would page on-call for a user's corrupt file. This counts the
        # failures that are the service's fault (MarkFailed's, and the sweeper's stalled jobs) and
        # the executions that timed out (whose MarkFailed may not have run; when it did, the
        # timeout counts twice, which only pages sooner for it).
        service_failures = cloudwatch.MathExpression(
            expression="FILL(failMarked, 0) + FILL(swept, 0) + FILL(timedOut, 0)",
            using_metrics={
                "failMarked": failed_by_service("fail"),
                "swept": failed_by_service("sweeper"),
                "timedOut": state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum"),
            },
            label="Jobs failed by the service, or timed out",
            period=FIVE_MINUTES,
        )
        alarm(
            "ExecutionsFailedAlarm",
            service_failures,
            thresholds.failed_executions,
            "Transcription jobs failed through the service's fault (not a bad upload) or timed out "
            "(JobsFailedByReason on the dashboard names the reasons)",
        )
        for name, queue in dead_letter_queues.items():
            alarm(
                f"{_pascal(name)}DeadLetterAlarm",
                queue.metric_approximate_number_of_messages_visible(period=FIVE_MINUTES, statistic="Maximum"),
                1,
                f"A message is waiting in the {name} dead-letter queue: an event was not handled",
            )
        for name, fn in functions.items():
            alarm(
                f"{_pascal(name)}ThrottlesAlarm",
                fn.metric_throttles(period=FIVE_MINUTES, statistic="Sum"),
                thresholds.throttles,
                f"The {name} function is being throttled (account or reserved concurrency)",
            )
        alarm(
            "TranscribeErrorsAlarm",
            functions["transcribe"].metric_errors(period=FIVE_MINUTES, statistic="Sum"),
            thresholds.transcribe_errors,
            "The transcribe function is failing invocations (retries may still save the job)",
        )
        job_duration_p95 = cloudwatch.Metric(
            namespace=metrics_namespace,
            metric_name="JobDuration",
            dimensions_map={"service": "transcriber-aggregate"},
            statistic="p95",
            period=cdk.Duration.hours(1),
            label="Job duration p95 (s)",
        )
        alarm(
            "JobDurationP95Alarm",
            job_duration_p95,
            thresholds.p95_job_duration_s,
            "The 95th percentile of upload-to-transcript time over the last hour is too long",
            cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        )

        self.dashboard = self._dashboard(
            config, state_machine, functions, dead_letter_queues, metrics_namespace, job_duration_p95
        )

    def _dashboard(
        self,
        config: EnvironmentConfig,
        state_machine: sfn.StateMachine,
        functions: dict[str, lambda_.IFunction],
        dead_letter_queues: dict[str, sqs.IQueue],
        namespace: str,
        job_duration_p95: cloudwatch.Metric,
    ) -> cloudwatch.Dashboard:
        def job_metric(name: str, service: str, statistic: str = "Sum") -> cloudwatch.Metric:
            return cloudwatch.Metric(
                namespace=namespace,
                metric_name=name,
                dimensions_map={"service": f"transcriber-{service}"},
                statistic=statistic,
                period=FIVE_MINUTES,
                label=f"{name} {statistic}" if statistic != "Sum" else name,
            )

        dashboard = cloudwatch.Dashboard(self, "Dashboard", dashboard_name=f"{config.stack_name}-pipeline")
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Jobs",
                left=[
                    job_metric("JobsCreated", "ingest"),
                    job_metric("JobsRejected", "ingest"),
                    job_metric("JobsCompleted", "aggregate"),
                    job_metric("JobsFailed", "fail"),
                ],
                width=12,
            ),
            cloudwatch.GraphWidget(
                title="Executions",
                left=[
                    state_machine.metric_started(period=FIVE_MINUTES),
                    state_machine.metric_succeeded(period=FIVE_MINUTES),
                    state_machine.metric_failed(period=FIVE_MINUTES),
                    state_machine.metric_timed_out(period=FIVE_MINUTES),
                    state_machine.metric_aborted(period=FIVE_MINUTES),
                ],
                width=12,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Job duration (s)",
                left=[job_metric("JobDuration", "aggregate", "p50"), job_duration_p95],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Chunk latency (s) and real-time factor",
                left=[
                    job_metric("ChunkLatency", "transcribe", "p50"),
                    job_metric("ChunkLatency", "transcribe", "p95"),
                ],
                right=[job_metric("RealTimeFactor", "transcribe", "Average")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Audio processed (s)",
                left=[job_metric("AudioSeconds", "chunk")],
                width=8,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Failed jobs by reason (state machine failures)",
                left=[
                    cloudwatch.MathExpression(
                        expression=(
                            f"SEARCH('{{{namespace},reason_code,service}} "
                            "MetricName=\"JobsFailedByReason\"', 'Sum', 300)"
                        ),
                        label="",
                        period=FIVE_MINUTES,
                    )
                ],
                width=24,
            ),
        )
        dashboard.add_widgets(
            cloudwatch.GraphWidget(
                title="Function errors",
                left=[fn.metric_errors(period=FIVE_MINUTES, label=name) for name, fn in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Function throttles",
                left=[fn.metric_throttles(period=FIVE_MINUTES, label=name) for name, fn in functions.items()],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Dead-letter queues (messages)",
                left=[
                    queue.metric_approximate_number_of_messages_visible(
                        period=FIVE_MINUTES, statistic="Maximum", label=name
                    )
                    for name, queue in dead_letter_queues.items()
                ],
                width=8,
            ),
        )
        # By name, not by the alarms' GetAtt Arn: the ARN is known from the name, and moto (the
        # local runtime) skips alarms, so a GetAtt would not resolve there.
        by_name = [
            cloudwatch.Alarm.from_alarm_name(self, f"{alarm.node.id}ByName", config_alarm_name)
            for alarm, config_alarm_name in zip(self.alarms, self._alarm_names, strict=True)
        ]
        dashboard.add_widgets(cloudwatch.AlarmStatusWidget(title="Alarms", alarms=by_name, width=24))
        return dashboard


def _pascal(name: str) -> str:
    return "".join(part.title() for part in name.replace("_", "-").split("-"))
