"""Loading extensions and calling their hooks.

:class:`ExtensionManager` resolves a name through discovery, checks that the
extension can run here (enabled, compatible, dependencies present), imports
exactly that extension, checks its hooks against the contract and keeps the
result in an LRU cache.  Each failure raises a :class:`ExtensionError` that
names the plugin, its distribution and version, the problem and the fix; the
manager stays usable for every other extension.

:class:`Extension` dispatches hook calls through its own pluggy
``PluginManager``, after any interceptors the core installed (audit, timing,
retries, check-mode guard), and structures results into the contract's models.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import re
import sys
import threading
import time
import traceback
import types
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping, Sequence, Sized
from datetime import datetime, timezone
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any, TypeVar

import attrs
import pluggy

from provisioning_core.compat import missing_dependencies
from provisioning_core.convert import structure, type_name
from provisioning_core.discovery import Discovery
from provisioning_core.environ import strict_mode
from provisioning_core.errors import (
    CapabilityNotSupported,
    DataValidationError,
    ExtensionError,
    ExtensionLoadError,
    ExtensionNotFound,
    ExtensionNotLoaded,
    IncompatibleExtension,
    MissingDependency,
    PluginCallError,
    PluginReportedFailure,
    ProvisioningError,
    TransientError,
    transient_from,
)
from provisioning_core.hookspecs import HOOKS, HookDef
from provisioning_core.import_guard import (
    ImportLedger,
    ImportTimedOut,
    import_with_deadline,
    still_importing,
)
from provisioning_core.interface import build_plugin_manager, inspect_hooks, spec_argnames
from provisioning_core.loaded import LoadedRecord, forget_loaded, loaded_records, record_loaded
from provisioning_core.models import (
    ConnectionResult,
    DiscoveredExtension,
    ExtensionMetadata,
    ExtensionType,
    OperationResult,
    ValidationReport,
)
from provisioning_core.paths import extension_cache_dir
from provisioning_core.secret import redact

if TYPE_CHECKING:
    from provisioning_core.probe import ProbeFailure

__all__ = [
    "MAX_RESULT_ITEMS",
    "Extension",
    "ExtensionManager",
    "ExtensionMetrics",
    "HookCall",
    "Interceptor",
    "LoadEvent",
    "import_plugin",
]


#: the most items a hook's list result may hold; more is refused before it is
#: structured (structuring costs about 10 us an item, and memory)
MAX_RESULT_ITEMS = 100_000


@attrs.define
class HookCall:
    """One hook call as interceptors see it; they may change ``kwargs``."""

    extension: Extension
    hook: str
    kwargs: dict[str, Any]


Interceptor = Callable[[HookCall, Callable[[], Any]], Any]
"""Wraps every hook call: receives the call and ``proceed``, returns the result.

