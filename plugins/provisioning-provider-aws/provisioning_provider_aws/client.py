"""The one place that talks to boto3: sessions, clients, and AWS errors as the core's.

Every call goes through :meth:`Aws.call` or :meth:`Aws.pages`, which turn what
botocore raises into the core's errors: throttling (``RequestLimitExceeded``,
``Throttling``...) and 5xx into :class:`TransientError`, so the core's
retries and rate limits apply (botocore's own retries are off, so the two
never multiply); refused credentials into a :class:`ConfigError` naming the
setting; an unknown instance into :class:`ServerNotFound`; anything else into
a :class:`ProvisioningError` naming the operation, AWS's code and message,
and what to do.  Exceptions are raised ``from None``: botocore's request
objects, which carry signed headers, never reach a traceback.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from typing import Any

from provisioning_core import (
    ConfigError,
    ProviderSettings,
    ProvisioningError,
    ServerNotFound,
    TransientError,
)

__all__ = [
    "DEFAULT_REGION",
    "METHODS",
    "PROVIDER",
    "Aws",
    "log",
    "region_of",
]

PROVIDER = "aws"
DEFAULT_REGION = "us-east-1"
# the Pricing API answers in these regions only; us-east-1 holds every region's prices
PRICING_REGION = "us-east-1"
#: auth.method values: access keys from the settings, or boto3's credential chain
METHODS = ("api_key", "profile")

log = logging.getLogger("provisioning.providers.aws")

# refused before anything was done: safe to repeat, even a create
_THROTTLED = {
    "RequestLimitExceeded",
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottled",
    "RequestThrottledException",
    "TooManyRequestsException",
}
_NO_CAPACITY = "InsufficientInstanceCapacity"
# AWS failing: the request may or may not have taken effect
_FAILING = {"ServiceUnavailable", "Unavailable", "InternalError", "InternalFailure"}
_GATEWAY_TIMEOUT = 504
_REFUSED = {
    "AuthFailure",
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "UnrecognizedClientException",
    "InvalidAccessKeyId",
    "ExpiredToken",
    "ExpiredTokenException",
    "IncompleteSignature",
    "MissingAuthenticationToken",
}
_NOT_FOUND = {"InvalidInstanceID.NotFound", "InvalidInstanceID.Malformed"}
_SERVER_ERROR = 500
_ZONE = re.compile(r"^(?P<region>[a-z]{2}(?:-[a-z]+)+-\d+)(?P<az>[a-z](?:-[a-z0-9]+)?)?$")


def region_of(zone: str) -> str | None:
    """The region of ``zone``: an availability zone (``eu-west-1a``) or a region itself."""
    match = _ZONE.match(zone)
    return match.group("region") if match else None


class Aws:
    """The AWS account of ``settings``, through one boto3 session.

    ``region`` is where calls go unless a call names another: the region of
    ``defaults.zone``, else ``options.region``, else us-east-1.
    """

    def __init__(self, settings: ProviderSettings) -> None:
        self.settings = settings
        self.region = default_region(settings)
        self.timeout = settings.api.timeout
        self._pool = _pool(settings)

    @property
    def where(self) -> str:
        return self.settings.api.base_url or "AWS"

    def client(self, service: str, region: str | None = None) -> Any:
        """A boto3 client of ``service`` in ``region``, made once per process and credentials."""
        key = (service, region or self.region)
        pool = self._pool
        with pool.lock:  # a boto3 session is not thread-safe; its clients are
            return pool.clients.get(key) or pool.clients.setdefault(key, self._new(pool, *key))

    def _new(self, pool: _Pool, service: str, region: str) -> Any:
        from botocore.config import Config

        config = Config(
            # the core retries (api.retries) with backoff and Retry-After; botocore
            # retrying too would multiply every attempt by its own
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.timeout,
            read_timeout=self.timeout,
            max_pool_connections=20,  # the core's parallelism is 10 by default
            user_agent_extra="provisioning-provider-aws",
        )
        return pool.session.client(
            service,
            region_name=region,
            endpoint_url=self.settings.api.base_url,
            verify=self.settings.api.verify_tls,
            config=config,
        )

    def call(
        self, service: str, operation: str, *, region: str | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        """``client.operation(**kwargs)``, its errors turned into the core's."""
        client = self.client(service, region)
        try:
            result: dict[str, Any] = getattr(client, operation)(**kwargs)
        except Exception as exc:
            raise self._error(exc, service, operation, kwargs) from None
        return result

    def pages(
        self, service: str, operation: str, *, region: str | None = None, **kwargs: Any
    ) -> list[dict[str, Any]]:
        """Every page of a paginated operation, its errors turned into the core's."""
        paginator = self.client(service, region).get_paginator(operation)
        try:
            return list(paginator.paginate(**kwargs))
        except Exception as exc:
            raise self._error(exc, service, operation, kwargs) from None

    def _client_error(self, exc: Any, what: str, kwargs: dict[str, Any]) -> Exception:
        """What AWS answered with an error, as the core's error."""
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "")) or "Unknown"
        message = str(error.get("Message", "")) or str(exc)
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
        if code in _NOT_FOUND:
            ids = kwargs.get("InstanceIds") or ["?"]
            return ServerNotFound(str(ids[0]), provider=PROVIDER)
        if code in _THROTTLED:
            # status None: refused before acting, so the core may repeat even a create
            return TransientError(
                f"{what}: {code}: {message}",
                hint="AWS is limiting this account's requests; the core retries "
                "(providers.aws.api.retries, api.rate_limit)",
            )
        if code == _NO_CAPACITY:
            return TransientError(
                f"{what}: {code}: {message}",
                hint="AWS has no capacity for this instance type in this zone just now; "
                "the core retries, or pick another --zone or --plan",
            )
        if code in _FAILING or status >= _SERVER_ERROR:
            # the status tells the core a change may have been made: not repeated blindly
            return TransientError(
                f"{what}: {code}: {message}",
                hint="AWS is failing; reads are retried (providers.aws.api.retries)",
                status=status or _SERVER_ERROR,
            )
        if code in _REFUSED:
            return refused_credentials(self.settings, f"{code}: {message}")
        return ProvisioningError(f"{what}: {code}: {message}", hint=_hint(code))

    def _error(  # noqa: PLR0911 - one return per kind of failure, in the order checked
        self, exc: Exception, service: str, operation: str, kwargs: dict[str, Any]
    ) -> Exception:
        from botocore.exceptions import (
            ClientError,
            ConnectTimeoutError,
            EndpointConnectionError,
            HTTPClientError,
            NoCredentialsError,
            NoRegionError,
            PartialCredentialsError,
            ProfileNotFound,
        )
        from botocore.exceptions import (
            ConnectionError as BotoConnectionError,
        )

        what = f"AWS {service} {operation}"
        if isinstance(exc, ClientError):
            return self._client_error(exc, what, kwargs)
        if isinstance(exc, (NoCredentialsError, PartialCredentialsError, ProfileNotFound)):
            return refused_credentials(self.settings, str(exc))
        if isinstance(exc, NoRegionError):
            return ConfigError(
                f"{what}: no region",
                problems=[f"set a zone or region @ $.providers.{PROVIDER}.defaults.zone"],
            )
        if isinstance(exc, (EndpointConnectionError, ConnectTimeoutError)):
            # nothing was sent: safe to repeat
            return TransientError(
                f"{what}: cannot reach {self.where}: {exc}",
                hint=f"check the network and providers.{PROVIDER}.api.base_url",
            )
        if isinstance(exc, (BotoConnectionError, HTTPClientError)):
            # sent, but no (whole) answer: a change may have been made
            return TransientError(
                f"{what}: no answer from {self.where}: {exc}",
                hint="the request may or may not have taken effect; check (prov server list) "
                f"before trying again; providers.{PROVIDER}.api.timeout sets the wait",
                status=_GATEWAY_TIMEOUT,
            )
        if isinstance(exc, ProvisioningError):
            return exc
        return ProvisioningError(
            f"{what}: {type(exc).__name__}: {exc}",
            hint="run again with --debug and report it if it persists",
        )


