"""Configuration: TOML layers merged, interpolated, with secrets kept secret.

Layers, lowest first (later ones win; tables merge deeply, other values
replace): a built-in base (``orchestrator.paths.data_dir``), the package's
``config.defaults.toml``, the user's config file, the workspace's
``provisioning.toml``, ``PROV_<A>__<B>`` environment variables, and
command-line overrides.  After merging, ``${ENV_VAR}`` and ``{{dotted.path}}``
are replaced, and credentials become :class:`~provisioning_core.secret.Secret`.

A value that cannot be resolved (an unset variable, an unknown reference, a
cycle) does not stop :func:`load_config`: it is recorded in
:attr:`Config.problems` and raised as a :class:`ConfigError` only when that
value, or a table holding it, is read, so that a token missing for one
provider never breaks commands for another.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, time
from functools import cache, cached_property, partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs

from provisioning_core import paths
from provisioning_core.errors import ConfigError, DataValidationError
from provisioning_core.secret import MASK, MIN_MASKED_LENGTH, Secret, redact

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

if TYPE_CHECKING:
    from provisioning_core.models import ProviderSettings

__all__ = [
    "ApiSettings",
    "Config",
    "ConfigSource",
    "ExtensionsSettings",
    "OperationsSettings",
    "load_config",
    "user_config_path",
]

DEFAULTS_FILE = "config.defaults.toml"
WORKSPACE_FILE = "provisioning.toml"

#: keys whose string values are credentials
_SECRET_KEY = re.compile(
    r"(^|_)(token|password|passwd|secret|api_key|apikey|private_key|credentials?)$", re.IGNORECASE
)
#: environment variables whose values are credentials wherever they end up
_SECRET_ENV = re.compile(
    r"TOKEN|PASSWORD|PASSWD|SECRET|API_KEY|APIKEY|PRIVATE_KEY|CREDENTIAL", re.IGNORECASE
)
_KEY = r"[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*"
# `{{ x }}` with spaces is deliberately not a reference: that is how Jinja
# templates are written, and taskserv settings may hold them
_REF_ONLY = re.compile(r"\{\{(?P<ref>" + _KEY + r")\}\}")
_PART = re.compile(
    r"(?P<escape>\$\$\{)"
    r"|\$\{(?P<var>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\}"
    r"|(?P<bad>\$\{)"
    r"|\{\{(?P<ref>" + _KEY + r")\}\}"
)

_MISSING: Any = object()  # get()'s "no default given"
_ABSENT: Any = object()  # a path with nothing at it

_Path = tuple[str | int, ...]  # table keys, and list indices as ints


def user_config_path() -> Path:
    """The user's config file: ``config.toml`` in the platform's user config dir."""
    import platformdirs  # only needed when no config file is named

    return platformdirs.user_config_path("provisioning", appauthor=False) / "config.toml"


# --- [operations] ------------------------------------------------------------

#: name -> (bound, bound allowed, what is expected): shared by the class's
#: validators and by Config.operations, which reports every bad value at once
_LIMITS: dict[str, tuple[float, bool, str]] = {
    "parallelism": (0, False, "a whole number greater than 0"),
    "wait_interval": (0, False, "a number of seconds greater than 0"),
    "wait_timeout": (0, False, "a number of seconds greater than 0"),
    "hook_timeout": (0, False, "a number of seconds greater than 0"),
    "retry_attempts": (1, True, "a whole number of at least 1"),
    "retry_base_delay": (0, True, "a number of seconds, 0 or more"),
    "retry_max_delay": (0, True, "a number of seconds, 0 or more"),
    "lock_timeout": (0, True, "a number of seconds, 0 or more"),
}


#: the longest a seconds setting may be: waiting longer overflows the clocks and
#: thread primitives it reaches (threading.TIMEOUT_MAX, deadlines as timestamps)
_MAX_SECONDS = 365 * 24 * 3600


def _limit_problem(name: str, value: float) -> str | None:
    """What is wrong with ``value`` for the ``[operations]`` setting ``name``, or None."""
    bound, inclusive, expected = _LIMITS[name]
    # written so that NaN is out of range too
    if not (value >= bound if inclusive else value > bound):
        return f"expected {expected}, got {value}"
    if "seconds" in expected and value > _MAX_SECONDS:
        return f"expected at most {_MAX_SECONDS} seconds (a year), got {value}"
    return None


def _check_limit(_: Any, attribute: attrs.Attribute[Any], value: float) -> None:
    problem = _limit_problem(attribute.name, value)
    if problem:
        raise ValueError(f"{attribute.name}: {problem}")


@attrs.frozen
class OperationsSettings:
    """The ``[operations]`` section: how operations wait, retry and run in parallel."""

    #: servers or components worked on at the same time
    parallelism: int = attrs.field(default=10, validator=_check_limit)
    #: seconds between two polls while waiting for a state (``--wait``)
    wait_interval: float = attrs.field(default=2.0, validator=_check_limit)
    #: seconds after which waiting for a state gives up
    wait_timeout: float = attrs.field(default=600.0, validator=_check_limit)
    #: seconds after which a plugin hook call is abandoned and reported
    hook_timeout: float = attrs.field(default=300.0, validator=_check_limit)
    #: attempts (the first included) on transient errors
    retry_attempts: int = attrs.field(default=5, validator=_check_limit)
    #: first delay of the exponential backoff, in seconds
    retry_base_delay: float = attrs.field(default=0.5, validator=_check_limit)
    #: longest delay between two attempts, in seconds
    retry_max_delay: float = attrs.field(default=30.0, validator=_check_limit)
    #: seconds to wait for the inventory lock held by another run
    lock_timeout: float = attrs.field(default=30.0, validator=_check_limit)


# --- [orchestrator.extensions] --------------------------------------------------


@attrs.frozen
class ExtensionsSettings:
    """The seed's ``[orchestrator.extensions]``: loading on demand, and where caches live.

    ``auto_load`` false: a command loads only extensions loaded explicitly
    with ``prov module load`` (recorded in ``cache_dir``).  ``cache_dir``
    holds the discovery scan cache, those records and downloaded artifacts.
    ``import_timeout`` bounds a plugin's import (0: no deadline) and the
    probe of ``prov plugin validate``/``test``; ``probe_memory_mb`` bounds
    the probe's memory (0: no limit).  See docs/extensions.md, "Broken plugins".
    """

    #: load an extension when a command needs it
    auto_load: bool = True
    #: where extension caches live (an absolute path, ``~`` expanded)
    cache_dir: Path = attrs.field(factory=paths.extensions_dir)
    #: seconds a plugin's import may take before it is abandoned and named (0: no deadline)
    import_timeout: float = 30.0
    #: MiB of address space the import probe may use (0: no limit)
    probe_memory_mb: int = 4096


# --- [api] -----------------------------------------------------------------------

#: the environment variable ``prov serve`` takes its token from when ``[api] token`` is unset
API_TOKEN_ENV = "PROV_API_TOKEN"  # noqa: S105 - a variable's name, not a secret


def _api_port(_: Any, _attribute: attrs.Attribute[Any], value: int) -> None:
    if not 0 <= value <= 65535:  # noqa: PLR2004 - the TCP port range
        raise ValueError(f"expected a TCP port, 0 to 65535 (0: any free one), got {value}")


def _at_least_one(_: Any, _attribute: attrs.Attribute[Any], value: int) -> None:
    if value < 1:
        raise ValueError(f"expected a whole number of at least 1, got {value}")


_API_LIMITS = (
    ("port", 0, 65535, "a TCP port, 0 to 65535 (0: any free one)"),
    ("max_body_bytes", 1, sys.maxsize, "a number of bytes, at least 1"),
    ("workers", 1, sys.maxsize, "a whole number of at least 1"),
)


@attrs.frozen
class ApiSettings:
    """The ``[api]`` section: how ``prov serve`` listens and whom it lets in.

    ``token`` may read and change everything; ``read_token`` may only read
    (GET).  Without ``token``, ``$PROV_API_TOKEN`` is used; without either,
    the server accepts anyone and refuses to listen beyond loopback.
    """

    #: the address to listen on
    host: str = "127.0.0.1"
    #: the TCP port (0: any free one, printed at start)
    port: int = attrs.field(default=8765, validator=_api_port)
    #: the bearer token that may read and change everything
    token: Secret | None = None
    #: a bearer token that may only read
    read_token: Secret | None = None
    #: the largest request body accepted, in bytes
    max_body_bytes: int = attrs.field(default=1_048_576, validator=_at_least_one)
    #: jobs run at the same time; more wait their turn ("queued")
    workers: int = attrs.field(default=4, validator=_at_least_one)


@attrs.frozen
class ConfigSource:
    """One layer that contributed to the configuration.

    ``layer`` is "built-in", "defaults", "user", "workspace", "environment" or
    "command line"; ``location`` is a file, a variable or a flag.
    """

    layer: str
    location: str

    def __str__(self) -> str:
        return f"{self.layer} {self.location}"


# --- resolution --------------------------------------------------------------


class _Issue:
    """Why a value cannot be resolved; ``short`` is what masked() shows."""

    # plain slotted classes: cheaper to define than attrs ones, and import cost counts
    __slots__ = ("cycle", "hint", "problem", "short")

    def __init__(self, problem: str, hint: str, short: str, cycle: tuple[_Path, ...] = ()) -> None:
        self.problem = problem
        self.hint = hint
        self.short = short
        self.cycle = cycle


class _Unresolved:
    """Stands in the resolved tree for a value that could not be resolved."""

    __slots__ = ("display", "issue")

    def __init__(self, issue: _Issue, display: str) -> None:
        self.issue = issue
        self.display = display

    def __repr__(self) -> str:
        return f"<unresolved {self.display}>"


class _Resolver:
    """Interpolates the merged tree, each addressable value once (memoised).

    ``{{refs}}`` are followed depth first; a path met again while it is still
    being resolved closes a cycle, so the stack at that moment *is* the cycle.
    """

    def __init__(
        self, data: Mapping[str, Any], env: Mapping[str, str], origins: Mapping[_Path, ConfigSource]
    ) -> None:
        self._data = data
        self._env = env
        self._origins = origins
        self._memo: dict[_Path, Any] = {}
        self._stack: list[_Path] = []

    def resolve_all(self) -> dict[str, Any]:
        return {key: self._resolve((key,)) for key in self._data}

    def _lookup(self, path: _Path) -> Any:
        node: Any = self._data
        for key in path:
            if not isinstance(node, Mapping) or key not in node:
                return _ABSENT
            node = node[key]
        return node

    def _secret(self, path: _Path) -> bool:
        if any(isinstance(key, str) and _SECRET_KEY.search(key) for key in path):
            return True
        source = self._origins.get(path)
        return (
            source is not None
            and source.layer == "environment"
            and bool(_SECRET_ENV.search(source.location))
        )

    def _resolve(self, path: _Path) -> Any:
        if path in self._memo:
            return self._memo[path]
        if path in self._stack:
            cycle = (*self._stack[self._stack.index(path) :], path)
            text = " -> ".join(_dotted(p) for p in cycle)
            issue = _Issue(
                f"references form a cycle: {text}",
                hint="break the cycle: make one of these settings a value, not a {{reference}}",
                short="cycle",
                cycle=cycle,
            )
            return _Unresolved(issue, "")
        self._stack.append(path)
        try:
            value = self._value(self._lookup(path), path, secret=self._secret(path))
        finally:
            self._stack.pop()
        self._memo[path] = value
        return value

    def _value(self, raw: Any, path: _Path, *, secret: bool) -> Any:
        if isinstance(raw, Mapping):
            if path in self._stack:  # addressable: memoised, and part of cycle detection
                return {key: self._resolve((*path, key)) for key in raw}
            return {
                key: self._value(value, (*path, key), secret=secret or _secret_key(key))
                for key, value in raw.items()
            }
        if isinstance(raw, list):
            return [self._value(item, (*path, i), secret=secret) for i, item in enumerate(raw)]
        if isinstance(raw, str):
            return self._interpolate(raw, secret=secret)
        return raw

    def _interpolate(self, raw: str, *, secret: bool) -> Any:
        if "${" not in raw and "{{" not in raw:
            return Secret(raw) if secret else raw
        exact = _REF_ONLY.fullmatch(raw)
        if exact:
            target = self._reference(exact["ref"])
            if isinstance(target, _Issue):
                return _unresolved(raw, [target], secret=secret)
            return _as_secret(target) if secret else target
        pieces: list[str] = []
        issues: list[_Issue] = []
        pos = 0
        for match in _PART.finditer(raw):
            pieces.append(raw[pos : match.start()])
            pos = match.end()
            if match["var"]:
                secret = secret or bool(_SECRET_ENV.search(match["var"]))
                piece: str | _Issue = self._variable(match["var"], match["default"])
            elif match["ref"]:
                target = self._reference(match["ref"])
                secret = secret or isinstance(target, Secret)
                piece = _as_text(match["ref"], target)
            elif match["escape"]:
                piece = "${"
            else:
                piece = _Issue(
                    "malformed ${...}: expected ${NAME} or ${NAME:-default}",
                    hint="to write a literal ${, double the dollar: $${",
                    short="malformed",
                )
            if isinstance(piece, _Issue):
                issues.append(piece)
            else:
                pieces.append(piece)
        if issues:
            return _unresolved(raw, issues, secret=secret)
        pieces.append(raw[pos:])
        text = "".join(pieces)
        return Secret(text) if secret else text

    def _variable(self, name: str, default: str | None) -> str | _Issue:
        value = self._env.get(name)
        if not value and default is not None:  # like the shell's ${X:-d}: unset or empty
            return default
        if value is None:
            return _Issue(
                f"environment variable {name} is not set",
                hint=f"export {name}=..., or give a default: ${{{name}:-value}}",
                short="unset",
            )
        return value

    def _reference(self, ref: str) -> Any:
        path: _Path = tuple(ref.split("."))
        if self._lookup(path) is _ABSENT:
            return _Issue(
                f"{{{{{ref}}}}} refers to no setting",
                hint=(
                    f"define {ref} or correct the reference; to keep the braces as text,"
                    f" write {{{{ {ref} }}}} with spaces"
                ),
                short="unknown setting",
            )
        value = self._resolve(path)
        if isinstance(value, _Unresolved):
            issue = value.issue
            if issue.cycle and self._stack and self._stack[-1] in issue.cycle:
                return issue  # this value is on the cycle itself
            return _Issue(
                f"{{{{{ref}}}}} cannot be resolved: {issue.problem}", issue.hint, "unresolved"
            )
        return value


def _secret_key(key: object) -> bool:
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def _as_secret(value: Any) -> Any:
    if isinstance(value, str):
        return Secret(value)
    if isinstance(value, dict):
        return {key: _as_secret(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_as_secret(item) for item in value]
    return value


def _as_text(ref: str, value: Any) -> str | _Issue:
    """``value`` put into a string; tables and lists have no text form."""
    if isinstance(value, _Issue):
        return value
    if isinstance(value, Secret):
        return value.reveal()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        kind = "table" if isinstance(value, dict) else "list"
        return _Issue(
            f"{{{{{ref}}}}} is a {kind}, which cannot be put into a string",
            hint=f'refer to a single value, or make the whole value "{{{{{ref}}}}}"',
            short="not a value",
        )
    return str(value)


def _unresolved(raw: str, issues: list[_Issue], *, secret: bool) -> _Unresolved:
    if len(issues) == 1:
        issue = issues[0]
    else:
        issue = _Issue(
            "; ".join(i.problem for i in issues),
            "; ".join(dict.fromkeys(i.hint for i in issues)),
            ", ".join(dict.fromkeys(i.short for i in issues)),
            next((i.cycle for i in issues if i.cycle), ()),
        )
    # a secret's template may hold literal parts of the credential
    literal = _PART.sub("", raw).strip()
    shown = MASK if secret and literal else raw
    return _Unresolved(issue, f"{shown} ({issue.short})")


def _walk_unresolved(node: Any, path: _Path) -> Iterator[tuple[_Path, _Unresolved]]:
    if isinstance(node, _Unresolved):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _walk_unresolved(value, (*path, key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk_unresolved(value, (*path, i))


def _dotted(path: Iterable[str | int]) -> str:
    text = ""
    for key in path:
        text += f"[{key}]" if isinstance(key, int) else f".{key}" if text else key
    return text


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def _reprefix(problem: str, prefix: str) -> str:
    """``"msg @ $.api"`` from :func:`structure` as ``"msg @ $.providers.x.api"``."""
    head, sep, tail = problem.rpartition(" @ $")
    return f"{head} @ {prefix}{tail}" if sep else problem


def _problem_path(problem: str) -> tuple[str, ...]:
    _, sep, tail = problem.rpartition(" @ $")
    return tuple(re.sub(r"\[\d+\]", "", tail).strip(".").split(".")) if sep else ()


# --- the configuration -------------------------------------------------------


class Config:
    """The effective configuration, every layer merged and interpolated.

    Build it with :func:`load_config`; ``Config(data)`` interpolates an
    already merged mapping (tests, embedding).  Read it with :meth:`get`,
    :meth:`section` and the typed accessors; :attr:`problems` lists values
    that could not be resolved, which raise only when read.
    """

    def __init__(
        self,
        data: Mapping[str, Any],
        *,
        env: Mapping[str, str] | None = None,
        sources: Sequence[ConfigSource] = (),
        origins: Mapping[tuple[str, ...], ConfigSource] | None = None,
    ) -> None:
        #: the layers that contributed, lowest first
        self.sources: list[ConfigSource] = list(sources)
        self._origins: dict[_Path, ConfigSource] = {
            tuple(path): source for path, source in (origins or {}).items()
        }
        resolver = _Resolver(data, os.environ if env is None else env, self._origins)
        self._tree: dict[str, Any] = resolver.resolve_all()
        #: dotted path -> why the value there could not be resolved
        self.problems: dict[str, str] = {
            _dotted(path): item.issue.problem for path, item in _walk_unresolved(self._tree, ())
        }

    def __repr__(self) -> str:
        layers = ", ".join(str(s) for s in self.sources)
        return f"<Config from [{layers}], {len(self.problems)} unresolved>"

    # --- reading ---

    def get(self, path: str, default: Any = _MISSING) -> Any:
        """The value at dotted ``path``; secrets come as :class:`Secret`.

        Without ``default`` a missing setting is a :class:`ConfigError`; a
        value that could not be resolved is one even with a default.
        """
        keys = _split(path)
        node = self._node(keys)
        if node is _ABSENT:
            if default is not _MISSING:
                return default
            raise ConfigError(f"no setting {path}", hint=self._suggest(keys))
        self._check(keys, node)
        return _copy(node)

    def section(self, path: str) -> dict[str, Any]:
        """The table at dotted ``path`` (an empty dict if there is none)."""
        keys = _split(path)
        return self._table(keys, path)

    def origin(self, path: str) -> str | None:
        """Which layer set the value at ``path`` ("workspace /x/provisioning.toml").

        For a table: the last layer that set anything in it.  None if nothing did.
        """
        source = self._origins.get(tuple(path.split(".")))
        return None if source is None else str(source)

    def validate(self) -> list[ConfigError]:
        """Every typed section checked exactly as the commands check it.

        ``[operations]``, ``[orchestrator.extensions]`` and each
        ``[providers.<name>]``; the errors (each naming its fields), none
        when all is well.  ``prov config show`` reports them, so it never
        shows as fine what a command would refuse.
        """
        checks: list[Callable[[], object]] = [
            lambda: self.operations,
            lambda: self.extensions,
            lambda: self.api,
        ]
        providers = self.section("providers")
        checks += [partial(self.provider_settings, name) for name in sorted(providers)]
        errors: list[ConfigError] = []
        for check in checks:
            try:
                check()
            except ConfigError as exc:
                errors.append(exc)
        return errors

    def user_set(self, path: str) -> bool:
        """Whether a layer above the shipped defaults set the value at ``path``."""
        source = self._origins.get(tuple(path.split(".")))
        return source is not None and source.layer not in {"built-in", "defaults"}

    @cached_property
    def operations(self) -> OperationsSettings:
        """The ``[operations]`` section, checked: every bad value is reported at once."""
        from provisioning_core.convert import structure

        data = self._table(("operations",), "operations")
        problems: list[str] = []
        valid = dict(data)
        for name in _LIMITS:
            value = data.get(name)
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                continue
            problem = _limit_problem(name, value)
            if problem:
                problems.append(f"{problem} @ $.operations.{name}")
                del valid[name]  # so that structuring reports only the other problems
        settings = None
        try:
            settings = structure(valid, OperationsSettings, what="[operations]")
        except DataValidationError as exc:
            problems[:0] = [_reprefix(p, "$.operations") for p in exc.problems]
        if settings is None or problems:
            takes = ", ".join(f"{name} ({text})" for name, (_, _, text) in _LIMITS.items())
            raise self._redacted(
                ConfigError(
                    f"[operations] settings{self._where(map(_problem_path, problems))}"
                    " are not valid",
                    problems=problems,
                    hint=f"[operations] takes: {takes}",
                )
            )
        return settings

    @cached_property
    def extensions(self) -> ExtensionsSettings:
        """``[orchestrator.extensions]``, checked: every bad value is reported at once."""
        label = "orchestrator.extensions"
        data = self._table(("orchestrator", "extensions"), label)
        problems: list[str] = []
        known = {f.name for f in attrs.fields(ExtensionsSettings)}
        problems += [f"unknown setting @ $.{label}.{key}" for key in data if key not in known]
        auto_load = data.get("auto_load", True)
        if not isinstance(auto_load, bool):
            problems.append(f"expected true or false, got {_kind(auto_load)} @ $.{label}.auto_load")
        raw = data.get("cache_dir")
        cache_dir = paths.extensions_dir()
        if raw is not None:
            if not isinstance(raw, str) or not raw.strip():
                problems.append(
                    f"expected a directory path, got {_kind(raw)} @ $.{label}.cache_dir"
                )
            elif not (cache_dir := Path(raw).expanduser()).is_absolute():
                problems.append(f"expected an absolute path, got {raw!r} @ $.{label}.cache_dir")
        import_timeout = data.get("import_timeout", 30.0)
        if (
            isinstance(import_timeout, bool)
            or not isinstance(import_timeout, (int, float))
            or not import_timeout >= 0  # NaN too
            or import_timeout == float("inf")
        ):
            problems.append(
                f"expected a number of seconds, 0 or more, got {import_timeout!r} "
                f"@ $.{label}.import_timeout"
            )
        probe_memory = data.get("probe_memory_mb", 4096)
        if isinstance(probe_memory, bool) or not isinstance(probe_memory, int) or probe_memory < 0:
            problems.append(
                f"expected a whole number of MiB, 0 or more, got {probe_memory!r} "
                f"@ $.{label}.probe_memory_mb"
            )
        if problems:
            raise self._redacted(
                ConfigError(
                    f"[{label}] settings{self._where(map(_problem_path, problems))} are not valid",
                    problems=problems,
                    hint=f"[{label}] takes: auto_load (true or false), cache_dir (an absolute "
                    'directory path, e.g. "{{orchestrator.paths.data_dir}}/extensions"), '
                    "import_timeout (seconds, 0: none), probe_memory_mb (MiB, 0: no limit)",
                )
            )
        return ExtensionsSettings(
            auto_load=auto_load,
            cache_dir=cache_dir,
            import_timeout=float(import_timeout),
            probe_memory_mb=probe_memory,
        )

    @cached_property
    def api(self) -> ApiSettings:
        """``[api]``, checked; ``token`` falls back to ``$PROV_API_TOKEN``."""
        from provisioning_core.convert import structure

        data = self._table(("api",), "api")
        if data.get("token") is None and os.environ.get(API_TOKEN_ENV):
            data["token"] = Secret(os.environ[API_TOKEN_ENV])
        problems: list[str] = []
        valid = dict(data)
        for name, low, high, expected in _API_LIMITS:
            value = data.get(name)
            if isinstance(value, int) and not isinstance(value, bool) and not low <= value <= high:
                problems.append(f"expected {expected}, got {value} @ $.api.{name}")
                del valid[name]  # so that structuring reports only the other problems
        try:
            settings = structure(valid, ApiSettings, what="[api]")
        except DataValidationError as exc:
            problems += [_reprefix(p, "$.api") for p in exc.problems]
        if problems:
            raise self._redacted(
                ConfigError(
                    f"[api] settings{self._where(map(_problem_path, problems))} are not valid",
                    problems=problems,
                    hint="[api] takes: host, port (0-65535), token and read_token (secrets, "
                    'e.g. "${PROV_API_TOKEN}"), max_body_bytes and workers (at least 1)',
                )
            )
        return settings

    def provider_settings(self, name: str) -> ProviderSettings:
        """``[providers.<name>]`` as :class:`ProviderSettings`; defaults if it is absent."""
        from provisioning_core.convert import structure
        from provisioning_core.models import ProviderSettings

        label = f"[providers.{name}]"
        data = self._table(("providers", name), f"providers.{name}")
        if data.get("name", name) != name:
            raise ConfigError(
                f"{label}{self._where([('providers', name, 'name')])} sets name to another name",
                hint=f"remove name from {label}: the section's name is the provider's name",
            )
        data["name"] = name
        try:
            return structure(data, ProviderSettings, what=label)
        except DataValidationError as exc:
            problems = [_reprefix(p, f"$.providers.{name}") for p in exc.problems]
            raise self._redacted(
                ConfigError(
                    f"provider settings {label}{self._where(map(_problem_path, problems))}"
                    " are not valid",
                    problems=problems,
                    hint=_provider_hint(name, exc.problems),
                )
            ) from None

    def taskserv_settings(self, name: str) -> dict[str, Any]:
        """``[taskservs.<name>]``, secrets as :class:`Secret` (empty if absent)."""
        return self._table(("taskservs", name), f"taskservs.{name}")

    def cluster_settings(self, name: str) -> dict[str, Any]:
        """``[clusters.<name>]``, secrets as :class:`Secret` (empty if absent)."""
        return self._table(("clusters", name), f"clusters.{name}")

    def secrets(self) -> list[Secret]:
        """Every secret value in the configuration, to pass to :func:`redact`."""
        found: dict[Secret, None] = {}
        for secret in _secrets(self._tree, secret=False):
            found.setdefault(secret)
        return list(found)

    def short_secrets(self) -> list[str]:
        """Where the secrets too short to be masked in free text are ("$.providers.x.auth.pin").

        :func:`~provisioning_core.secret.redact` leaves values under
        ``MIN_MASKED_LENGTH`` characters alone, so ``prov`` warns about each.
        """
        return [
            "$." + ".".join(map(str, path))
            for path, secret in _secret_paths(self._tree, (), secret=False)
            if 0 < len(secret.reveal()) < MIN_MASKED_LENGTH
        ]

    def masked(self) -> dict[str, Any]:
        """The whole configuration as plain, JSON-able data, every secret masked.

        Values that could not be resolved show their template and why, such as
        ``"${UPCLOUD_TOKEN} (unset)"``.
        """
        result: dict[str, Any] = _masked(self._tree, secret=False)
        return result

    # --- internals ---

    def _node(self, keys: _Path) -> Any:
        node: Any = self._tree
        for i, key in enumerate(keys):
            if isinstance(node, _Unresolved):
                raise self._unresolvable(keys[:i], [(keys[:i], node)])
            if not isinstance(node, dict) or key not in node:
                return _ABSENT
            node = node[key]
        return node

    def _table(self, keys: _Path, label: str) -> dict[str, Any]:
        node = self._node(keys)
        if node is _ABSENT:
            return {}
        self._check(keys, node)
        if not isinstance(node, dict):
            raise ConfigError(
                f"setting {label}{self._where([keys])} is a {_kind(node)}, not a table",
                hint=f"write it as a table: [{label}] followed by key = value lines",
            )
        result: dict[str, Any] = _copy(node)
        return result

    def _check(self, keys: _Path, node: Any) -> None:
        found = list(_walk_unresolved(node, keys))
        if found:
            raise self._unresolvable(keys, found)

    def _unresolvable(self, keys: _Path, found: list[tuple[_Path, _Unresolved]]) -> ConfigError:
        if len(found) == 1:
            path, item = found[0]
            return ConfigError(
                f"setting {_dotted(path)}{self._where([path])} cannot be resolved:"
                f" {item.issue.problem}",
                # the path as every refusal names it ("message @ $.path"), short
                problems=[f"{item.issue.short} @ $.{_dotted(path)}"],
                hint=item.issue.hint,
            )
        return ConfigError(
            f"settings under {_dotted(keys)}{self._where(p for p, _ in found)} cannot be resolved",
            problems=[f"{item.issue.problem} @ $.{_dotted(path)}" for path, item in found],
            hint="; ".join(dict.fromkeys(item.issue.hint for _, item in found)),
        )

    def _where(self, paths_: Iterable[_Path]) -> str:
        """`` (from workspace /x/provisioning.toml)``: the layers that set ``paths_``."""
        found: dict[str, None] = {}
        for path in paths_:
            keys = tuple(k for k in path if isinstance(k, str))
            while keys and keys not in self._origins:
                keys = keys[:-1]  # a key a layer did not set: blame its table
            if keys:
                found.setdefault(str(self._origins[keys]))
        return f" (from {' and '.join(found)})" if found else ""

    def _suggest(self, keys: tuple[str, ...]) -> str:
        import difflib

        parent = keys[:-1]
        node: dict[str, Any] = self._tree
        for key in parent:
            child = node.get(key) if isinstance(node, dict) else None
            if not isinstance(child, dict):
                break
            node = child
        else:
            names = [str(k) for k in node]
            close = difflib.get_close_matches(str(keys[-1]), names, n=1)
            if close:
                return f"did you mean {_dotted((*parent, close[0]))}?"
            if names:
                where = f"[{_dotted(parent)}]" if parent else "the top level"
                return f"check the spelling; {where} holds: {', '.join(sorted(names))}"
        return "check the spelling, or set it in a config file or a PROV_* variable"

    def _redacted(self, error: ConfigError) -> ConfigError:
        """``error`` with any secret value masked (belt and braces: none is expected)."""
        secrets = self.secrets()
        if secrets:
            error.problems = [redact(p, secrets) for p in error.problems]
            error.message = redact(error.message, secrets)
            error.args = (error.message,)
        return error


def _kind(value: Any) -> str:
    if isinstance(value, list):
        return "list"
    if isinstance(value, (str, Secret)):
        return "string"
    return type(value).__name__


def _secrets(node: Any, *, secret: bool) -> Iterator[Secret]:
    if isinstance(node, Secret):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _secrets(value, secret=secret or _secret_key(key))
    elif isinstance(node, list):
        for value in node:
            yield from _secrets(value, secret=secret)
    elif secret and isinstance(node, (int, float)) and not isinstance(node, bool):
        yield Secret(str(node))  # a numeric PIN under a secret key is no less secret


def _secret_paths(
    node: Any, path: tuple[str | int, ...], *, secret: bool
) -> Iterator[tuple[tuple[str | int, ...], Secret]]:
    if isinstance(node, Secret):
        yield path, node
    elif isinstance(node, dict):
        for key, value in node.items():
            yield from _secret_paths(value, (*path, key), secret=secret or _secret_key(key))
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _secret_paths(value, (*path, i), secret=secret)
    elif secret and isinstance(node, (int, float)) and not isinstance(node, bool):
        yield path, Secret(str(node))


def _masked(node: Any, *, secret: bool) -> Any:
    if isinstance(node, dict):
        return {
            key: _masked(value, secret=secret or _secret_key(key)) for key, value in node.items()
        }
    if isinstance(node, list):
        return [_masked(value, secret=secret) for value in node]
    if isinstance(node, _Unresolved):
        return node.display
    if isinstance(node, Secret) or (
        secret and isinstance(node, (int, float)) and not isinstance(node, bool)
    ):
        return MASK
    return node.isoformat() if isinstance(node, (date, time)) else node


_SECTIONS = ("auth", "api", "defaults", "features")


def _provider_hint(name: str, problems: Sequence[str]) -> str:
    from provisioning_core.models import (
        ProviderApi,
        ProviderAuth,
        ProviderDefaults,
        ProviderFeatures,
    )

    classes: dict[str, type] = {
        "auth": ProviderAuth,
        "api": ProviderApi,
        "defaults": ProviderDefaults,
        "features": ProviderFeatures,
    }
    hints: dict[str, None] = {}
    for problem in problems:
        if not problem.startswith("extra fields found"):
            continue
        where = problem.rpartition(" @ $")[2].lstrip(".")
        if where in classes:
            fields = ", ".join(a.name for a in attrs.fields(classes[where]))
            hints.setdefault(f"[providers.{name}.{where}] takes: {fields}")
        elif not where:
            hints.setdefault(
                f"[providers.{name}] takes the tables {', '.join(_SECTIONS)} and options"
            )
    if hints:
        hints.setdefault(f"provider-specific keys go under [providers.{name}.options]")
        return "; ".join(hints)
    return "correct the values named above; see [providers.<name>] in docs/configuration.md"


def _split(path: str) -> tuple[str, ...]:
    keys = tuple(path.split("."))
    if not path or not all(keys):
        raise ConfigError(
            f"invalid setting path {path!r}",
            hint="name a setting by its tables and key joined by dots, e.g. operations.parallelism",
        )
    return keys


# --- loading -----------------------------------------------------------------


class _Layers:
    """The merged data, and which layer set each path (tables included)."""

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}
        self.sources: list[ConfigSource] = []
        self.origins: dict[tuple[str, ...], ConfigSource] = {}

    def add(self, source: ConfigSource, data: Mapping[str, Any]) -> None:
        self.sources.append(source)
        self._merge(self.data, data, (), source)

    def _merge(
        self,
        target: dict[str, Any],
        data: Mapping[str, Any],
        prefix: tuple[str, ...],
        source: ConfigSource,
    ) -> None:
        for key, value in data.items():
            path = (*prefix, key)
            current = target.get(key)
            if isinstance(value, Mapping):
                if not isinstance(current, dict):
                    current = target[key] = {}
                self.origins[path] = source
                self._merge(current, value, path, source)
                continue
            if isinstance(current, dict):  # a value replaces a table: forget its contents
                depth = len(path)
                for stale in [p for p in self.origins if p[:depth] == path]:
                    del self.origins[stale]
            target[key] = _copy(value)
            self.origins[path] = source


def load_config(
    *,
    config_file: str | Path | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read every layer, merge, interpolate; see the module's docstring.

    ``config_file`` (else ``$PROV_CONFIG``) names the user's config file;
    relative paths are taken from ``cwd``.  ``env`` replaces ``os.environ``
    for every lookup (``PROV_CONFIG``, ``PROV_*`` settings, ``${VAR}``).
    ``overrides`` maps dotted paths to values given on the command line;
    None values (flags not given) are skipped.  Only an unreadable or
    malformed file, a missing explicitly named file or a malformed
    ``PROV_*__*`` name raises :class:`ConfigError` here.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    base = (Path.cwd() if cwd is None else Path(cwd)).absolute()
    layers = _Layers()
    # the rest of the process finds its state through paths.prov_home(), so
    # data_dir must agree with it whatever `env` says
    home = "$PROV_HOME" if os.environ.get("PROV_HOME") else "platform data directory"
    layers.add(
        ConfigSource("built-in", home),
        {"orchestrator": {"paths": {"data_dir": str(paths.prov_home())}}},
    )
    location, defaults = _defaults()
    layers.add(ConfigSource("defaults", location), defaults)
    user = _user_file(config_file, environ, base)
    if user is not None:
        layers.add(ConfigSource("user", str(user)), _read_toml(user, "config file"))
    workspace = _find_workspace(base)
    if workspace is not None and not (user is not None and _same_file(user, workspace)):
        layers.add(
            ConfigSource("workspace", str(workspace)), _read_toml(workspace, "workspace file")
        )
    for name, keys, value in _environment_settings(environ):
        layers.add(ConfigSource("environment", name), _nest(keys, value))
    for key, value in (overrides or {}).items():
        if value is None:
            continue
        keys = _split(key)
        flag = "--" + keys[-1].replace("_", "-")
        layers.add(ConfigSource("command line", flag), _nest(keys, value))
    return Config(layers.data, env=environ, sources=layers.sources, origins=layers.origins)


@cache
def _defaults() -> tuple[str, Mapping[str, Any]]:
    from importlib.resources import files

    resource = files("provisioning_core").joinpath(DEFAULTS_FILE)
    # a broken shipped file is a packaging bug: let tomllib's error surface as is
    data: dict[str, Any] = tomllib.loads(resource.read_text(encoding="utf-8"))
    return str(resource), data


def _user_file(
    config_file: str | Path | None, environ: Mapping[str, str], base: Path
) -> Path | None:
    if config_file is not None:
        named, how = Path(config_file), "given as the config file (--config)"
    elif environ.get("PROV_CONFIG"):
        named, how = Path(environ["PROV_CONFIG"]), "named by PROV_CONFIG"
    else:
        default = user_config_path()
        return default if default.is_file() else None
    path = base / named.expanduser()
    if not path.exists():
        raise ConfigError(
            f"config file {path} ({how}) does not exist",
            hint="create it, or name an existing file"
            + (", or unset PROV_CONFIG" if config_file is None else ""),
        )
    return path


def _find_workspace(start: Path) -> Path | None:
    for directory in (start, *start.parents):
        candidate = directory / WORKSPACE_FILE
        if candidate.is_file():
            return candidate
    return None


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.samefile(b)
    except OSError:
        return False


def _read_toml(path: Path, what: str) -> dict[str, Any]:
    # messages carry tomllib's words and position only, never the text: the
    # file may hold a token
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(
            f"{what} {path} is not valid TOML: {exc}",
            hint='fix the syntax at that line and column (strings need quotes: key = "value")',
        ) from None
    except UnicodeDecodeError:
        raise ConfigError(
            f"{what} {path} is not UTF-8 text", hint="save it as UTF-8 (TOML requires it)"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} {path}: {exc.strerror or exc}",
            hint="make it a readable file, or remove it",
        ) from None
    return data


def _environment_settings(
    environ: Mapping[str, str],
) -> Iterator[tuple[str, tuple[str, ...], Any]]:
    """``(variable, keys, value)`` for every ``PROV_<A>__<B>...`` variable.

    Sorted, so that a deeper variable (``PROV_A__B__C``) applies after, and
    wins over, a table given whole (``PROV_A__B='{c = 1}'``).
    """
    for name in sorted(environ):
        if not name.startswith("PROV_") or "__" not in name:
            continue
        keys = tuple(name[len("PROV_") :].lower().split("__"))
        if not all(keys):
            raise ConfigError(
                f"environment variable {name} does not name a setting",
                hint=(
                    "write PROV_<TABLE>__<KEY>, tables and key joined by two underscores,"
                    " e.g. PROV_OPERATIONS__PARALLELISM=4"
                ),
            )
        text = environ[name]
        secret = _SECRET_ENV.search(name) or any(_SECRET_KEY.search(k) for k in keys)
        # a credential stays the text it is: "012345" must not become 12345
        yield name, keys, text if secret else _parse_value(text)


def _parse_value(text: str) -> Any:
    """``text`` as a TOML value if it is one (4, true, ["a"]), else the text itself."""
    if "\n" in text or "\r" in text:  # could smuggle in further keys
        return text
    try:
        parsed = tomllib.loads(f"value = {text}")
    except tomllib.TOMLDecodeError:
        return text
    return parsed["value"] if len(parsed) == 1 else text


def _nest(keys: Sequence[str], value: Any) -> dict[str, Any]:
    data: dict[str, Any] = {keys[-1]: value}
    for key in reversed(keys[:-1]):
        data = {key: data}
    return data
