"""The security review's fixes, as synthesized: browser CORS and CSP, exact cdk-nag reasons, the
data key's service conditions, and the API firewall's per-client rate rule behind CloudFront."""

from __future__ import annotations

import json
import re
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template
from constructs import IConstruct

from infra.constructs.firewall import (
    FORWARDED_IP_HEADER,
    FORWARDED_RATE_RULE_NAME,
    MANAGED_RULE_GROUPS,
    RATE_RULE_NAME,
    protective_rules,
)
from infra.constructs.web_hosting import UPLOAD_HEADERS
from infra.nag import acknowledge_findings
from infra.nag_web import REASONS as WEB_REASONS
from infra.stack import TranscriptionStack
from localrun.environment import REPO_ROOT


def _render(value: Any) -> str:
    """A CloudFormation value as text: Ref X is ``<X>``, GetAtt X.A is ``<X.A>``, joins joined."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            separator, parts = argument
            return str(separator).join(_render(part) for part in parts)
    return json.dumps(value, sort_keys=True)


def _logical_id(stack: cdk.Stack, construct: IConstruct) -> str:
    default = construct.node.default_child
    assert isinstance(default, cdk.CfnElement)
    return str(stack.resolve(default.logical_id))


# 1. The web app's uploads and downloads: CORS for its origin, and the CSP ----------------------


def _cors_rules(template: Template) -> dict[str, dict[str, Any]]:
    """Bucket logical id -> the CORS rule its custom resource puts (on create and on update)."""
    found: dict[str, dict[str, Any]] = {}
    for resource in template.find_resources("Custom::BucketCors").values():
        props = resource["Properties"]
        create, update = json.loads(_render(props["Create"])), json.loads(_render(props["Update"]))
        assert create == update
        assert create["action"] == "putBucketCors"
        assert json.loads(_render(props["Delete"]))["action"] == "deleteBucketCors"
        bucket = create["parameters"]["Bucket"].strip("<>")
        (rule,) = create["parameters"]["CORSConfiguration"]["CORSRules"]
        found[bucket] = rule
    return found


def _bucket(rules: dict[str, dict[str, Any]], prefix: str) -> dict[str, Any]:
    (rule,) = [rule for bucket, rule in rules.items() if bucket.startswith(prefix)]
    return rule


def test_only_the_web_apps_origin_may_put_uploads_and_get_transcripts(template: Template) -> None:
    (distribution,) = template.find_resources("AWS::CloudFront::Distribution")
    origin = f"https://<{distribution}.DomainName>"
    rules = _cors_rules(template)
    upload = _bucket(rules, "InputBucket")
    assert upload["AllowedOrigins"] == [origin]  # the distribution's domain, never "*"
    assert upload["AllowedMethods"] == ["PUT"]
    assert upload["AllowedHeaders"] == list(UPLOAD_HEADERS) == ["Content-Type"]
    download = _bucket(rules, "ResultsBucket")
    assert download["AllowedOrigins"] == [origin]
    assert download["AllowedMethods"] == ["GET"]
    assert "AllowedHeaders" not in download  # the redirected fetch sends only safelisted headers
    assert set(rules) == {b for b in rules if b.startswith(("InputBucket", "ResultsBucket"))}


def test_the_upload_sends_no_other_header_that_needs_cors() -> None:
    upload = (REPO_ROOT / "sdk-js" / "src" / "upload.js").read_text()
    (line,) = [line for line in upload.splitlines() if "const headers = {" in line]
    assert "'Content-Type'" in line and "opts.headers" in line
    # opts.headers is the API's upload_headers, which it does not send (its presigned URL carries
    # the signature in the query string)
    service = (REPO_ROOT / "transcriber" / "api" / "service.py").read_text()
    assert "upload_headers" not in service


def test_the_cors_rules_are_put_with_that_permission_only(template: Template) -> None:
    statements = [
        statement
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "s3:PutBucketCORS" in json.dumps(statement["Action"])
    ]
    resources = sorted(_render(s["Resource"]) for s in statements)
    assert all(s["Action"] == "s3:PutBucketCORS" for s in statements)
    assert [r.split("Bucket")[0] for r in resources] == ["<Input", "<Results"]
    assert all(r.endswith(".Arn>") for r in resources)  # the buckets, not their objects or "*"


def test_the_csp_lets_the_app_fetch_the_results_bucket_but_not_play_from_it(template: Template) -> None:
    (policy,) = template.find_resources("AWS::CloudFront::ResponseHeadersPolicy").values()
    csp = _render(
        policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]["ContentSecurityPolicy"][
            "ContentSecurityPolicy"
        ]
    )
    directives = {d.split(" ", 1)[0]: d for d in csp.split("; ")}
    (results,) = {m for m in re.findall(r"<(ResultsBucket\w+)\.", csp)}
    for attribute in ("RegionalDomainName", "DomainName"):
        assert f"https://<{results}.{attribute}>" in directives["connect-src"]
    assert results not in directives["media-src"]
    assert "InputBucket" in directives["connect-src"] and "InputBucket" in directives["media-src"]


# 2. cdk-nag acknowledgements name exactly what is granted ------------------------------------


def _principals(stack: TranscriptionStack) -> dict[str, IConstruct]:
    """nag.py's ``where`` -> the construct whose role the acknowledgement covers."""
    search = stack.search
    principals: dict[str, IConstruct] = {
        "IngestFunction": stack.ingest_fn,
        "ChunkFunction": stack.chunk_fn,
        "TranscribeFunction": stack.transcribe_fn,
        "AggregateFunction": stack.aggregate_fn,
        "SweeperFunction": stack.sweeper_fn,
        "ApiFunction": stack.api_fn,
        "SearchFunction": search.search_fn,
        "IndexerFunction": search.indexer_fn,
        "SearchMaintenanceFunction": search.maintenance_fn,
        "TranscriptionStateMachine (Distributed Map)": stack.state_machine,
    }
    assert stack.malware_protection is not None  # prod scans uploads
    principals["PlanRole"] = stack.malware_protection.node.find_child("PlanRole")
    return principals