def default_region(settings: ProviderSettings) -> str:
    zone = settings.defaults.zone
    region = region_of(zone) if zone else None
    option = settings.options.get("region")
    return region or (option if isinstance(option, str) and option else DEFAULT_REGION)


def auth_method(settings: ProviderSettings) -> str:
    """The credentials in use: ``auth.method``, else api_key when a key is given."""
    auth = settings.auth
    return auth.method or ("api_key" if auth.api_key or auth.api_secret else "profile")


def refused_credentials(settings: ProviderSettings, reason: str) -> ConfigError:
    where = f"$.providers.{PROVIDER}.auth"
    if auth_method(settings) == "api_key":
        problems = [
            f"AWS refused the access key ({reason}) @ {where}.api_key",
            f"check it and its secret key @ {where}.api_secret",
        ]
        hint = 'set api_key = "${AWS_ACCESS_KEY_ID}" and api_secret = "${AWS_SECRET_ACCESS_KEY}"'
    else:
        profile = settings.options.get("profile")
        problems = [
            f"no usable credentials from boto3's credential chain ({reason}) @ {where}.method",
        ]
        hint = (
            f"check the AWS profile {profile!r}"
            if profile
            else "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or options.profile, or "
            'use auth.method = "api_key"'
        )
    return ConfigError("AWS refused the credentials", problems=problems, hint=hint)


