"""Where the upstream key comes from: the environment, a mounted file, or a secrets manager.

Sources (all in this package, all ``SecretSource``\\ s):

- ``MountedSecretFileSource`` (``files``): a file, read again when a Kubernetes ``..data`` swap or any
  rewrite changes it;
- ``AWSSecretsManagerSource`` (``aws``): botocore and its default credential chain, ``[aws]`` extra;
- ``AzureKeyVaultSource`` (``azure``): ``azure-keyvault-secrets`` with ``DefaultAzureCredential``,
  ``[azure]`` extra;
- ``GCPSecretManagerSource`` (``gcp``): ``google-cloud-secret-manager`` with application default
  credentials, ``[gcp]`` extra;
- ``VaultKVSource`` (``vault``): HashiCorp Vault KV v1/v2 with token, Kubernetes, AppRole and JWT logins.

Every one of them behaves the same way (``CachedSecretSource``, in ``_cached``): a cached value refreshed
every ``ttl`` seconds with jitter, single-flight reads, a re-read after an upstream 401, the old key kept until
the new one is confirmed, the last good value kept through an outage, errors that name the source and never a
value. ``source_from_env`` picks one from ``CLAUDE_API_KEY``, ``CLAUDE_API_KEY_FILE`` or
``CLAUDE_API_KEY_SOURCE``; ``describe_source`` and ``probe`` say what is configured and whether it answers
(for ``claude-guard check``).

Example:
    >>> env = {"CLAUDE_API_KEY_SOURCE": "vault://claude/upstream?field=api_key",
    ...        "VAULT_ADDR": "https://vault.internal:8200", "VAULT_TOKEN": "hvs.fake-token"}
    >>> source = source_from_env(env)
    >>> source
    VaultKVSource('claude/upstream', url='https://vault.internal:8200', mount='secret', field='api_key', kv_version=2, auth='token')
    >>> describe_source(source).details[:2]
    (('address', 'https://vault.internal:8200'), ('path', 'secret/claude/upstream'))
"""  # noqa: E501

from __future__ import annotations

import os
from collections.abc import Mapping
from urllib.parse import parse_qsl, unquote

from ..errors import ConfigurationError, GuardError

# The errors live in ``claude_guard.errors`` (and the top level); these imports keep the old paths working.
from ..errors import SecretSourceError as SecretSourceError
from ..secrets import EnvSecretSource, FileSecretSource, SecretSource
from ._cached import CachedSecretSource, SourceStatus
from ._sigv4 import sign_v4  # noqa: F401 - sign_v4 stays importable, out of __all__
from .aws import AWSSecretsManagerSource
from .azure import AzureKeyVaultSource
from .files import MountedSecretFileSource
from .gcp import GCPSecretManagerSource
from .vault import (
    VaultAppRoleAuth,
    VaultJWTAuth,
    VaultKubernetesAuth,
    VaultKVSource,
    VaultTokenAuth,
    vault_auth_from_env,
)

__all__ = [
    "AWSSecretsManagerSource",
    "AzureKeyVaultSource",
    "CachedSecretSource",
    "GCPSecretManagerSource",
    "MountedSecretFileSource",
    "SourceStatus",
    "VaultAppRoleAuth",
    "VaultJWTAuth",
    "VaultKVSource",
    "VaultKubernetesAuth",
    "VaultTokenAuth",
    "describe_source",
    "ensure_source_answers",
    "probe",
    "source_from_env",
]

KEY_VARIABLES = ("CLAUDE_API_KEY", "CLAUDE_API_KEY_FILE", "CLAUDE_API_KEY_SOURCE")
"""The variables that name the upstream key's source; exactly one of them is set."""
_SCHEMES = "aws-secretsmanager://, azure-keyvault://, gcp-secretmanager:// or vault://"
NO_KEY_MESSAGE = (
    "No upstream Claude key: set CLAUDE_API_KEY, CLAUDE_API_KEY_FILE to a file holding it, or "
    f"CLAUDE_API_KEY_SOURCE to a secrets manager ({_SCHEMES})."
)
"""What a guard that must call Claude says when none of ``KEY_VARIABLES`` is set."""
_DEFAULT_TTL = 300.0


