"""The local stack's stand-in for an OIDC issuer: one RSA signing key, its JWKS, and minted tokens.

In AWS the API trusts a Cognito user pool (or any OIDC issuer configured per environment); locally
`make serve` trusts this key instead, so the JWT path of the API is exercised end to end without an
account. The key is made once per checkout and kept under .local/ (never committed).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

LOCAL_ISSUER = "https://issuer.transcriber.local"
LOCAL_AUDIENCE = "transcriber-api"
TENANT_CLAIM = "custom:tenant_id"
KEY_ID = "local-1"
#: The local signing key, per checkout (.local/ is never committed).
KEY_PATH = Path(__file__).resolve().parents[1] / ".local" / "jwt-signing-key.pem"


class LocalIssuer:
    """Signs tokens with a key kept in ``key_path`` (created on first use)."""

    def __init__(self, key_path: Path) -> None:
        if not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True)
            private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            key_path.write_bytes(
                private.private_bytes(
                    serialization.Encoding.PEM,
                    serialization.PrivateFormat.PKCS8,
                    serialization.NoEncryption(),
                )
            )
            key_path.chmod(0o600)
        self._private = serialization.load_pem_private_key(key_path.read_bytes(), password=None)

    def jwks(self) -> dict[str, Any]:
        """The public half as a JSON Web Key Set, as an issuer publishes it."""
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._private.public_key()))  # type: ignore[arg-type]
        return {"keys": [{**public, "kid": KEY_ID, "use": "sig", "alg": "RS256"}]}

    def mint(
        self,
        tenant_id: str,
        *,
        ttl_s: int = 3600,
        audience: str = LOCAL_AUDIENCE,
        issuer: str = LOCAL_ISSUER,
        now: float | None = None,
        extra: dict[str, Any] | None = None,
    ) -> str:
        """A signed access token for ``tenant_id`` (``ttl_s`` may be negative: an expired token)."""
        issued = int(now if now is not None else time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "sub": str(uuid.uuid4()),
            "iat": issued,
            "exp": issued + ttl_s,
            TENANT_CLAIM: tenant_id,
            **(extra or {}),
        }
        return jwt.encode(claims, self._private, algorithm="RS256", headers={"kid": KEY_ID})  # type: ignore[arg-type]


def local_trust(key_path: Path = KEY_PATH) -> dict[str, Any]:
    """The ``jwt`` settings (cdk.json's shape) by which a local stack trusts this issuer: its JWKS
    inline in the API function's environment, since there is no URL to fetch it from."""
    return {
        "issuer": LOCAL_ISSUER,
        "audience": LOCAL_AUDIENCE,
        "tenant_claim": TENANT_CLAIM,
        "jwks_json": json.dumps(LocalIssuer(key_path).jwks(), separators=(",", ":")),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="localrun.tokens", description="The local stack's JWT issuer.")
    commands = parser.add_subparsers(dest="command", required=True)
    mint = commands.add_parser("mint", help="print a token for a tenant of the local stack")
    mint.add_argument(
        "--tenant", required=True, help="the tenant id (it must exist: `make serve` makes 'dev')"
    )
    mint.add_argument("--ttl", type=int, default=3600, help="seconds the token is valid (default 3600)")
    commands.add_parser("jwks", help="print the public key set")
    args = parser.parse_args(argv)
    issuer = LocalIssuer(KEY_PATH)
    if args.command == "mint":
        print(issuer.mint(args.tenant, ttl_s=args.ttl))
    else:
        print(json.dumps(issuer.jwks(), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