def _role_id(stack: TranscriptionStack, principal: IConstruct) -> str:
    role: IConstruct = getattr(principal, "role", None) or principal  # a function's, or a role
    return _logical_id(stack, role)


def _grants(template: Template, role_id: str) -> list[tuple[str, str]]:
    """(action, resource) of every statement on ``role_id``'s policies, resources rendered."""
    out: list[tuple[str, str]] = []
    for policy in template.find_resources("AWS::IAM::Policy").values():
        if {"Ref": role_id} not in policy["Properties"]["Roles"]:
            continue
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
            actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
            resources = (
                statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
            )
            out += [(a, _render(r)) for a in actions for r in resources]
    return out


def _named(action: str, reason: str) -> bool:
    name = action.split(":", 1)[1]
    return re.search(rf"(?<![A-Za-z]){re.escape(name)}(?![A-Za-z])", reason) is not None


def test_each_s3_acknowledgement_names_every_action_granted_there(
    prod_stack: tuple[TranscriptionStack, Template],
) -> None:
    stack, template = prod_stack
    principals = _principals(stack)
    reasons_by_bucket: dict[tuple[str, str], list[str]] = {}
    checked = 0
    for accepted in acknowledge_findings(stack):
        found = re.fullmatch(r"AwsSolutions-IAM5\[Resource::(<(\w*Bucket\w*)\.Arn>/.+)\]", accepted.finding)
        if found is None or accepted.where not in principals:  # CDK's helpers: their own test
            continue
        resource, bucket = found.groups()
        role = _role_id(stack, principals[accepted.where])
        granted = {action for action, on in _grants(template, role) if on == resource}
        assert granted, (accepted.where, resource)
        missing = sorted(a for a in granted if not _named(a, accepted.reason))
        assert not missing, f"{accepted.where} on {resource}: the reason does not name {missing}"
        reasons_by_bucket.setdefault((role, bucket), []).append(accepted.reason)
        checked += 1
    assert checked >= 20
    # What a role may list on a bucket is named in what its acknowledgements there say.
    for (role, bucket), reasons in reasons_by_bucket.items():
        listed = {a for a, on in _grants(template, role) if on == f"<{bucket}.Arn>" and ":List" in a}
        missing = sorted(a for a in listed if not any(_named(a, r) for r in reasons))
        assert not missing, f"{role} on {bucket}: no reason names {missing}"


def test_the_sweepers_reason_no_longer_denies_its_reads_and_writes(
    prod_stack: tuple[TranscriptionStack, Template],
) -> None:
    stack, _ = prod_stack
    (reason,) = {
        a.reason
        for a in acknowledge_findings(stack)
        if a.where == "SweeperFunction" and "Bucket" in a.finding
    }
    for action in ("GetObject", "PutObject", "DeleteObject", "DeleteObjectVersion", "ListBucketVersions"):
        assert _named(f"s3:{action}", reason), action
    assert "only DeleteObject" not in reason and "no read." not in reason.lower()


def test_the_helper_functions_reasons_name_their_grants() -> None:
    deployment = WEB_REASONS["deployment-handler"]
    for action in ("cloudfront:CreateInvalidation", "s3:PutObject", "s3:DeleteObject*"):
        assert action in deployment, action
    assert "s3:PutBucketCORS" in WEB_REASONS["cors-handler"]
    assert "X-Forwarded-For" in WEB_REASONS["web-waf"]


