"""The web app's CloudFront web ACL: the us-east-1 stack's rules and the distribution carrying it."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from infra.app import REPO_ROOT, build_app
from infra.config import EnvironmentConfig
from infra.constructs.cloudfront_firewall import CLOUDFRONT_WAF_REGION, CLOUDFRONT_WEB_ACL
from infra.constructs.firewall import FORWARDED_RATE_RULE_NAME, MANAGED_RULE_GROUPS, RATE_RULE_NAME

WEB_ACL_ARN = "arn:aws:wafv2:us-east-1:123456789012:global/webacl/web/0123abcd-0123-4567-89ab-0123456789ab"
PROD_RATE = 1500


@pytest.fixture(scope="module")
def synthesized(tmp_path_factory: pytest.TempPathFactory) -> tuple[Template, Template, str]:
    """prod with a web ACL configured and the web ACL's stack requested, cdk-nag on: the synth
    raises on any unacknowledged finding in either stack."""
    app, stack = build_app(
        "prod",
        outdir=str(tmp_path_factory.mktemp("cfwaf")),
        checks=True,
        context={CLOUDFRONT_WEB_ACL: "true"},  # as `cdk -c` passes it
        overrides={
            "web_acl_arn": WEB_ACL_ARN,
            "waf": {"requests_per_5_min_per_ip": PROD_RATE, "blocked_alarm_threshold": 50},
        },
    )
    app.synth()
    edge = app.node.find_child(f"{stack.stack_name}-WebAcl")
    assert isinstance(edge, cdk.Stack)  # a stack of its own, deployed on its own
    return Template.from_stack(stack), Template.from_stack(edge), str(edge.region)


def _distribution_config(template: Template) -> dict[str, Any]:
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution").values()
    return dict(distribution["Properties"]["DistributionConfig"])


def test_the_distribution_carries_the_configured_web_acl(synthesized: tuple[Template, Template, str]) -> None:
    main, _, _ = synthesized
    assert _distribution_config(main)["WebACLId"] == WEB_ACL_ARN


def test_without_a_web_acl_the_distribution_has_none(template: Template) -> None:
    assert "WebACLId" not in _distribution_config(template)


def test_the_web_acl_stack_is_cloudfront_scoped_in_us_east_1(
    synthesized: tuple[Template, Template, str],
) -> None:
    main, edge, region = synthesized
    assert region == CLOUDFRONT_WAF_REGION == "us-east-1"
    (acl,) = edge.find_resources("AWS::WAFv2::WebACL").values()
    assert acl["Properties"]["Scope"] == "CLOUDFRONT"
    assert acl["Properties"]["DefaultAction"] == {"Allow": {}}
    assert "WebAclArn" in edge.find_outputs("*")
    assert not main.find_resources("AWS::WAFv2::WebACL", {"Properties": {"Scope": "CLOUDFRONT"}})


def test_the_cloudfront_web_acl_limits_each_ip_then_applies_the_managed_groups(
    synthesized: tuple[Template, Template, str],
) -> None:
    _, edge, _ = synthesized
    (acl,) = edge.find_resources("AWS::WAFv2::WebACL").values()
    rules = sorted(acl["Properties"]["Rules"], key=lambda rule: rule["Priority"])
    assert [rule["Name"] for rule in rules] == [RATE_RULE_NAME, *(name for name, _ in MANAGED_RULE_GROUPS)]
    rate = rules[0]
    assert rate["Action"] == {"Block": {}}
    assert rate["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": PROD_RATE}
    managed = {rule["Name"]: rule for rule in rules[1:]}
    assert set(managed) == {
        "AWSManagedRulesCommonRuleSet",
        "AWSManagedRulesKnownBadInputsRuleSet",
        "AWSManagedRulesAmazonIpReputationList",
    }
    for rule in managed.values():
        assert rule["OverrideAction"] == {"None": {}}  # the groups block, not merely count
        assert rule["Statement"]["ManagedRuleGroupStatement"]["VendorName"] == "AWS"
        assert rule["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True
    common = managed["AWSManagedRulesCommonRuleSet"]["Statement"]["ManagedRuleGroupStatement"]
    # uploads through /v1/* may exceed the body-size rule; the API enforces its own limits
    assert common["RuleActionOverrides"] == [{"ActionToUse": {"Count": {}}, "Name": "SizeRestrictions_BODY"}]


def test_the_api_and_the_web_app_apply_the_same_rules(synthesized: tuple[Template, Template, str]) -> None:
    """The same rules, but for the API's own rate limit on the address CloudFront forwards (the
    web app's /v1/* reaches the API through CloudFront; the edge web ACL sees viewers directly)."""
    main, edge, _ = synthesized
    (api_acl,) = main.find_resources("AWS::WAFv2::WebACL", {"Properties": {"Scope": "REGIONAL"}}).values()
    (web_acl,) = edge.find_resources("AWS::WAFv2::WebACL").values()
    api_rules = [r for r in api_acl["Properties"]["Rules"] if r["Name"] != FORWARDED_RATE_RULE_NAME]
    assert len(api_rules) == len(api_acl["Properties"]["Rules"]) - 1
    assert api_rules == web_acl["Properties"]["Rules"]


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:wafv2:eu-west-1:123456789012:regional/webacl/api/0123abcd-0123-4567-89ab-0123456789ab",
        "arn:aws:wafv2:us-east-1:123456789012:regional/webacl/api/0123abcd-0123-4567-89ab-0123456789ab",
        "0123abcd-0123-4567-89ab-0123456789ab",
        "",
    ],
)
def test_a_web_acl_that_cloudfront_cannot_take_is_an_error(arn: str, tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match=r"environment 'dev'.web_acl_arn must be the ARN of a CLOUDFRONT-scope"
    ):
        build_app("dev", outdir=str(tmp_path), overrides={"web_acl_arn": arn})


def test_every_environment_ships_without_a_web_acl_until_one_is_deployed() -> None:
    environments = json.loads((REPO_ROOT / "cdk.json").read_text())["context"]["environments"]
    for name, values in environments.items():
        assert values["web_acl_arn"] is None
        assert EnvironmentConfig.from_context(name, environments).web_acl_arn is None
