"""AWS Secrets Manager, through botocore and its default credential chain (the ``[aws]`` extra).

botocore does what the AWS SDKs do, so a gateway reads its key with whatever identity its platform gives it:

- credentials from the chain: ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``/``AWS_SESSION_TOKEN``; the
  shared config and credentials files (``AWS_PROFILE``, ``AWS_CONFIG_FILE``, ``AWS_SHARED_CREDENTIALS_FILE``),
  with ``role_arn``/``source_profile``, ``credential_process`` and IAM Identity Center (SSO) profiles read
  from the SSO token cache; web identity (``AWS_WEB_IDENTITY_TOKEN_FILE`` + ``AWS_ROLE_ARN``: EKS IRSA);
  container credentials (``AWS_CONTAINER_CREDENTIALS_RELATIVE_URI`` for ECS task roles, ``..._FULL_URI``
  with ``AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`` for EKS Pod Identity); the EC2 instance profile through
  IMDSv2.
  Temporary credentials are refreshed by botocore before they expire.
- the region: ``region=``, else the ARN's, else botocore's (``AWS_REGION``, ``AWS_DEFAULT_REGION``, the
  profile's ``region``).
- the endpoint: ``endpoint_url=``, else botocore's (``AWS_ENDPOINT_URL_SECRETS_MANAGER``,
  ``AWS_ENDPOINT_URL``, the profile's ``endpoint_url``, or ``services`` sections); https unless loopback.

Why botocore and not aiobotocore: a key is read once per refresh interval (minutes), so a worker thread costs
nothing that matters, while aiobotocore pins botocore to a window of a few patch releases
(``>=1.43.115,<1.43.118`` for 3.10.0), which fights any application that also pins boto3, and adds aiohttp
and four more packages; measured here, ``import aiobotocore.session`` takes 0.29 s against botocore's
0.15 s. botocore's client is thread-safe; one is built on first use and reused.

Without the extra, the source falls back to the SigV4 signer of ``_sigv4`` with static credentials from the
environment only, and says so in a warning at construction.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

import httpx

from ..errors import ConfigurationError, SecretSourceError
from ..logscrub import register
from ..secrets import Secret, check_https_url
from ._cached import DEFAULT_RETRY_AFTER_ERROR, CachedSecretSource, send_request
from ._sigv4 import AWSCredentials, sign_v4

__all__: list[str] = []  # public through claude_guard.secret_providers (one place per name)

logger = logging.getLogger("claude_guard.secrets")

_CHAIN = (
    "environment, shared config and credentials files (profiles, SSO), web identity, "
    "container credentials, EC2 instance metadata"
)


def botocore_available() -> bool:
    """Whether the ``[aws]`` extra (botocore) can be imported."""
    try:
        import botocore.session  # noqa: F401
    except ImportError:
        return False
    return True


class AWSSecretsManagerSource(CachedSecretSource):
    """A secret read from AWS Secrets Manager with ``GetSecretValue``.

    Args:
        secret_id: The secret's name or ARN.
        region: The AWS region; defaults to the ARN's region, then botocore's resolution.
        endpoint_url: Overrides the endpoint botocore would use; https unless loopback.
        profile: A profile of the shared config files (else ``AWS_PROFILE``, else the default chain).
        field: When set, ``SecretString`` is a JSON object and the key is its member ``field``; else the
            whole ``SecretString`` (or the UTF-8 text of ``SecretBinary``) is the key.
        version_stage: e.g. ``AWSPENDING`` or ``AWSPREVIOUS``; AWS defaults to ``AWSCURRENT``.
        version_id: A version's id, instead of a stage.
        credentials: Fixed credentials, or a callable returning them per read; by default botocore's chain
            (or, without the extra, the environment's static variables read on every read).
        ttl, jitter, retry_after_error, clock, rng: See ``CachedSecretSource``.
        timeout: Seconds to connect to AWS, and to wait for an answer.
        environ: The environment for the fallback without botocore (botocore reads the process's).
        client: An ``httpx.AsyncClient`` for the fallback; by default one is opened per read.

    Example:
        >>> source = AWSSecretsManagerSource("prod/claude", region="eu-west-1", field="api_key")
        >>> source
        AWSSecretsManagerSource('prod/claude', region='eu-west-1', field='api_key')
        >>> source.name
        'aws-secretsmanager:prod/claude'
    """

    kind = "aws-secretsmanager"
    # botocore's parser logs the whole answer at DEBUG, its endpoint and signer log the session token.
    quiet_loggers = (
        "botocore.parsers",
        "botocore.endpoint",
        "botocore.auth",
        "botocore.httpsession",
        "botocore.retryhandler",
        "botocore.utils",  # IMDS and container-credential answers
    )

    def __init__(
        self,
        secret_id: str,
        *,
        region: str | None = None,
        endpoint_url: str | None = None,
        profile: str | None = None,
        field: str | None = None,
        version_stage: str | None = None,
        version_id: str | None = None,
        credentials: AWSCredentials | Callable[[], AWSCredentials] | None = None,
        ttl: float = 300.0,
        jitter: float = 0.1,
        retry_after_error: float = DEFAULT_RETRY_AFTER_ERROR,
        timeout: float = 10.0,
        environ: Mapping[str, str] | None = None,
        client: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.monotonic,
        rng: Callable[[], float] = random.random,
    ) -> None:
        super().__init__(ttl=ttl, jitter=jitter, retry_after_error=retry_after_error, clock=clock, rng=rng)
        env = os.environ if environ is None else environ
        if not secret_id.strip():
            raise ConfigurationError("AWS Secrets Manager: the secret id is empty.")
        if version_stage and version_id:
            raise ConfigurationError("AWS Secrets Manager: pass version_stage or version_id, not both.")
        self.secret_id = secret_id.strip()
        self.name = f"aws-secretsmanager:{self.secret_id}"
        self.field = field
        self.version_stage = version_stage
        self.version_id = version_id
        self.profile = profile
        self.timeout = timeout
        self._client = client
        self._boto_client: Any = None
        self._client_credentials: AWSCredentials | None = None
        self._session: Any = None
        self._lock = threading.Lock()
        arn_region = None
        if self.secret_id.startswith("arn:"):
            arn = self.secret_id.split(":")
            arn_region = arn[3] if len(arn) > 3 and arn[3] else None
        self.uses_botocore = botocore_available()
        if self.uses_botocore:
            import botocore.exceptions
            import botocore.session

            try:
                self._session = botocore.session.Session(profile=profile)
                self._session.get_scoped_config()  # a profile that is not there fails here, at start-up
                # botocore's order (AWS_DEFAULT_REGION, the profile), then AWS_REGION as the other SDKs and
                # Lambda/ECS/EKS set it, then the instance's region from IMDS as the other SDKs do on EC2.
                sdk_region = (
                    region
                    or arn_region
                    or self._session.get_config_variable("region")
                    or os.environ.get("AWS_REGION")
                    or _imds_region(self._session)
                )
            except botocore.exceptions.ProfileNotFound:
                raise ConfigurationError(
                    f"AWS Secrets Manager secret {self.secret_id!r}: profile {profile!r} is not in the "
                    "shared config files."
                ) from None
        else:
            sdk_region = env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION")
            logger.warning(
                "claude_guard: %s: botocore is not installed, so only static AWS credentials from the "
                "environment can be used; install claude-guard[aws] for the SDK's credential chain",
                self.name,
            )
        region = region or arn_region or sdk_region
        if not region or not region.strip():
            raise ConfigurationError(
                f"AWS Secrets Manager secret {self.secret_id!r}: no region; pass region= (or ?region= in "
                "the URL), or set AWS_REGION, or a region in the AWS profile."
            )
        self.region = region.strip()
        if endpoint_url is None and not self.uses_botocore:
            endpoint_url = (
                env.get("AWS_ENDPOINT_URL_SECRETS_MANAGER")
                or env.get("AWS_ENDPOINT_URL")
                or f"https://secretsmanager.{self.region}.amazonaws.com"
            )
        if endpoint_url is None and self.uses_botocore:
            # botocore resolves these itself; checked here so an http URL fails at start-up.
            configured = os.environ.get("AWS_ENDPOINT_URL_SECRETS_MANAGER") or os.environ.get(
                "AWS_ENDPOINT_URL"
            )
            if configured:
                check_https_url(configured.strip(), "The AWS Secrets Manager endpoint")
        self.endpoint_url = (
            check_https_url(endpoint_url.strip(), "The AWS Secrets Manager endpoint")
            if endpoint_url
            else None
        )
        self._credentials: Callable[[], AWSCredentials] | None
        if credentials is None:
            if not self.uses_botocore:
                AWSCredentials.from_env(env)  # fail at start-up, not at the first request
                self._credentials = lambda: AWSCredentials.from_env(env)
            else:
                self._credentials = None
        elif isinstance(credentials, AWSCredentials):
            fixed = credentials
            self._credentials = lambda: fixed
        else:
            self._credentials = credentials

    def __repr__(self) -> str:
        return f"AWSSecretsManagerSource({self.secret_id!r}, region={self.region!r}, field={self.field!r})"

    def _fail(self, why: str) -> SecretSourceError:
        return SecretSourceError(f"AWS Secrets Manager could not read secret {self.secret_id!r}: {why}")

    def _details(self) -> Iterable[tuple[str, str]]:
        yield ("region", self.region)
        if self.endpoint_url:
            yield ("endpoint", self.endpoint_url)
        if self.version_stage or self.version_id:
            yield ("version", self.version_stage or self.version_id or "")
        yield ("sdk", "botocore" if self.uses_botocore else "none (static credentials from the environment)")
        if self.profile:
            yield ("profile", self.profile)

    async def _fetch(self) -> Secret:
        if self.uses_botocore:
            text = await asyncio.to_thread(self._read_with_botocore)
        else:
            text = await self._read_with_sigv4()
        return Secret(pick_field(text, self.field, self._fail))

    # --- botocore -----------------------------------------------------------------------------------------

    def _botocore_client(self) -> Any:
        with self._lock:
            given = self._credentials() if self._credentials is not None else None
            if self._boto_client is not None and given == self._client_credentials:
                return self._boto_client
            from botocore.config import Config

            kwargs: dict[str, Any] = {}
            if given is not None:
                # Credentials from code: a callable may return new ones (rotated), and a client is built anew.
                fixed = given
                for value in (fixed.secret_access_key, fixed.session_token):
                    if value is not None:
                        register(value)
                kwargs = {
                    "aws_access_key_id": fixed.access_key_id,
                    "aws_secret_access_key": fixed.secret_access_key.get_secret_value(),
                    "aws_session_token": (
                        fixed.session_token.get_secret_value() if fixed.session_token is not None else None
                    ),
                }
            client = self._session.create_client(
                "secretsmanager",
                region_name=self.region,
                endpoint_url=self.endpoint_url,
                config=Config(
                    connect_timeout=self.timeout,
                    read_timeout=self.timeout,
                    retries={"mode": "standard", "max_attempts": 3},
                    user_agent_extra="claude-guard",
                ),
                **kwargs,
            )
            check_https_url(client.meta.endpoint_url, "The AWS Secrets Manager endpoint")
            if self._boto_client is not None:
                self._boto_client.close()
            self._boto_client, self._client_credentials = client, given
            return client

    def _register_credentials(self) -> None:
        try:
            credentials = self._session.get_credentials() if self._credentials is None else None
            frozen = credentials.get_frozen_credentials() if credentials is not None else None
        except Exception:  # a chain that cannot resolve has nothing to register; the read said why
            return
        if frozen is None:
            return
        for value in (frozen.secret_key, frozen.token):
            if value:
                register(Secret(value))

    def _read_with_botocore(self) -> str:
        import botocore.exceptions as bex

        request: dict[str, str] = {"SecretId": self.secret_id}
        if self.version_stage:
            request["VersionStage"] = self.version_stage
        if self.version_id:
            request["VersionId"] = self.version_id
        try:
            answer = self._botocore_client().get_secret_value(**request)
        except ConfigurationError as exc:
            raise self._fail(exc.message) from None
        except bex.NoCredentialsError:
            raise self._fail(f"no AWS credentials found (botocore looked in: {_CHAIN})") from None
        except bex.ClientError as exc:
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", "?")
            raise self._fail(f"HTTP {status}, {error.get('Code', 'unknown error')}") from None
        except (bex.EndpointConnectionError, bex.ConnectTimeoutError, bex.ReadTimeoutError) as exc:
            raise self._fail(f"AWS unreachable ({type(exc).__name__})") from None
        except bex.BotoCoreError as exc:
            # Class names only: some botocore messages quote the provider's answer.
            raise self._fail(f"{type(exc).__name__}") from None
        finally:
            self._register_credentials()
        text = answer.get("SecretString")
        if isinstance(text, str):
            return text
        binary = answer.get("SecretBinary")
        if isinstance(binary, bytes):
            try:
                return binary.decode()
            except UnicodeDecodeError:
                pass
        raise self._fail("it holds neither SecretString nor UTF-8 SecretBinary")

    async def aclose(self) -> None:
        client, self._boto_client = self._boto_client, None
        if client is not None:
            client.close()

    # --- the fallback: SigV4 over httpx -------------------------------------------------------------------

    async def _read_with_sigv4(self) -> str:
        assert self._credentials is not None
        assert self.endpoint_url is not None
        payload: dict[str, str] = {"SecretId": self.secret_id}
        if self.version_stage:
            payload["VersionStage"] = self.version_stage
        if self.version_id:
            payload["VersionId"] = self.version_id
        body = json.dumps(payload).encode()
        url = self.endpoint_url + "/"
        try:
            credentials = self._credentials()
        except ConfigurationError as exc:
            raise self._fail(exc.message) from None
        register(credentials.secret_access_key)
        if credentials.session_token is not None:
            register(credentials.session_token)
        headers = sign_v4(
            method="POST",
            url=url,
            headers={
                "content-type": "application/x-amz-json-1.1",
                "x-amz-target": "secretsmanager.GetSecretValue",
            },
            body=body,
            region=self.region,
            service="secretsmanager",
            credentials=credentials,
        )
        request = httpx.Request("POST", url, content=body, headers=headers)
        request.extensions["timeout"] = httpx.Timeout(self.timeout).as_dict()
        try:
            response = await send_request(self._client, request)
        except httpx.HTTPError as exc:
            raise self._fail(f"AWS unreachable ({type(exc).__name__})") from None
        try:
            data: Any = response.json()
        except ValueError:
            data = None
        if response.status_code != 200:
            kind = data.get("__type", "") if isinstance(data, dict) else ""
            kind = str(kind).rsplit("#", 1)[-1] or "unknown error"
            raise self._fail(f"HTTP {response.status_code}, {kind}")
        if not isinstance(data, dict):
            raise self._fail("the answer is not a JSON object")
        text = data.get("SecretString")
        if not isinstance(text, str):
            binary = data.get("SecretBinary")
            try:
                text = base64.b64decode(binary, validate=True).decode() if isinstance(binary, str) else None
            except (binascii.Error, UnicodeDecodeError):
                text = None
        if text is None:
            raise self._fail("it holds neither SecretString nor UTF-8 SecretBinary")
        return text


def _imds_region(session: Any) -> str | None:
    from botocore.utils import IMDSRegionProvider

    try:
        return IMDSRegionProvider(session).provide()  # type: ignore[no-any-return]
    except Exception:  # any failure only means "no region from IMDS"
        return None


def pick_field(text: str, field: str | None, fail: Callable[[str], SecretSourceError]) -> str:
    """``text`` stripped, or its JSON member ``field``; never shows the text in an error.

    A leading byte-order mark is dropped; a JSON object naming ``field`` twice is refused (which of the two
    a parser keeps is not something to depend on).
    """
    text = text.removeprefix("\ufeff")
    if field is None:
        value = text.strip()
    else:
        counts: list[int] = []  # one per object, innermost first: the top-level object comes last

        def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
            counts.append(sum(1 for name, _ in items if name == field))
            return dict(items)

        try:
            document = json.loads(text, object_pairs_hook=pairs)
        except ValueError:
            raise fail(f"field {field!r} was asked for but the secret is not a JSON object") from None
        if counts and counts[-1] > 1:
            raise fail(f"field {field!r} appears more than once")
        member = document.get(field) if isinstance(document, dict) else None
        if not isinstance(member, str):
            raise fail(f"it has no string field {field!r}")
        value = member.strip()
    if not value:
        raise fail("the value is empty")
    return value