# 3. The data key: services use it only for this account's queues and topics ------------------


def test_services_use_the_data_key_only_under_conditions(prod: Template) -> None:
    (key,) = prod.find_resources("AWS::KMS::Key").values()
    statements = key["Properties"]["KeyPolicy"]["Statement"]
    services = [s for s in statements if "Service" in s["Principal"]]
    assert {s["Principal"]["Service"] for s in services} == {
        "events.amazonaws.com",
        "cloudwatch.amazonaws.com",
    }
    for statement in services:  # one statement each: no unconditioned grant beside it
        assert statement["Condition"], statement
        assert sorted(statement["Action"]) == ["kms:Decrypt", "kms:GenerateDataKey*"]
    (events,) = [s for s in services if s["Principal"]["Service"] == "events.amazonaws.com"]
    assert {k: _render(v) for k, v in events["Condition"]["ArnLike"].items()} == {
        "kms:EncryptionContext:aws:sqs:arn": "arn:<AWS::Partition>:sqs:<AWS::Region>:<AWS::AccountId>:*"
    }
    (alarms,) = [s for s in services if s["Principal"]["Service"] == "cloudwatch.amazonaws.com"]
    assert alarms["Condition"]["StringEquals"] == {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}
    assert {k: _render(v) for k, v in alarms["Condition"]["ArnLike"].items()} == {
        "aws:SourceArn": "arn:<AWS::Partition>:cloudwatch:<AWS::Region>:<AWS::AccountId>:alarm:*",
        "kms:EncryptionContext:aws:sns:topicArn": "arn:<AWS::Partition>:sns:<AWS::Region>:<AWS::AccountId>:*",
    }


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_only_its_own_rule_may_send_to_a_job_events_queue(
    env: str, template: Template, prod: Template
) -> None:
    chosen = {"dev": template, "prod": prod}[env]
    sends = [
        statement
        for policy in chosen.find_resources("AWS::SQS::QueuePolicy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if statement.get("Principal") == {"Service": "events.amazonaws.com"}
    ]
    assert len(sends) >= 8  # four job-event queues and their DLQs, and the rules' other DLQs
    for statement in sends:
        assert statement["Action"] == "sqs:SendMessage"
        assert _render(statement["Condition"]["ArnEquals"]["aws:SourceArn"]).endswith(".Arn>")


# 4. The API firewall limits each client behind CloudFront too --------------------------------


def test_the_api_web_acl_limits_the_forwarded_client_address(template: Template) -> None:
    (acl,) = template.find_resources("AWS::WAFv2::WebACL", {"Properties": {"Scope": "REGIONAL"}}).values()
    rules = sorted(acl["Properties"]["Rules"], key=lambda rule: rule["Priority"])
    names = [rule["Name"] for rule in rules]
    assert names == [RATE_RULE_NAME, FORWARDED_RATE_RULE_NAME, *(name for name, _ in MANAGED_RULE_GROUPS)]
    source, forwarded = rules[0], rules[1]
    limit = source["Statement"]["RateBasedStatement"]["Limit"]
    assert source["Statement"]["RateBasedStatement"] == {"AggregateKeyType": "IP", "Limit": limit}
    assert forwarded["Action"] == {"Block": {}}
    assert forwarded["Statement"]["RateBasedStatement"] == {
        "AggregateKeyType": "FORWARDED_IP",
        "ForwardedIPConfig": {"HeaderName": "X-Forwarded-For", "FallbackBehavior": "NO_MATCH"},
        "Limit": limit,  # one setting: cdk.json waf.requests_per_5_min_per_ip
    }
    assert FORWARDED_IP_HEADER == "X-Forwarded-For"
    assert forwarded["VisibilityConfig"]["CloudWatchMetricsEnabled"] is True


def test_the_cloudfront_web_acl_keeps_the_source_address_rule_only() -> None:
    stack = cdk.Stack(cdk.App(), "Rules")
    at_the_edge = [stack.resolve(rule) for rule in protective_rules(500)]
    behind = [stack.resolve(rule) for rule in protective_rules(500, behind_cloudfront=True)]
    assert [r["name"] for r in at_the_edge] == [RATE_RULE_NAME, *(name for name, _ in MANAGED_RULE_GROUPS)]
    # the rules both web ACLs share are identical, priorities included
    assert [r for r in behind if r["name"] != FORWARDED_RATE_RULE_NAME] == at_the_edge
    assert len({r["priority"] for r in behind}) == len(behind)
