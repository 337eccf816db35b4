"""Who may sign bearer JWTs for the API: the stack's Cognito user pool, or an external issuer.

Users map to tenants by one claim (cdk.json ``jwt.tenant_claim``, ``custom:tenant_id``). In the
stack's own pool that attribute is immutable and the app client cannot write it, so a user cannot
move themselves into another tenant: an administrator sets it when creating the user. Cognito puts
custom attributes in ID tokens, whose ``aud`` is the app client id: the API verifies ID tokens.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cognito as cognito
from constructs import Construct

from infra.config import EnvironmentConfig


@dataclass(frozen=True)
class TrustedIssuer:
    """What the API function needs to verify a token (its environment: transcriber/api/env.py)."""

    issuer: str
    audience: str
    tenant_claim: str
    jwks_url: str = ""
    jwks_json: str = ""

    def env(self) -> dict[str, str]:
        """``JWT_<FIELD>`` for each field: the names transcriber/api/env.py reads."""
        return {f"JWT_{name.upper()}": value for name, value in dataclasses.asdict(self).items()}


class UserDirectory(Construct):
    """A Cognito user pool (administrators create users; MFA; strong passwords) and an app client."""

    def __init__(self, scope: Construct, construct_id: str, *, config: EnvironmentConfig) -> None:
        super().__init__(scope, construct_id)
        tenant_attribute = config.jwt.tenant_claim.removeprefix("custom:")
        self.user_pool = cognito.UserPool(
            self,
            "UserPool",
            user_pool_name=f"{config.stack_name}-users",
            self_sign_up_enabled=False,  # a user without a tenant has nothing to do here
            sign_in_aliases=cognito.SignInAliases(email=True),
            custom_attributes={
                tenant_attribute: cognito.StringAttribute(min_len=1, max_len=40, mutable=False)
            },
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            password_policy=cognito.PasswordPolicy(
                min_length=12,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            removal_policy=config.removal_policy,
        )
        self.client = self.user_pool.add_client(
            "ApiClient",
            auth_flows=cognito.AuthFlow(user_srp=True),
            generate_secret=False,
            prevent_user_existence_errors=True,
            id_token_validity=cdk.Duration.hours(1),
            access_token_validity=cdk.Duration.hours(1),
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True)
            .with_custom_attributes(tenant_attribute),
            # The tenant is never writable by the user through this client.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True),
        )


def trusted_issuer(scope: Construct, config: EnvironmentConfig) -> tuple[TrustedIssuer, UserDirectory | None]:
    """The issuer the environment names, or a new user pool where it names none."""
    jwt = config.jwt
    if jwt.issuer is not None and jwt.audience is not None:
        jwks_url = "" if jwt.jwks_json else f"{jwt.issuer.rstrip('/')}/.well-known/jwks.json"
        return (
            TrustedIssuer(jwt.issuer, jwt.audience, jwt.tenant_claim, jwks_url, jwt.jwks_json or ""),
            None,
        )
    directory = UserDirectory(scope, "Users", config=config)
    issuer = directory.user_pool.user_pool_provider_url
    return (
        TrustedIssuer(
            issuer=issuer,
            audience=directory.client.user_pool_client_id,
            tenant_claim=jwt.tenant_claim,
            jwks_url=f"{issuer}/.well-known/jwks.json",
        ),
        directory,
    )
