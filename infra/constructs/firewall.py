"""AWS WAF in front of the HTTP API: a per-IP rate limit and AWS's managed rule groups.

The tenant limits in the API function count authenticated requests; this web ACL stops floods and
known-bad traffic before a request costs an invocation, including unauthenticated ones. The
managed common rule set's body-size rule is set to count only: uploads of up to 4 MiB may come
inline (``content_base64``) and multipart, and the function enforces its own size limits.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_wafv2 as wafv2
from constructs import Construct

#: AWS managed rule groups, in priority order after the rate rule: (name, rules only counted)
MANAGED_RULE_GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("AWSManagedRulesAmazonIpReputationList", ()),
    ("AWSManagedRulesCommonRuleSet", ("SizeRestrictions_BODY",)),
    ("AWSManagedRulesKnownBadInputsRuleSet", ()),
)
RATE_RULE_NAME = "RatePerIp"


def visibility(metric_name: str) -> wafv2.CfnWebACL.VisibilityConfigProperty:
    return wafv2.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric_name, sampled_requests_enabled=True
    )


def _managed_rule(priority: int, name: str, counted: tuple[str, ...]) -> wafv2.CfnWebACL.RuleProperty:
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        override_action=wafv2.CfnWebACL.OverrideActionProperty(none={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            managed_rule_group_statement=wafv2.CfnWebACL.ManagedRuleGroupStatementProperty(
                vendor_name="AWS",
                name=name,
                rule_action_overrides=[
                    wafv2.CfnWebACL.RuleActionOverrideProperty(
                        name=rule, action_to_use=wafv2.CfnWebACL.RuleActionProperty(count={})
                    )
                    for rule in counted
                ]
                or None,
            )
        ),
        visibility_config=visibility(name),
    )


def rate_rule(requests_per_5_min_per_ip: int) -> wafv2.CfnWebACL.RuleProperty:
    """Block a source IP above the limit (WAF's 5-minute window), before any managed rule runs."""
    return wafv2.CfnWebACL.RuleProperty(
        name=RATE_RULE_NAME,
        priority=0,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(
            rate_based_statement=wafv2.CfnWebACL.RateBasedStatementProperty(
                limit=requests_per_5_min_per_ip, aggregate_key_type="IP"
            )
        ),
        visibility_config=visibility(RATE_RULE_NAME),
    )


def protective_rules(requests_per_5_min_per_ip: int) -> list[wafv2.CfnWebACL.RuleProperty]:
    """The rate rule then the managed groups: the API's regional web ACL and the web app's
    CloudFront one (infra/constructs/cloudfront_firewall.py) apply the same rules."""
    return [
        rate_rule(requests_per_5_min_per_ip),
        *(
            _managed_rule(priority, name, counted)
            for priority, (name, counted) in enumerate(MANAGED_RULE_GROUPS, start=1)
        ),
    ]


class ApiFirewall(Construct):
    """A regional web ACL associated with the API's stage, with an alarm on blocked requests.

    ``requests_per_5_min_per_ip`` is WAF's rate window (5 minutes, per source IP).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        stage_arn: str,
        name_prefix: str,
        requests_per_5_min_per_ip: int,
        blocked_alarm_threshold: int,
    ) -> None:
        super().__init__(scope, construct_id)
        metric_name = f"{name_prefix}-api"
        self.web_acl = wafv2.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=wafv2.CfnWebACL.DefaultActionProperty(allow={}),
            visibility_config=visibility(metric_name),
            rules=protective_rules(requests_per_5_min_per_ip),
        )
        wafv2.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self.blocked_requests = cloudwatch.Metric(
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions_map={"WebACL": metric_name, "Rule": "ALL", "Region": self.web_acl.stack.region},
            statistic="Sum",
            period=Duration.minutes(5),
        )
        self.blocked_alarm = cloudwatch.Alarm(
            self,
            "BlockedRequestsAlarm",
            alarm_description="WAF blocked many requests to the API: a flood or an attack in progress.",
            metric=self.blocked_requests,
            threshold=blocked_alarm_threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