def source_from_url(url: str, environ: Mapping[str, str] | None = None) -> SecretSource:
    """A provider source from a ``CLAUDE_API_KEY_SOURCE`` URL (see docs/secrets.md for every parameter).

    - ``aws-secretsmanager://<secret-id or ARN>?region=&field=&version_stage=&version_id=&profile=&endpoint=``
    - ``azure-keyvault://<vault>/<name>?version=&field=``
    - ``gcp-secretmanager://projects/<p>/secrets/<s>[/versions/<v>]?field=&endpoint=&transport=``
    - ``vault://<path>?field=&mount=&kv=&namespace=&auth=&role=&auth_mount=``, with ``VAULT_ADDR`` and the
      login's variables.

    Every scheme takes ``ttl=`` (seconds between reads, 300 by default).

    Example:
        >>> source_from_url("azure-keyvault://prod-claude/anthropic-key?version=0123abcd")
        AzureKeyVaultSource('https://prod-claude.vault.azure.net', 'anthropic-key', version='0123abcd')
    """
    env = os.environ if environ is None else environ
    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        raise ConfigurationError(f"CLAUDE_API_KEY_SOURCE must be a URL: {_SCHEMES}.")
    target, _, query = rest.partition("?")
    target = unquote(target).strip("/")
    pairs = parse_qsl(query, keep_blank_values=True)
    repeated = sorted({name for name, _ in pairs if sum(1 for other, _ in pairs if other == name) > 1})
    if repeated:
        # Which of two values wins is not something a reader of the URL should have to know.
        raise ConfigurationError(f"CLAUDE_API_KEY_SOURCE repeats {', '.join(repeated)}; give each once.")
    params = dict(pairs)
    ttl = _ttl(params.pop("ttl", None))
    scheme = scheme.lower()
    if scheme == "aws-secretsmanager":
        _no_unknown(params, {"region", "field", "version_stage", "version_id", "profile", "endpoint"})
        return AWSSecretsManagerSource(
            target,
            region=params.get("region") or None,
            field=params.get("field") or None,
            version_stage=params.get("version_stage") or None,
            version_id=params.get("version_id") or None,
            profile=params.get("profile") or None,
            endpoint_url=params.get("endpoint") or None,
            ttl=ttl,
            environ=env,
        )
    if scheme == "azure-keyvault":
        _no_unknown(params, {"version", "field"})
        vault, _, name = target.partition("/")
        return AzureKeyVaultSource(
            vault, name, version=params.get("version") or None, field=params.get("field") or None, ttl=ttl
        )
    if scheme == "gcp-secretmanager":
        _no_unknown(params, {"field", "endpoint", "transport"})
        transport = params.get("transport") or "rest"
        if transport not in ("rest", "grpc"):
            raise ConfigurationError("CLAUDE_API_KEY_SOURCE: transport must be rest or grpc.")
        return GCPSecretManagerSource(
            target,
            field=params.get("field") or None,
            endpoint=params.get("endpoint") or None,
            transport="grpc" if transport == "grpc" else "rest",
            ttl=ttl,
        )
    if scheme == "vault":
        _no_unknown(params, {"field", "mount", "namespace", "kv", "auth", "role", "auth_mount"})
        address = env.get("VAULT_ADDR", "").strip()
        if not address:
            raise ConfigurationError("CLAUDE_API_KEY_SOURCE names Vault but VAULT_ADDR is not set.")
        kv = params.get("kv") or "2"
        if kv not in ("1", "2"):
            raise ConfigurationError("CLAUDE_API_KEY_SOURCE: kv must be 1 or 2.")
        return VaultKVSource(
            target,
            url=address,
            auth=vault_auth_from_env(env, params),
            mount=params.get("mount") or "secret",
            kv_version=1 if kv == "1" else 2,
            field=params.get("field") or "api_key",
            namespace=params.get("namespace") or env.get("VAULT_NAMESPACE") or None,
            ca_file=env.get("VAULT_CACERT") or None,
            ttl=ttl,
            environ=env,
        )
    raise ConfigurationError(f"CLAUDE_API_KEY_SOURCE has an unknown scheme {scheme!r}; use {_SCHEMES}.")