Call ``proceed()`` to run the rest of the chain and the hook (more than once
to retry); raise to refuse the call.
"""


@attrs.frozen
class LoadEvent:
    """A cold load that succeeded (``error`` None) or failed, and how long it took."""

    kind: ExtensionType
    name: str
    version: str | None
    seconds: float
    error: ProvisioningError | None = None


@attrs.define
class ExtensionMetrics:
    """Counters of an :class:`ExtensionManager`.

    ``total_extension_loads`` counts every successful ``load_extension`` call;
    ``cache_hits`` those served from the cache; ``cold_loads`` those that
    imported; ``failed_loads`` those that raised; ``load_seconds`` is the time
    spent in cold loads.
    """

    total_extension_loads: int = 0
    cache_hits: int = 0
    cold_loads: int = 0
    failed_loads: int = 0
    load_seconds: float = 0.0

    @property
    def hit_ratio(self) -> float:
        """``cache_hits / total_extension_loads`` (0.0 before any load)."""
        return self.cache_hits / self.total_extension_loads if self.total_extension_loads else 0.0


class Extension:
    """A loaded extension: its metadata and a way to call its hooks.

    ``metadata`` is its :class:`ExtensionMetadata`, ``path`` the directory its
    code was imported from, ``loaded_at`` when (an aware UTC datetime), and
    ``plugin_manager`` the pluggy manager holding only this extension.
    """

    __slots__ = (
        "_callers",
        "_defs",
        "_fast",
        "_interceptors",
        "_label",
        "_spec_args",
        "discovered",
        "implemented",
        "kind",
        "loaded_at",
        "metadata",
        "name",
        "path",
        "plugin",
        "plugin_manager",
    )

    def __init__(
        self,
        discovered: DiscoveredExtension,
        plugin: object,
        plugin_manager: pluggy.PluginManager,
        implemented: Mapping[str, tuple[str, ...]],
        path: Path | None,
        interceptors: Sequence[Interceptor] = (),
    ) -> None:
        self.discovered = discovered
        self.metadata: ExtensionMetadata = discovered.metadata
        self.kind = discovered.kind
        self.name = discovered.name
        self.plugin = plugin
        self.plugin_manager = plugin_manager
        self.implemented = dict(implemented)
        self.path = path
        self.loaded_at = datetime.now(timezone.utc)
        self._defs: Mapping[str, HookDef] = HOOKS[self.kind]
        self._callers = {hook: getattr(plugin_manager.hook, hook) for hook in self.implemented}
        self._spec_args = spec_argnames(self.kind)
        # per hook, what every call needs, looked up once: the spec's argument
        # names (to spot an incomplete call) and the result type
        self._fast = {
            hook: (frozenset(self._spec_args[hook]), self._defs[hook].result)
            for hook in self._callers
        }
        self._interceptors = tuple(interceptors)
        self._label = f"{self.kind} {self.name!r}"

    def __repr__(self) -> str:
        origin = self.discovered.origin
        return f"<Extension {self.kind}:{self.name} {self.metadata.version} from {origin}>"

    @property
    def version(self) -> str:
        """The extension's version."""
        return self.metadata.version

    def implements(self, hook: str) -> bool:
        """Whether the extension implements ``hook``."""
        return hook in self._callers

    def accepts(self, hook: str, argument: str) -> bool:
        """Whether the implementation of ``hook`` takes ``argument`` (e.g. ``check``)."""
        return argument in self.implemented.get(hook, ())

    def require(self, hook: str) -> None:
        """Raise :class:`CapabilityNotSupported` unless the extension implements ``hook``."""
        if hook not in self._callers:
            raise self._unsupported(hook)

    @property
    def unsupported(self) -> list[str]:
        """The optional hooks this extension does not implement."""
        return [h for h in self._defs if h not in self._callers]

    def call(self, hook: str, /, **kwargs: Any) -> Any:
        """Call ``hook`` with ``kwargs`` and return its result, structured.

        Raises :class:`CapabilityNotSupported` if the hook is not implemented
        and :class:`PluginCallError` if it raises something unexpected or
        returns malformed data.  :class:`ProvisioningError` subclasses the
        plugin raises on purpose (``ServerNotFound``, ``TransientError``) pass
        through unchanged.
        """
        caller = self._callers.get(hook)
        if caller is None:
            raise self._unsupported(hook)
        if not self._interceptors:
            return self._invoke(hook, caller, kwargs)
        call = HookCall(self, hook, kwargs)
        chain = self._interceptors

        def step(i: int) -> Any:
            if i == len(chain):
                return self._invoke(hook, caller, call.kwargs)
            return chain[i](call, lambda: step(i + 1))

        return step(0)

    def _complete(self, hook: str, kwargs: dict[str, Any]) -> dict[str, Any]:
        # pluggy warns about spec arguments a call leaves out; an implementation
        # only ever receives the ones it names, so fill the others with None
        spec = self._spec_args[hook]
        unknown = [k for k in kwargs if k not in spec]
        missing = [a for a in self.implemented[hook] if a not in kwargs]
        if unknown or missing:
            raise TypeError(
                f"call of {self._label}.{hook}: "
                + "; ".join(
                    ([f"unknown arguments {unknown} (spec: {list(spec)})"] if unknown else [])
                    + ([f"missing arguments {missing}, which the plugin takes"] if missing else [])
                )
            )
        return {**dict.fromkeys(spec), **kwargs}

    def _invoke(self, hook: str, caller: Any, kwargs: dict[str, Any]) -> Any:
        spec, result_type = self._fast[hook]
        if kwargs.keys() != spec:
            kwargs = self._complete(hook, kwargs)
        try:
            result = caller(**kwargs)
        except ProvisioningError as exc:  # raised on purpose; still never echo a credential
            exc.message = redact(exc.message, kwargs)
            exc.args = (exc.message, *exc.args[1:])
            raise
        except (KeyboardInterrupt, GeneratorExit):
            raise
        except BaseException as exc:  # SystemExit from a plugin must not end the host
            transient = transient_from(exc)
            if transient is not None:  # HTTP 429/5xx from the plugin's client library
                raise TransientError(
                    redact(f"{self._label}: {hook}: {transient.message}", kwargs),
                    retry_after=transient.retry_after,
                    status=transient.status,
                ) from None
            said = " (it ran out of memory)" if isinstance(exc, MemoryError) else f": {exc}"
            error = self.error(
                redact(f"{hook} raised {type(exc).__name__}{said}", kwargs),
                hook,
                "this is a bug in the plugin or its environment; run with --debug for the "
                "traceback and report it to the plugin's author",
            )
            # the plugin's traceback, secrets masked, instead of the exception
            # itself, whose message or locals may hold a credential
            error.detail = redact("".join(traceback.format_exception(exc)), kwargs)
            raise error from None
        if result_type is None or type(result) is result_type:
            return result
        return self._structured(hook, result, result_type, kwargs)

    def _structured(self, hook: str, result: Any, result_type: Any, kwargs: dict[str, Any]) -> Any:
        """``result`` as ``result_type``, the seed's envelopes read as ours."""
        if (
            isinstance(result, Mapping)
            and result.get("success") is False
            and result_type not in _REPORTS
        ):  # the seed's envelope: the plugin says it failed
            raise self._reported_failure(hook, result, kwargs)
        if result is None and result_type is OperationResult and hook in _NULL_IS_DONE:
            # the seed's uninstall, configure, restart and delete return null:
            # done, without saying what changed
            return OperationResult(changed=True, reported=False)
        if result is None:
            raise self.error(
                f"{hook} returned None; it must return {type_name(result_type)}",
                hook,
                "the plugin broke the hook contract; report it to its author",
            )
        if isinstance(result, Iterator):  # never drained: it may be endless
            if isinstance(result, types.GeneratorType):
                result.close()
            raise self.error(
                f"{hook} returned {_a(result)} instead of {type_name(result_type)}; "
                "it was not read",
                hook,
                "the plugin broke the hook contract (a list, not a generator); "
                "report it to its author",
            )
        if (
            isinstance(result, Sized)
            and not isinstance(result, (str, bytes, Mapping))
            and len(result) > MAX_RESULT_ITEMS
        ):
            raise self.error(
                f"{hook} returned {len(result):,} items, more than the {MAX_RESULT_ITEMS:,} "
                "a result may hold; it was refused unread",
                hook,
                "the plugin returns far too much (or loops); report it to its author",
            )
        try:
            return structure(result, result_type, what=f"the result of {hook}")
        except DataValidationError as exc:
            raise self.error(
                exc.message, hook, "the plugin broke the hook contract; report it to its author"
            ) from None

    def _reported_failure(
        self, hook: str, result: Mapping[str, Any], kwargs: dict[str, Any]
    ) -> PluginCallError:
        said = [str(result[k]) for k in ("error", "message") if result.get(k)]
        text = ": ".join(dict.fromkeys(said)) or "no error message given"
        return self.error(
            redact(f"{hook} failed: {text}", kwargs),
            hook,
            "the plugin reported the failure itself; see its message, fix the cause and "
            "run the command again",
            PluginReportedFailure,
        )

    def error(
        self,
        message: str,
        hook: str,
        hint: str,
        cls: type[PluginCallError] = PluginCallError,
    ) -> PluginCallError:
        """A ``cls`` error about ``hook`` naming this extension, its distribution and version."""
        d = self.discovered
        return cls(
            message,
            kind=d.kind,
            name=d.name,
            distribution=d.distribution,
            version=d.version,
            hook=hook,
            hint=hint,
        )

    def _unsupported(self, hook: str) -> Exception:
        d = self.discovered
        definition = self._defs.get(hook)
        if definition is None:  # a bug in the caller, not in the plugin or the input
            known = ", ".join(self._defs)
            return ValueError(f"no {self.kind} hook is called {hook!r}; there are: {known}")
        return CapabilityNotSupported(
            f"does not support {definition.capability} (no {hook} hook)",
            kind=d.kind,
            name=d.name,
            distribution=d.distribution,
            version=d.version,
            hook=hook,
            hint=f"use a {self.kind} that supports it, or ask the plugin's author to add {hook}",
        )


