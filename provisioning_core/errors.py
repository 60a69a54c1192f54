"""Every error the core raises on purpose.

Each one speaks to a person: ``str(error)`` says what failed and where, and
``error.hint`` says what to do.  The CLI prints both; nothing here formats a
traceback.  ``exit_code`` is what the CLI exits with: 1 when an operation
failed, 2 when the user's input or usage was wrong.
"""

from __future__ import annotations

from collections.abc import Sequence


def _restore(
    cls: type[ProvisioningError], args: tuple[object, ...], state: dict[str, object]
) -> ProvisioningError:
    error = cls.__new__(cls)
    error.args = args
    error.__dict__.update(state)
    return error


class ProvisioningError(Exception):
    """Base of every error the framework raises deliberately.

    Errors pickle (to cross a process pool) with every attribute intact.
    """

    exit_code: int = 1

    def __reduce__(self) -> tuple[object, ...]:
        return (_restore, (type(self), self.args, self.__dict__))

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        #: more for ``--debug``: a plugin's traceback, secrets masked
        self.detail: str | None = None

    def __str__(self) -> str:
        if self.hint:
            return f"{self.message}\n  hint: {self.hint}"
        return self.message


class ConfigError(ProvisioningError):
    """Configuration or user input is wrong; ``problems`` lists "message @ $.path" lines."""

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        problems: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        self.problems = list(problems)
        full = (
            message
            if not self.problems
            else message + "\n" + "\n".join(f"  - {p}" for p in self.problems)
        )
        super().__init__(full, hint=hint)


class InputError(ConfigError):
    """A command's input is wrong (a plan, zone, hostname, tag or rule); exit 2.

    Raised before anything is called; ``problems`` name each field.
    """


class DataValidationError(ConfigError):
    """Data did not match a model; raised by :func:`provisioning_core.structure`."""


class DependencyCycleError(ProvisioningError):
    """A dependency graph has a cycle; ``cycle`` lists it, first node repeated last."""

    exit_code = 2

    def __init__(self, cycle: Sequence[str], *, what: str = "dependencies") -> None:
        self.cycle = list(cycle)
        super().__init__(
            f"{what} form a cycle: {' -> '.join(self.cycle)} (each needs the next)",
            hint="remove one of these dependencies so the order can be decided",
        )


class ServerNotFound(ProvisioningError):
    """A provider has no server with this id (raised by ``get_server_info``)."""

    def __init__(self, server_id: str, *, provider: str | None = None) -> None:
        self.server_id = server_id
        self.provider = provider
        where = f" on provider {provider!r}" if provider else ""
        super().__init__(
            f"server {server_id!r} not found{where}",
            hint="check the server id against the provider's list of servers",
        )


class UnknownServer(InputError):
    """A server the user named is known neither to the inventory nor to its provider; exit 2.

    Raised by the core when it looks a SERVER argument up; the HTTP API answers it with 404.
    """


class UnknownCluster(InputError):
    """A cluster the user named is neither configured (``[clusters.NAME]``) nor a cluster
    plugin's name; exit 2, 404 over HTTP."""


class TransientError(ProvisioningError):
    """Raised by a plugin for a failure worth retrying (rate limit, 5xx, busy).

    ``retry_after`` is the delay in seconds the remote side asked for, if any;
    ``status`` the HTTP status that made it transient, if one did.  A mutating
    hook is retried after a 5xx only when the plugin raises this itself: the
    core cannot know whether the request took effect.
    """

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        hint: str | None = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.retry_after = retry_after
        self.status = status


class ExtensionError(ProvisioningError):
    """A problem with one extension; names the extension and where it comes from.

    ``hook`` is set when the problem concerns one hook; ``missing`` lists the
    unmet requirements of a :class:`MissingDependency`.
    """

    def __init__(
        self,
        message: str,
        *,
        kind: str,
        name: str,
        distribution: str | None = None,
        version: str | None = None,
        hook: str | None = None,
        missing: Sequence[str] = (),
        hint: str | None = None,
    ) -> None:
        self.kind = str(kind)
        self.name = name
        self.distribution = distribution
        self.version = version
        self.hook = hook
        self.missing = list(missing)
        super().__init__(f"{self.label}: {message}", hint=hint)

    @property
    def label(self) -> str:
        """``provider 'upcloud' (provisioning-provider-upcloud 1.2.0)``."""
        origin = " ".join(p for p in (self.distribution, self.version) if p)
        return f"{self.kind} {self.name!r}" + (f" ({origin})" if origin else "")


class ExtensionNotFound(ExtensionError):
    """No extension of that kind and name (or version) is available."""

    exit_code = 2


class ExtensionNotLoaded(ExtensionError):
    """``auto_load`` is false and the extension a command needs was not loaded explicitly."""

    exit_code = 2


class IncompatibleExtension(ExtensionError):
    """The extension declares core versions that exclude the running core."""


class MissingDependency(ExtensionError):
    """Extensions this one depends on are absent or at the wrong version."""


class ExtensionLoadError(ExtensionError):
    """The extension could not be imported or does not fit the hook contract."""


class CapabilityNotSupported(ExtensionError):
    """The extension does not implement an optional hook."""

    exit_code = 2


class PluginCallError(ExtensionError):
    """A hook implementation raised an unexpected exception or returned malformed data."""


class PluginReportedFailure(PluginCallError):
    """A hook returned the seed's envelope with ``success: false``: the plugin says it failed.

    The message is the plugin's own (its ``error`` and ``message``); exit code 1.
    """


class PluginTimeout(PluginCallError):
    """A hook call did not return within the configured timeout and was abandoned."""


def transient_from(exc: BaseException) -> TransientError | None:
    """``exc`` as a :class:`TransientError` if it is an HTTP 429 or 5xx, else None.

    Recognises the shapes HTTP client libraries use: a ``status_code`` or
    ``status`` attribute, on the exception or on its ``response``, and a
    ``Retry-After`` header (seconds, or an HTTP date) on the response or the
    exception's ``headers``.
    """
    status = _http_status(exc)
    if status is None or not (
        status == _TOO_MANY_REQUESTS or _SERVER_ERROR <= status < _SERVER_ERROR + 100
    ):
        return None
    return TransientError(
        f"HTTP {status} from the remote side: {exc}",
        retry_after=_retry_after(exc),
        status=status,
    )


_TOO_MANY_REQUESTS = 429
_SERVER_ERROR = 500


def _http_status(exc: BaseException) -> int | None:
    for holder in (exc, getattr(exc, "response", None)):
        for attribute in ("status_code", "status"):
            value = getattr(holder, attribute, None)
            if isinstance(value, int) and not isinstance(value, bool):
                return value
    return None


def _retry_after(exc: BaseException) -> float | None:
    for holder in (getattr(exc, "response", None), exc):
        headers = getattr(holder, "headers", None)
        if headers is None:
            continue
        try:
            value = headers.get("Retry-After")
        except Exception:  # an odd headers object is no reason to fail
            return None
        if value is None:
            continue
        return _parse_retry_after(str(value))
    return None


def _parse_retry_after(value: str) -> float | None:
    from datetime import datetime, timezone
    from email.utils import parsedate_to_datetime

    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())