def source_from_env(environ: Mapping[str, str] | None = None) -> SecretSource:
    """The upstream key's source: ``CLAUDE_API_KEY``, ``CLAUDE_API_KEY_FILE`` or ``CLAUDE_API_KEY_SOURCE``.

    Exactly one of the three must be set. ``CLAUDE_API_KEY_FILE`` gives a ``MountedSecretFileSource`` (read
    again when the file or its Kubernetes ``..data`` link changes). Errors name the variables, never a value.
    """
    env = os.environ if environ is None else environ
    chosen = [name for name in KEY_VARIABLES if name in env]
    if len(chosen) > 1:
        raise ConfigurationError(
            f"{' and '.join(chosen)} are set; set exactly one of {', '.join(KEY_VARIABLES)}."
        )
    if not chosen:
        raise ConfigurationError(NO_KEY_MESSAGE)
    if chosen[0] == "CLAUDE_API_KEY_SOURCE":
        return source_from_url(env["CLAUDE_API_KEY_SOURCE"], env)
    if chosen[0] == "CLAUDE_API_KEY_FILE":
        path = env["CLAUDE_API_KEY_FILE"].strip()
        if not path:
            raise ConfigurationError("CLAUDE_API_KEY_FILE is set but empty.")
        return MountedSecretFileSource(path, variable="CLAUDE_API_KEY_FILE")
    return EnvSecretSource("CLAUDE_API_KEY", env)


def _unwrap(source: SecretSource) -> SecretSource:
    inner = getattr(source, "source", None)  # logscrub.RegisteringSecretSource and the like
    return inner if inner is not None and hasattr(inner, "get") else source


def describe_source(source: SecretSource) -> SourceStatus:
    """What ``source`` is and where it reads from, without asking it: ``state`` is ``configured``.

    Example:
        >>> describe_source(EnvSecretSource("CLAUDE_API_KEY", {"CLAUDE_API_KEY": "sk-ant-fake"}))
        SourceStatus(kind='env', name='CLAUDE_API_KEY', state='configured', detail='', details=(('variable', 'CLAUDE_API_KEY'),))
    """  # noqa: E501
    source = _unwrap(source)
    if isinstance(source, CachedSecretSource):
        return source.describe()
    if isinstance(source, EnvSecretSource):
        return SourceStatus(kind="env", name=source.name, details=(("variable", source.name),))
    if isinstance(source, FileSecretSource):
        return SourceStatus(kind="file", name=source.name, details=(("path", str(source.path)),))
    return SourceStatus(kind=type(source).__name__, name=str(getattr(source, "name", "")))


async def probe(source: SecretSource) -> SourceStatus:
    """Ask ``source`` for its value once and say whether it answered (``ok``) or why not (``failed``).

    A provider source is read afresh, past its cache, without changing what it serves. The status never
    carries the value.
    """
    inner = _unwrap(source)
    if isinstance(inner, CachedSecretSource):
        return await inner.probe()
    described = describe_source(inner)
    try:
        await inner.get()
    except (GuardError, OSError) as exc:
        return SourceStatus(
            kind=described.kind,
            name=described.name,
            state="failed",
            detail=str(exc),
            details=described.details,
        )
    return SourceStatus(kind=described.kind, name=described.name, state="ok", details=described.details)


async def ensure_source_answers(source: SecretSource) -> None:
    """Read ``source`` once at start-up; a failure raises ``ConfigurationError`` naming the source (never a
    value), so a gateway that cannot reach its key does not start."""
    try:
        await source.get()
    except GuardError as exc:
        detail = str(exc) if isinstance(exc, SecretSourceError) else exc.message
        raise ConfigurationError(
            f"The upstream key source {describe_source(source).name} does not answer: {detail}"
        ) from None


def _ttl(raw: str | None) -> float:
    if raw is None or not raw.strip():
        return _DEFAULT_TTL
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError("CLAUDE_API_KEY_SOURCE: ttl must be a number of seconds.") from None
    if not value >= 0:
        raise ConfigurationError("CLAUDE_API_KEY_SOURCE: ttl must not be negative.")
    return value


def _no_unknown(params: Mapping[str, str], allowed: set[str]) -> None:
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise ConfigurationError(
            f"CLAUDE_API_KEY_SOURCE has unknown parameters {', '.join(unknown)}; "
            f"allowed: {', '.join(sorted(allowed | {'ttl'}))}."
        )