def _a(value: object) -> str:
    if isinstance(value, types.GeneratorType):
        return "a generator"
    return f"an iterator ({type(value).__name__})"


# records in which success: false is an answer, not a failure of the call
_REPORTS = (ConnectionResult, ValidationReport)
# the hooks whose seed operation returns null: None from them is done
_NULL_IS_DONE = frozenset({"uninstall", "configure", "restart", "delete", "restart_component"})

_CacheKey = tuple[str, str, str]


class ExtensionManager:
    """Loads extensions on demand and keeps the last ``cache_size`` in an LRU cache.

    ``ExtensionManager()`` needs no arguments: it discovers from ``sys.path``
    and registered directories.  ``discovery`` replaces that;
    ``interceptors`` wrap every hook call of every extension loaded;
    ``on_load`` hears of each cold load and each failure; ``strict``
    (default: ``PROV_STRICT``) turns an extension's warnings into load errors.
    ``auto_load`` and ``cache_dir`` are the seed's ``[orchestrator.extensions]``
    settings: with ``auto_load`` false, :meth:`require` (what a command uses)
    serves only extensions recorded by :meth:`record_load` in ``cache_dir``
    (``prov module load``); :meth:`load_extension` is always an explicit load.
    ``import_timeout`` (seconds; None: none) bounds each plugin's import,
    ``probe_memory_mb`` the memory of the probe process (:meth:`probe`).
    """

    def __init__(
        self,
        *,
        discovery: Discovery | None = None,
        cache_size: int = 100,
        interceptors: Sequence[Interceptor] = (),
        on_load: Callable[[LoadEvent], None] | None = None,
        strict: bool | None = None,
        auto_load: bool = True,
        cache_dir: Path | None = None,
        import_timeout: float | None = None,
        probe_memory_mb: int | None = None,
    ) -> None:
        self.import_timeout = import_timeout or None
        self.probe_memory_mb = probe_memory_mb or None
        self._ledger: ImportLedger | None = None
        self.discovery = discovery if discovery is not None else Discovery(cache_dir=cache_dir)
        self.auto_load = auto_load
        self._cache_dir = cache_dir
        self._records: dict[tuple[ExtensionType, str], LoadedRecord] | None = None
        self.cache_size = cache_size
        self.interceptors = list(interceptors)
        self.on_load = on_load
        self.strict = strict_mode() if strict is None else strict
        self.metrics = ExtensionMetrics()
        # the LRU cache, keyed kind:name:version (as a tuple, so names may hold ':')
        self._cache: OrderedDict[_CacheKey, Extension] = OrderedDict()
        # what was asked for (kind, name, version or None) -> the cache key it got
        self._aliases: dict[tuple[str, str, str | None], _CacheKey] = {}
        self._lock = threading.RLock()
        self._objects: dict[tuple[ExtensionType, str], object] = {}

    @classmethod
    def make_test_instance(
        cls,
        extensions: Mapping[tuple[ExtensionType | str, str], object],
        *,
        version: str = "0.0.0",
        interceptors: Sequence[Interceptor] = (),
    ) -> ExtensionManager:
        """A manager over in-memory plugin objects, without scanning anything.

        ``extensions`` maps ``(kind, name)`` to a module or object holding
        hook implementations.  Loading still checks their hooks.
        """
        found = [
            DiscoveredExtension(
                kind=kind,
                name=name,
                version=version,
                source="memory",
                target="memory",  # the object is given, nothing is imported
                requires_core="",
            )
            for (kind, name) in extensions
        ]
        manager = cls(discovery=Discovery.from_list(found), interceptors=interceptors)
        manager._objects = {
            # a class is instantiated, as it is when an entry point names one
            (ExtensionType(k), n): obj() if isinstance(obj, type) else obj
            for (k, n), obj in extensions.items()
        }
        return manager

    # -- the seed's API -----------------------------------------------------

    def load_extension(
        self, kind: ExtensionType | str, name: str, version: str | None = None
    ) -> Extension:
        """The loaded extension ``kind``/``name`` at ``version`` (None: the highest).

        Served from the cache when it was loaded before; otherwise resolved,
        checked, imported and cached.  Raises :class:`ExtensionNotFound`,
        :class:`IncompatibleExtension`, :class:`MissingDependency` or
        :class:`ExtensionLoadError`.
        """
        key = self._aliases.get((kind, name, version))
        if key is not None:
            ext = self._cache.get(key)
            if ext is not None:
                try:  # noqa: SIM105 - contextlib.suppress costs more on this hot path
                    self._cache.move_to_end(key)
                except KeyError:  # evicted by another thread meanwhile: still valid
                    pass
                metrics = self.metrics
                metrics.total_extension_loads += 1
                metrics.cache_hits += 1
                return ext
        return self._load(kind, name, version)

    def list_loaded_extensions(self) -> list[Extension]:
        """The extensions in the cache, least recently used first."""
        return list(self._cache.values())

    def is_extension_loaded(self, kind: ExtensionType | str, name: str) -> bool:
        """Whether any version of ``kind``/``name`` is in the cache."""
        return any(k[0] == kind and k[1] == name for k in list(self._cache))

    def reload_extension(self, kind: ExtensionType | str, name: str) -> Extension:
        """Forget ``kind``/``name``, rescan, re-import its code and load it again.

        Only the extension's own module (and its submodules) is re-imported,
        never the rest of a package it shares with other code.
        """
        kind = ExtensionType.of(kind)
        with self._lock:
            self._drop(kind, name)
            for found in self.discovery.candidates(kind, name):
                _forget_modules(found)
            self.discovery.refresh()
            return self.load_extension(kind, name)

    def clear_cache(self) -> None:
        """Empty the cache; the next load of each extension is a cold one.

        Modules stay imported; :meth:`reload_extension` re-imports.
        """
        with self._lock:
            self._cache.clear()
            self._aliases.clear()

    # -- auto_load: what a command may load ---------------------------------------

    @property
    def cache_dir(self) -> Path:
        """Where this manager's records (and its discovery's scan cache) live."""
        return self._cache_dir or self.discovery.cache_dir or extension_cache_dir()

    def require(self, kind: ExtensionType | str, name: str) -> Extension:
        """The extension a command needs: loaded on demand, as ``auto_load`` allows.

        With ``auto_load`` true this is :meth:`load_extension`.  With it false,
        only an extension recorded by :meth:`record_load` (``prov module
        load``) is loaded, at the version recorded; any other raises
        :class:`ExtensionNotLoaded` saying how to load it.
        """
        if self.auto_load:
            return self.load_extension(kind, name)
        kind = ExtensionType.of(kind)
        record = self._loaded().get((kind, name))
        if record is None:
            raise ExtensionNotLoaded(
                "is not loaded, and [orchestrator.extensions] auto_load is false, so "
                "commands use only extensions loaded explicitly",
                kind=kind.value,
                name=name,
                hint=f"load it first with: prov module load {kind.value} {name} [--version V] "
                "(or set auto_load = true); prov module list shows what is loaded",
            )
        return self.load_extension(kind, name, record.version)

    def record_load(self, ext: Extension, *, version: str | None = None) -> LoadedRecord:
        """Remember in ``cache_dir`` that ``ext`` was loaded explicitly (``version``: pinned)."""
        record = record_loaded(self.cache_dir, ext.kind, ext.name, version)
        self._records = None
        return record

    def _drop(self, kind: ExtensionType, name: str) -> None:
        """Drop every cached version of ``kind``/``name`` and its aliases (lock held)."""
        for key in [k for k in self._cache if k[0] == kind and k[1] == name]:
            del self._cache[key]
        self._aliases = {
            a: k for a, k in self._aliases.items() if not (k[0] == kind and k[1] == name)
        }

    def forget_load(self, kind: ExtensionType | str, name: str) -> bool:
        """Forget the record of ``kind``/``name`` and drop it from the cache; False if none."""
        kind = ExtensionType.of(kind)
        with self._lock:
            self._drop(kind, name)
        self._records = None
        return forget_loaded(self.cache_dir, kind, name)

    def loaded_records(self) -> list[LoadedRecord]:
        """The explicit loads recorded in ``cache_dir``, as ``prov module list`` shows them."""
        return list(self._loaded().values())

    def _loaded(self) -> dict[tuple[ExtensionType, str], LoadedRecord]:
        if self._records is None:
            self._records = {(r.kind, r.name): r for r in loaded_records(self.cache_dir)}
        return self._records

    # -- loading --------------------------------------------------------------

    def _load(self, kind: ExtensionType | str, name: str, version: str | None) -> Extension:
        kind = ExtensionType.of(kind)
        with self._lock:  # one cold load at a time: imports are not thread-safe
            return self._load_locked(kind, name, version)

    def _load_locked(self, kind: ExtensionType, name: str, version: str | None) -> Extension:
        started = time.perf_counter()
        try:
            found = self.discovery.resolve(kind, name, version)
            key = (kind.value, name, found.version)
            ext = self._cache.get(key)
            if ext is None:
                ext = self._build(found)
                self._cache[key] = ext
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
                elapsed = time.perf_counter() - started
                self.metrics.cold_loads += 1
                self.metrics.load_seconds += elapsed
                self._notify(LoadEvent(kind, name, found.version, elapsed))
            else:
                self._cache.move_to_end(key)
                self.metrics.cache_hits += 1
        except ProvisioningError as exc:
            self.metrics.failed_loads += 1
            self._notify(LoadEvent(kind, name, version, time.perf_counter() - started, exc))
            raise
        if len(self._aliases) > 4 * self.cache_size:
            self._aliases.clear()  # stale aliases only cost a slow path
        self._aliases[(kind, name, version)] = key
        self.metrics.total_extension_loads += 1
        return ext

    def _notify(self, event: LoadEvent) -> None:
        if self.on_load is not None:
            self.on_load(event)

    def _build(self, found: DiscoveredExtension) -> Extension:
        if found.status == "disabled":
            raise _fail(
                ExtensionNotFound,
                found,
                f"is disabled ({found.reason})",
                "change PROV_LOAD_PLUGINS / PROV_DISABLE_PLUGINS to enable it",
            )
        if found.status == "incompatible":
            fix = (
                f"install a release of {found.distribution} that supports this core "
                f"(pip install -U {found.distribution})"
                if found.distribution
                else "update the extension, or its core requirement (requires-core, or "
                "[compatibility] provisioning_version in metadata.toml)"
            )
            raise _fail(IncompatibleExtension, found, found.reason, fix)
        if found.status == "invalid":
            raise _fail(
                ExtensionLoadError,
                found,
                found.reason,
                "the plugin's metadata is broken; report it to its author",
            )
        if self.strict and found.warnings:
            raise _fail(
                ExtensionLoadError,
                found,
                "strict mode (PROV_STRICT) refuses its warnings: " + "; ".join(found.warnings),
                "fix the warnings, or unset PROV_STRICT",
            )
        missing = self.missing_dependencies(found)
        if missing:
            error = _fail(
                MissingDependency,
                found,
                "needs extensions that are not available: " + "; ".join(missing),
                "install or upgrade them: pip install "
                + " ".join(repr(m.split(" (", 1)[0]) for m in missing)
                if found.source == "entry-point"
                else "install, enable or upgrade the extensions listed",
            )
            error.missing = missing
            raise error
        plugin, module = self.import_plugin(found)
        report = inspect_hooks(found.kind, plugin)
        problems = report.errors + (report.warnings if self.strict else [])
        if problems:
            raise _fail(
                ExtensionLoadError,
                found,
                "does not fit the hook contract:\n" + "\n".join(f"  - {p}" for p in problems),
                "fix the hooks (see docs/hooks.md), or report this to the plugin's author",
            )
        try:
            pm = build_plugin_manager(found.kind, report, f"{found.kind.value}:{found.name}")
        except Exception as exc:
            message = f"does not fit the hook contract: {exc}"
            raise _fail(ExtensionLoadError, found, message, "see docs/hooks.md") from None
        module_file = getattr(module, "__file__", None)
        path = Path(module_file).parent if module_file else None
        return Extension(found, plugin, pm, report.implemented, path, self.interceptors)

    def available_dependencies(self, kind: ExtensionType) -> dict[str, list[str]]:
        """Name -> versions of what extensions of ``kind`` may depend on.

        Extension names of the kind depended on (clusters are made of
        taskservs; every other kind depends on its own kind) and the names of
        every plugin distribution, as ``Requires-Dist`` names them.
        """
        pool: dict[str, list[str]] = {}
        wanted = ExtensionType.TASKSERV if kind is ExtensionType.CLUSTER else kind
        for ext in self.discovery.all():
            if ext.status != "ok":
                continue
            if ext.kind is wanted:
                pool.setdefault(ext.name, []).append(ext.version)
            if ext.distribution and ext.version not in pool.get(ext.distribution, []):
                pool.setdefault(ext.distribution, []).append(ext.version)
        return pool

    def unusable_dependencies(self, kind: ExtensionType) -> dict[str, str]:
        """Name -> why, for extensions (and distributions) installed but not usable."""
        wanted = ExtensionType.TASKSERV if kind is ExtensionType.CLUSTER else kind
        reasons: dict[str, str] = {}
        for ext in self.discovery.all():
            if ext.status in ("ok", "shadowed"):
                continue
            why = f"{ext.status}: {ext.reason}"
            if ext.kind is wanted:
                reasons.setdefault(ext.name, why)
            if ext.distribution:
                reasons.setdefault(ext.distribution, why)
        return reasons

    def missing_dependencies(self, found: DiscoveredExtension) -> list[str]:
        """The dependencies of ``found`` that are not met here, each explained."""
        if not found.dependencies:
            return []
        return missing_dependencies(
            found.dependencies,
            self.available_dependencies(found.kind),
            self.unusable_dependencies(found.kind),
        )

    def import_plugin(self, found: DiscoveredExtension) -> tuple[object, ModuleType]:
        """Import ``found`` (or return the object given to :meth:`make_test_instance`).

        A plugin a probe found to end, hang or exhaust its importer is refused
        unimported; one whose import ended an earlier process is probed first
        (see :mod:`provisioning_core.import_guard`).  The import itself has
        ``import_timeout`` to finish.
        """
        preset = self._objects.get((found.kind, found.name))
        if preset is not None:
            return preset, sys.modules.get(
                getattr(preset, "__module__", ""), ModuleType(found.name)
            )
        if still_importing(found.target):
            raise _fail(
                ExtensionLoadError,
                found,
                "is still being imported by an earlier attempt in this process, which "
                "did not finish within its import_timeout",
                "the plugin hangs at import; restart the process after fixing or "
                "removing it (prov plugin validate NAME probes it)",
            )
        ledger = self.ledger
        verdict = ledger.verdict(found)
        if verdict is not None and verdict.source != "probe":
            # a process ended while importing it: perhaps the plugin, perhaps a kill
            verdict = None if self.probe(found) is None else ledger.verdict(found)
        if verdict is not None:
            raise _fail(
                ExtensionLoadError,
                found,
                f"was refused without being imported: it {verdict.what} "
                f"(found by a probe at {verdict.when})",
                f"fix or upgrade it (pip install -U {found.distribution}), or remove it; "
                f"prov plugin validate {found.name} probes it again"
                if found.distribution
                else f"fix the code in {found.root}; prov plugin validate PATH probes it again",
            )
        with ledger.importing(found):
            return import_plugin(found, timeout=self.import_timeout)

    @property
    def ledger(self) -> ImportLedger:
        """The markers of imports in flight and the probes' verdicts, in ``cache_dir``."""
        if self._ledger is None:
            self._ledger = ImportLedger(self.cache_dir)
        return self._ledger

    def probe(self, found: DiscoveredExtension) -> ProbeFailure | None:
        """Import ``found`` in a child process bounded in time and memory: None if it is fine.

        A failure that would end, hang or exhaust this process is remembered
        (by version) so that loads refuse the plugin before importing it; a
        clean probe forgets it.
        """
        from provisioning_core.probe import probe_import

        failure = probe_import(
            found,
            timeout=self.import_timeout or _PROBE_TIMEOUT,
            memory_mb=self.probe_memory_mb,
        )
        if failure is None or not failure.fatal:
            self.ledger.clear(found)
        else:
            self.ledger.record(found, failure.what)
        return failure


