"""AWS WAF in front of the HTTP API: per-client rate limits and AWS's managed rule groups.

The tenant limits in the API function count authenticated requests; this web ACL stops floods and
known-bad traffic before a request costs an invocation, including unauthenticated ones. The
managed common rule set's body-size rule is set to count only: uploads of up to 4 MiB may come
inline (``content_base64``) and multipart, and the function enforces its own size limits.

Two rate rules, one limit (cdk.json ``waf.requests_per_5_min_per_ip``):

* ``RatePerIp`` counts the connecting address. For a caller of the API's own URL that is the
  client; for the web app's ``/v1/*`` (CloudFront forwards it, web_hosting.py) it is a CloudFront
  edge server, shared by many viewers.
* ``RatePerForwardedIp`` (the API's web ACL only) counts the first address of X-Forwarded-For,
  which CloudFront sets to the viewer's address, so each web-app user is limited on their own.
  Requests without the header (direct callers, as a rule) are not counted by it, nor are those
  whose first entry is not an address (``FallbackBehavior`` NO_MATCH: a proxy that writes
  Squid's ``unknown`` is not blocked for it). A client may put its own X-Forwarded-For before
  CloudFront's, so this rule limits honest clients fairly but an attacker evades it by varying
  the header: against that, deploy the CloudFront web ACL (cloudfront_firewall.py), which sees
  the viewer's own address.
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
FORWARDED_RATE_RULE_NAME = "RatePerForwardedIp"
#: CloudFront appends the viewer's address to this header on the requests it forwards.
FORWARDED_IP_HEADER = "X-Forwarded-For"
#: Priorities: the rate rules first (cheap, and a blocked flood never reaches the managed groups),
#: then the managed groups from here, the same numbers in both web ACLs.
FIRST_MANAGED_PRIORITY = 2


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


def rate_rule(requests_per_5_min_per_ip: int, *, forwarded: bool = False) -> wafv2.CfnWebACL.RuleProperty:
    """Block a client above the limit (WAF's 5-minute window), before any managed rule runs: by
    its source IP, or (``forwarded``) by the address CloudFront forwarded (see the module's notes)."""
    name, priority = (FORWARDED_RATE_RULE_NAME, 1) if forwarded else (RATE_RULE_NAME, 0)
    by_address = wafv2.CfnWebACL.RateBasedStatementProperty(
        limit=requests_per_5_min_per_ip,
        aggregate_key_type="FORWARDED_IP" if forwarded else "IP",
        forwarded_ip_config=wafv2.CfnWebACL.ForwardedIPConfigurationProperty(
            header_name=FORWARDED_IP_HEADER, fallback_behavior="NO_MATCH"
        )
        if forwarded
        else None,
    )
    return wafv2.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        action=wafv2.CfnWebACL.RuleActionProperty(block={}),
        statement=wafv2.CfnWebACL.StatementProperty(rate_based_statement=by_address),
        visibility_config=visibility(name),
    )


def protective_rules(
    requests_per_5_min_per_ip: int, *, behind_cloudfront: bool = False
) -> list[wafv2.CfnWebACL.RuleProperty]:
    """The rate rule(s) then the managed groups. The web app's CloudFront web ACL
    (infra/constructs/cloudfront_firewall.py) sees each viewer's own address: the source-IP rule
    suffices there. The API's regional one also gets web-app requests through CloudFront
    (``behind_cloudfront``): the forwarded-address rule as well. The shared rules are identical."""
    rate_rules = [rate_rule(requests_per_5_min_per_ip)]
    if behind_cloudfront:
        rate_rules.append(rate_rule(requests_per_5_min_per_ip, forwarded=True))
    return [
        *rate_rules,
        *(
            _managed_rule(priority, name, counted)
            for priority, (name, counted) in enumerate(MANAGED_RULE_GROUPS, start=FIRST_MANAGED_PRIORITY)
        ),
    ]


class ApiFirewall(Construct):
    """A regional web ACL associated with the API's stage, with an alarm on blocked requests.

    ``requests_per_5_min_per_ip`` is WAF's rate window (5 minutes), per client address: the
    connecting one, and (for the web app's requests through CloudFront) the forwarded one.
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
            rules=protective_rules(requests_per_5_min_per_ip, behind_cloudfront=True),
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