class _Pool:
    """A boto3 session and its clients, shared by every hook call with the same credentials
    and endpoint: making a session and a client costs 100-300 ms, a call a few."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self.clients: dict[tuple[str, str], Any] = {}
        self.lock = threading.Lock()


_POOLS: OrderedDict[str, _Pool] = OrderedDict()
_POOLS_LOCK = threading.Lock()
_MAX_POOLS = 16


def _pool(settings: ProviderSettings) -> _Pool:
    """The pool of ``settings``: keyed by a digest of what a client depends on (the
    credentials are digested in memory, never kept as text in the key)."""
    auth, api = settings.auth, settings.api
    parts = [
        auth_method(settings),
        *(s.reveal() if s else "" for s in (auth.api_key, auth.api_secret, auth.token)),
        str(settings.options.get("profile") or ""),
        str(api.base_url or ""),
        str(api.verify_tls),
        str(api.timeout),
    ]
    key = hashlib.sha256("\0".join(parts).encode()).hexdigest()
    with _POOLS_LOCK:
        pool = _POOLS.get(key)
        if pool is None:
            pool = _POOLS[key] = _Pool(_session(settings))
            while len(_POOLS) > _MAX_POOLS:
                _POOLS.popitem(last=False)
        _POOLS.move_to_end(key)
        return pool


def _session(settings: ProviderSettings) -> Any:
    import boto3

    auth = settings.auth
    where = f"$.providers.{PROVIDER}.auth"
    if auth_method(settings) == "api_key":
        if not (auth.api_key and auth.api_secret):
            raise ConfigError(
                "AWS credentials are incomplete",
                problems=[f"auth.method api_key needs api_key and api_secret @ {where}"],
                hint='set api_key = "${AWS_ACCESS_KEY_ID}" and '
                'api_secret = "${AWS_SECRET_ACCESS_KEY}"',
            )
        return boto3.session.Session(
            aws_access_key_id=auth.api_key.reveal(),
            aws_secret_access_key=auth.api_secret.reveal(),
            aws_session_token=auth.token.reveal() if auth.token else None,
        )
    profile = settings.options.get("profile")
    try:
        return boto3.session.Session(profile_name=profile if isinstance(profile, str) else None)
    except Exception as exc:
        raise refused_credentials(settings, f"{type(exc).__name__}: {exc}") from None


_HINTS = {
    "InvalidAMIID.NotFound": "the image is not in this region; pick another --os, or set "
    "providers.aws.options.images",
    "InvalidAMIID.Malformed": "an image id looks like ami-0123456789abcdef0",
    "InvalidParameterValue": "check the values given; prov server plans --provider aws lists "
    "the instance types",
    "InvalidSubnetID.NotFound": "check providers.aws.options.subnet_id",
    "InvalidGroup.NotFound": "check providers.aws.options.security_group_ids",
    "UnauthorizedOperation": "the credentials lack an IAM permission for this; grant it",
    "VcpuLimitExceeded": "ask AWS for a higher vCPU quota, or pick a smaller --plan",
    "InstanceLimitExceeded": "ask AWS for a higher instance quota",
}


def _hint(code: str) -> str:
    return _HINTS.get(code, "see AWS's message above; prov -vv shows each request")