#: how long a probe waits when the manager has no import_timeout
_PROBE_TIMEOUT = 60.0


_E = TypeVar("_E", bound=ExtensionError)


def _fail(cls: type[_E], found: DiscoveredExtension, message: str, hint: str) -> _E:
    """An error of ``cls`` naming ``found``: kind, name, distribution, version."""
    return cls(
        message,
        kind=found.kind.value,
        name=found.name,
        distribution=found.distribution,
        version=found.version,
        hint=hint,
    )


def import_plugin(
    found: DiscoveredExtension, *, timeout: float | None = None
) -> tuple[object, ModuleType]:
    """Import the extension ``found`` and return its hook holder and module.

    An entry point naming a class gives an instance of it.  Any failure,
    including ``SystemExit``, ``RecursionError`` and ``MemoryError``, becomes
    an :class:`ExtensionLoadError`, and so does an import still running
    after ``timeout`` seconds (None: no deadline), which is abandoned.
    """
    module_name, _, attr = found.target.partition(":")

    def load() -> tuple[object, ModuleType]:
        if found.source == "directory":
            module = _import_from_directory(found, module_name)
        else:
            module = importlib.import_module(module_name)
        plugin: Any = module
        for part in attr.split(".") if attr else ():
            plugin = getattr(plugin, part)
        if isinstance(plugin, type):
            plugin = plugin()
        return plugin, module

    try:
        return import_with_deadline(load, timeout, found.target)
    except ImportTimedOut:
        raise _fail(
            ExtensionLoadError,
            found,
            f"did not finish importing within {timeout:g} s and was abandoned",
            "the plugin hangs at import, or is very slow: prov plugin validate "
            f"{found.name} probes it; raise [orchestrator.extensions] import_timeout if "
            "it only needs longer",
        ) from None
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # SystemExit or worse from a plugin's import
        if isinstance(exc, MemoryError):  # its memory is free again once the frame is gone
            raise _fail(
                ExtensionLoadError,
                found,
                f"ran out of memory while importing {found.target!r} (MemoryError)",
                "the plugin allocates without bound at import; report it to its author "
                f"(prov plugin validate {found.name} probes it with a memory limit)",
            ) from None
        fix = (
            f"reinstall it (pip install --force-reinstall {found.distribution})"
            if found.distribution
            else f"fix the code in {found.root}"
        )
        said = f": {exc}" if str(exc) else ""
        raise _fail(
            ExtensionLoadError,
            found,
            f"cannot be imported from {found.target!r}: {type(exc).__name__}{said}",
            f"{fix}, or report it to its author; --debug shows the traceback",
        ) from exc


