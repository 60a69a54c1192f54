"""The engine: what every operation shares (configuration, plugins, inventory, executor).

An :class:`Engine` is built once per command (or once per Python program) and
handed to the operations in :mod:`provisioning_core.operations`.  It loads
only the extensions an operation asks for, wraps their hooks with the check
guard, rate limit, retries and timeout, records loads and operations in the
inventory, and never prints: progress goes to ``reporter``.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import attrs

from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.extensions import Extension, ExtensionManager, HookCall, LoadEvent
from provisioning_core.models import (
    ExtensionType,
    ProviderInfo,
    ProviderSettings,
    ValidationReport,
)
from provisioning_core.operations.calls import (
    RateLimiter,
    RetryPolicy,
    check_guard,
    logged,
    rate_limited,
    retrying,
    with_timeout,
)
from provisioning_core.operations.executor import Executor, Interrupted, Outcome, ThreadExecutor
from provisioning_core.operations.providers import auth_problems
from provisioning_core.operations.report import Report, TargetResult, error_message
from provisioning_core.operations.waiting import wait_for

if TYPE_CHECKING:
    from provisioning_core.config import Config, OperationsSettings
    from provisioning_core.state import Inventory, OperationRecord

__all__ = ["Engine", "Provider", "Recorded", "Reporter"]

T = TypeVar("T")

Reporter = Callable[[str, str], None]
"""Hears progress: ``reporter(target, message)``, e.g. ``("web-1", "creating")``."""


def _silent(_target: str, _message: str) -> None:
    pass


def _user() -> str:
    """Who runs this: the login name, for the audit trail ("unknown" if it cannot be told)."""
    import getpass

    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no name for this uid, no environment variable
        return "unknown"


@attrs.frozen
class Provider:
    """A loaded provider with its settings: what server operations call."""

    extension: Extension
    settings: ProviderSettings
    #: what its ``provider_info`` returned (None: it has no such hook)
    info: ProviderInfo | None = None

    @property
    def name(self) -> str:
        """The provider's name."""
        return self.extension.name

    def call(self, hook: str, /, **kwargs: Any) -> Any:
        """Call ``hook`` with this provider's settings."""
        return self.extension.call(hook, settings=self.settings, **kwargs)


class Recorded:
    """An operation being recorded (see :meth:`Engine.recording`)."""

    def __init__(
        self,
        inventory: Inventory,
        action: str,
        target: str,
        *,
        provider: str | None,
        details: dict[str, Any] | None,
    ) -> None:
        self._inventory = inventory
        self.id = inventory.begin_operation(action, target, provider=provider, details=details)
        self.finished = False

    def finish(self, status: str, *, error: str | None = None, **details: Any) -> None:
        """End it as ``status`` ("succeeded" or "failed"), merging ``details``."""
        self._inventory.finish_operation(self.id, status, error=error, details=details or None)
        self.finished = True


