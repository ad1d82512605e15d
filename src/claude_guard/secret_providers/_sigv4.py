"""AWS Signature Version 4 and static credentials: the fallback used when the ``[aws]`` extra is absent.

With ``claude-guard[aws]`` installed, ``AWSSecretsManagerSource`` signs with botocore and takes credentials
from its default chain. Without it, it falls back to this module: the request is signed here with ``hmac`` and
``hashlib``, and credentials come only from ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` /
``AWS_SESSION_TOKEN`` (or ``credentials=`` in code). The signer is checked against AWS's own test vector.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import parse_qsl, quote, urlsplit

from ..errors import ConfigurationError
from ..secrets import Secret

__all__ = ["AWSCredentials", "sign_v4"]


@dataclass(frozen=True, slots=True)
class AWSCredentials:
    """AWS credentials for SigV4. ``from_env`` reads the standard variables."""

    access_key_id: str = field(repr=False)
    secret_access_key: Secret = field(repr=False)
    session_token: Secret | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> AWSCredentials:
        """Credentials from ``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY`` and ``AWS_SESSION_TOKEN``."""
        env = os.environ if environ is None else environ
        access = env.get("AWS_ACCESS_KEY_ID", "").strip()
        secret = env.get("AWS_SECRET_ACCESS_KEY", "").strip()
        if not access or not secret:
            raise ConfigurationError(
                "AWS Secrets Manager without the [aws] extra needs AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY "
                "in the environment; install claude-guard[aws] for botocore's credential chain (profiles, "
                "SSO, web identity, container and instance credentials)."
            )
        token = env.get("AWS_SESSION_TOKEN", "").strip()
        return cls(access, Secret(secret), Secret(token) if token else None)


def _aws_quote(value: str) -> str:
    return quote(value, safe="-_.~")


def sign_v4(
    *,
    method: str,
    url: str,
    headers: Mapping[str, str],
    body: bytes,
    region: str,
    service: str,
    credentials: AWSCredentials,
    now: datetime | None = None,
) -> dict[str, str]:
    """Sign a request with AWS Signature Version 4; return the headers to send (lower-case names).

    ``host`` and ``x-amz-date`` (and ``x-amz-security-token`` with a session token) are added and signed
    with every given header; ``authorization`` carries the signature. The path is encoded once, which is
    right for the ``/`` of the JSON APIs (Secrets Manager).

    Example (the ``get-vanilla`` case of AWS's SigV4 test suite):
        >>> from datetime import UTC, datetime
        >>> creds = AWSCredentials("AKIDEXAMPLE", Secret("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"))
        >>> signed = sign_v4(method="GET", url="https://example.amazonaws.com/", headers={}, body=b"",
        ...                  region="us-east-1", service="service", credentials=creds,
        ...                  now=datetime(2015, 8, 30, 12, 36, tzinfo=UTC))
        >>> signed["authorization"].split("Signature=")[1]
        '5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31'
    """
    parts = urlsplit(url)
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    amz_date = moment.strftime("%Y%m%dT%H%M%SZ")
    day = amz_date[:8]
    out = {name.lower(): value for name, value in headers.items()}
    out.setdefault("host", _host_header(url))
    out["x-amz-date"] = amz_date
    if credentials.session_token is not None:
        out["x-amz-security-token"] = credentials.session_token.get_secret_value()
    out.pop("authorization", None)
    names = sorted(out)
    canonical_headers = "".join(f"{name}:{' '.join(out[name].split())}\n" for name in names)
    signed_headers = ";".join(names)
    query = sorted((_aws_quote(k), _aws_quote(v)) for k, v in parse_qsl(parts.query, keep_blank_values=True))
    canonical_request = "\n".join(
        (
            method.upper(),
            quote(parts.path or "/", safe="/-_.~"),
            "&".join(f"{k}={v}" for k, v in query),
            canonical_headers,
            signed_headers,
            hashlib.sha256(body).hexdigest(),
        )
    )
    scope = f"{day}/{region}/{service}/aws4_request"
    string_to_sign = "\n".join(
        ("AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    key = ("AWS4" + credentials.secret_access_key.get_secret_value()).encode()
    for part in (day, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    out["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={credentials.access_key_id}/{scope}, "
        f"SignedHeaders={signed_headers}, Signature={signature}"
    )
    return out


def _host_header(url: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    default = {"http": 80, "https": 443}.get(parts.scheme)
    if parts.port is not None and parts.port != default:
        host = f"{host}:{parts.port}"
    return host