def _directory_module_name(found: DiscoveredExtension) -> str:
    # a private top-level name per directory extension, so that two versions of
    # one extension, or two directories, never share sys.modules entries
    ident = f"{found.kind.value}\0{found.name}\0{found.version}\0{found.root}"
    digest = hashlib.sha256(ident.encode()).hexdigest()[:12]
    slug = re.sub(r"\W", "_", found.name)
    return f"_provisioning_dir_{slug}_{digest}"


def _import_from_directory(found: DiscoveredExtension, module_name: str) -> ModuleType:
    root = Path(found.root or ".")
    top, _, rest = module_name.partition(".")
    private = _directory_module_name(found)
    if private not in sys.modules:
        package = root / top / "__init__.py"
        single = root / f"{top}.py"
        if package.is_file():
            spec = importlib.util.spec_from_file_location(
                private, package, submodule_search_locations=[str(package.parent)]
            )
        elif single.is_file():
            spec = importlib.util.spec_from_file_location(private, single)
        else:
            raise ModuleNotFoundError(f"neither {single} nor {package} exists")
        if spec is None or spec.loader is None:
            raise ModuleNotFoundError(f"cannot load {found.root}/{top}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[private] = module
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[private]
            raise
    return importlib.import_module(f"{private}.{rest}" if rest else private)


def _forget_modules(found: DiscoveredExtension) -> None:
    """Drop an extension's module (and its submodules) so the next import reads it afresh."""
    if found.source == "memory":
        return
    # a directory extension owns its private package; an installed one only
    # its own module, not the rest of a namespace it may share
    own = (
        _directory_module_name(found) if found.source == "directory" else found.target.split(":")[0]
    )
    for mod in [m for m in sys.modules if m == own or m.startswith(own + ".")]:
        del sys.modules[mod]
    importlib.invalidate_caches()