class Engine:
    """Shared machinery of every operation.

    ``check`` turns on check mode: no mutating hook is called except with
    ``check=True``, and nothing is written to the inventory.  ``parallelism``
    overrides ``operations.parallelism``.
    """

    def __init__(
        self,
        config: Config | None = None,
        *,
        check: bool = False,
        parallelism: int | None = None,
        reporter: Reporter | None = None,
        manager: ExtensionManager | None = None,
        inventory: Inventory | None = None,
        executor: Executor | None = None,
        sleep: Callable[[float], None] | None = None,
        command: str | None = None,
        job: str | None = None,
    ) -> None:
        if config is None:
            from provisioning_core.config import load_config

            config = load_config()
        self.config = config
        self.check = check
        #: what a blocked run is told holds the inventory lock
        self.command = command or " ".join([Path(sys.argv[0]).name, *sys.argv[1:]])
        #: the ``prov serve`` job this engine runs: every operation it records names it
        self.job = job
        self.settings: OperationsSettings = config.operations
        self.reporter = reporter or _silent
        self.executor: Executor = executor or ThreadExecutor(
            parallelism if parallelism is not None else self.settings.parallelism
        )
        self._inventory = inventory
        self._inventory_lock = threading.Lock()
        self._limiters: dict[str, RateLimiter | None] = {}
        self._providers: dict[str, Provider] = {}
        self._lock = threading.Lock()
        #: the last transient error said per (extension, hook, thread), so a repeat is not
        self._retried: dict[tuple[str, str, int], str] = {}
        self.retry_policy = RetryPolicy(
            attempts=self.settings.retry_attempts,
            base_delay=self.settings.retry_base_delay,
            max_delay=self.settings.retry_max_delay,
        )
        retry_kwargs: dict[str, Any] = {"on_retry": self._on_retry, "sleep": sleep or self._pause}
        interceptors = [
            check_guard(lambda: self.check),
            logged(),
            # each attempt, retries included, waits for the provider's rate limit
            retrying(self._retry_policy, **retry_kwargs),
            rate_limited(self._limiter),
            with_timeout(self.settings.hook_timeout),
        ]
        if manager is None:
            extensions = config.extensions  # [orchestrator.extensions], checked
            manager = ExtensionManager(
                interceptors=interceptors,
                on_load=self._on_load,
                auto_load=extensions.auto_load,
                cache_dir=extensions.cache_dir,
                import_timeout=extensions.import_timeout,
                probe_memory_mb=extensions.probe_memory_mb,
            )
        else:
            if manager.list_loaded_extensions():
                # a loaded extension keeps the interceptors it was built with: it
                # would bypass the check guard, retries and timeout
                raise ValueError("give Engine a manager that has loaded no extension yet")
            manager.interceptors[:0] = interceptors
            manager.on_load = manager.on_load or self._on_load
        self.manager = manager
        self._pending_loads: list[LoadEvent] = []

    # -- plugins --------------------------------------------------------------

    def extension(self, kind: ExtensionType | str, name: str) -> Extension:
        """The loaded extension ``kind``/``name``: loaded on first use, if ``auto_load`` allows.

        With ``[orchestrator.extensions] auto_load = false`` only extensions
        loaded with ``prov module load`` are used (:meth:`ExtensionManager.require`).
        """
        return self.manager.require(kind, name)

    def provider(self, name: str) -> Provider:
        """Provider ``name`` loaded, with its settings structured and validated once."""
        with self._lock:
            cached = self._providers.get(name)
            if cached is not None:
                return cached
        ext = self.extension(ExtensionType.PROVIDER, name)
        settings = self.config.provider_settings(name)
        info = self.provider_info(ext)
        missing = auth_problems(name, settings.auth, info=info, manifest=ext.discovered.manifest)
        if missing:
            raise ConfigError(
                f"the credentials of provider {name!r} are incomplete",
                problems=missing,
                hint=f'set them in [providers.{name}.auth], secrets as "${{ENV_VAR}}"; '
                f"prov provider info {name} shows what it needs",
            )
        if ext.implements("validate_config"):
            report: ValidationReport = ext.call("validate_config", settings=settings)
            if not report.valid:
                raise ConfigError(
                    f"the settings of provider {name!r} are not valid "
                    f"(checked by {ext.discovered.origin})",
                    problems=report.errors,
                    hint=f"fix [providers.{name}] in your configuration; "
                    "prov config show prints what is in effect",
                )
            for warning in report.warnings:
                self.reporter(name, f"warning: {warning}")
        provider = Provider(ext, settings, info)
        with self._lock:
            self._providers[name] = provider
        return provider

    def provider_info(self, ext: Extension) -> ProviderInfo | None:
        """Its ``provider_info``; one that fails is a warning, not the end of the command."""
        if not ext.implements("provider_info"):
            return None
        try:
            info: ProviderInfo = ext.call("provider_info")
        except ProvisioningError as exc:
            self.reporter(
                ext.name,
                f"warning: {exc.message}; going on without its description (its defaults, "
                "required credentials and supported systems are not known)",
            )
            return None
        return info

    def _pause(self, seconds: float) -> None:
        """Wait before a retry, unless the user interrupts: then stop trying."""
        if self.executor.cancelled.wait(seconds):
            raise ProvisioningError(
                "interrupted while waiting to retry; nothing more was attempted",
                hint="run the command again when ready",
            )

    def _limiter(self, provider: str) -> RateLimiter | None:
        if provider not in self._limiters:
            rate = self.config.provider_settings(provider).api.rate_limit
            self._limiters[provider] = RateLimiter(rate) if rate else None
        return self._limiters[provider]

    def _retry_policy(self, call: HookCall) -> RetryPolicy:
        """The engine's policy, or a provider's own ``api.retries`` for its hooks.

        For a provider's hooks: ``api.retries`` if the configuration sets it,
        else ``operations.retry_attempts`` if the configuration sets that, else
        ``api.retries``' default (3, the seed's).
        """
        if call.extension.kind is not ExtensionType.PROVIDER:
            return self.retry_policy
        name = call.extension.name
        retries = self.config.provider_settings(name).api.retries
        own = self.config.user_set(f"providers.{name}.api.retries")
        if retries is None or (not own and self.config.user_set("operations.retry_attempts")):
            return self.retry_policy
        return attrs.evolve(
            self.retry_policy,
            attempts=retries + 1,
            setting=f"providers.{call.extension.name}.api.retries",
        )

    def _on_retry(self, call: Any, attempt: int, pause: float, error: ProvisioningError) -> None:
        """Say a transient error once: its repeats are counted in the final error, not shown."""
        key = (call.extension.name, call.hook, threading.get_ident())
        with self._lock:
            repeated = self._retried.get(key) == error.message and attempt > 1
            self._retried[key] = error.message
        if not repeated:
            self.reporter(
                call.extension.name,
                f"{call.hook}: {error.message}; retry {attempt} in {pause:.1f} s "
                "(repeats of this error are not shown)",
            )

    # -- inventory ------------------------------------------------------------

    @property
    def inventory(self) -> Inventory:
        """The inventory, opened on first use (check mode reads it but never writes)."""
        with self._inventory_lock:
            if self._inventory is None:
                from provisioning_core.state import Inventory

                self._inventory = Inventory(
                    secrets=self.config.secrets(), lock_timeout=self.settings.lock_timeout
                )
                for event in self._pending_loads:
                    self._record_load(event)
                self._pending_loads.clear()
            return self._inventory

    @property
    def has_inventory(self) -> bool:
        """Whether the inventory has been opened."""
        return self._inventory is not None

    def _on_load(self, event: LoadEvent) -> None:
        if self.check:
            return  # check mode writes nothing, not even the audit trail
        if self._inventory is None:
            self._pending_loads.append(event)  # recorded if the inventory gets opened
            return
        self._record_load(event)

    def _record_load(self, event: LoadEvent) -> None:
        assert self._inventory is not None
        self._inventory.record_load(
            event.kind.value,
            event.name,
            event.version,
            event.seconds,
            error=event.error.message if event.error else None,
        )

    @contextmanager
    def writing(self) -> Iterator[None]:
        """Hold the inventory's writer lock while a mutating operation runs (not in check mode).

        Re-entrant; a run blocked past ``operations.lock_timeout`` raises
        :class:`~provisioning_core.state.InventoryLocked` naming the holder.
        """
        if self.check:
            yield
            return
        with self.inventory.lock(self.command):
            yield

    def wait(
        self,
        target: str,
        poll: Callable[[], T],
        done: Callable[[T], bool],
        *,
        what: str,
        describe: Callable[[T], str],
        failed: Callable[[T], str | None] = lambda _: None,
    ) -> T:
        """:func:`wait_for` with the configured pace and deadline, progress told
        under ``target``, and Ctrl-C ending it."""
        return wait_for(
            poll,
            done,
            what=what,
            interval=self.settings.wait_interval,
            timeout=self.settings.wait_timeout,
            describe=describe,
            failed=failed,
            progress=lambda state: self.reporter(target, state),
            cancelled=self.executor.cancelled,
        )

    def run_each(
        self,
        operation: str,
        items: Sequence[Any],
        fn: Callable[[Any], TargetResult],
        name: Callable[[Any], str],
    ) -> Report:
        """Run ``fn`` over ``items`` on the executor; one result per item, failures included."""
        try:
            outcomes: list[Outcome[Any, TargetResult]] = self.executor.map(fn, list(items))
            interrupted = False
        except Interrupted as stop:
            outcomes = stop.outcomes
            interrupted = True
        results = []
        for outcome in outcomes:
            if not outcome.started:
                results.append(
                    TargetResult(name(outcome.item), "skipped", error="not started: interrupted")
                )
            elif outcome.error is not None:
                results.append(TargetResult.failure(name(outcome.item), outcome.error))
            else:
                assert outcome.value is not None
                results.append(outcome.value)
        return Report(operation, self.check, results, interrupted=interrupted)

    @contextmanager
    def recording(
        self,
        action: str,
        target: str,
        *,
        provider: str | None = None,
        details: dict[str, Any] | None = None,
    ) -> Iterator[Recorded]:
        """Record one operation in the audit trail around the work it does.

        It is begun before the block runs, so a crash leaves it "running" for
        the next run to report.  An exception leaving the block finishes it
        "failed" with the exception's message; a normal exit, "succeeded" —
        unless the block called :meth:`Recorded.finish` itself.
        """
        details = {**(details or {}), "user": _user()}
        if self.job is not None:
            details["job"] = self.job
        op = Recorded(self.inventory, action, target, provider=provider, details=details)
        try:
            yield op
        except BaseException as exc:
            if not op.finished:
                op.finish("failed", error=error_message(exc))
            raise
        if not op.finished:
            op.finish("succeeded")

    def interrupted(self) -> list[OperationRecord]:
        """Operations an earlier run left unfinished (a crash or a kill), until acknowledged."""
        if self.check or not self.inventory_exists():
            return []  # telling them marks them, and check mode writes nothing
        return self.inventory.interrupted_operations()

    def inventory_exists(self) -> bool:
        """Whether there is an inventory to read (check mode never creates one)."""
        if self._inventory is not None:
            return True
        from provisioning_core.paths import inventory_path

        return inventory_path().exists()

    def close(self) -> None:
        """Close the inventory if it was opened."""
        if self._inventory is not None:
            self._inventory.close()
            self._inventory = None

    def __enter__(self) -> Engine:  # noqa: PYI034 - nothing subclasses it; Self needs 3.11
        return self

    def __exit__(self, *_: object) -> None:
        self.close()
