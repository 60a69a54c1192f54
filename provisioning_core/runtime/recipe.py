"""A taskserv installed from a GitHub release tarball, as one reusable recipe.

Most taskservs (containerd, BuildKit, the registry...) are installed the same
way: a release tarball, verified by its checksum asset or a pinned sha256, is
unpacked into ``[install_dir]/<version>``, its binaries linked into
``[bin_dir]``; a config rendered from a template shipped in the plugin; a
service running the versioned binary; a health check.  :class:`ReleaseRecipe`
does all of that; a plugin gives only what is its own (the settings with their
defaults, the template's context, the service's command line, the health
check, its extra directories) and exposes the hooks :class:`ReleaseHooks`
builds.  See docs/runtime.md.

Layout (logical paths, settings in brackets): ``[config_dir]/<config>`` is
rendered from ``templates/<config>.j2`` in the plugin's package and
``[config_dir]/.prov-version`` records what is installed.  Moving to another
version changes the service's command line, so the service restarts on the new
binaries.  Every mutating operation takes ``check`` and then changes nothing,
returning what it would do.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from importlib.resources import files
from typing import Any, Generic, TypeVar

import attrs
from packaging.version import InvalidVersion, Version

from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.hookspecs import hookimpl
from provisioning_core.models import (
    HealthCheck,
    OperationResult,
    Server,
    ServiceSpec,
    SshAccess,
    TaskservInfo,
    TaskservInstall,
    TaskservSource,
    TaskservStatus,
    TaskservVersion,
    UpdateInfo,
)
from provisioning_core.runtime.artifacts import (
    ReleaseAsset,
    latest_version,
    release_asset,
    unlink_binaries,
    unpack_steps,
)
from provisioning_core.runtime.health import check_health
from provisioning_core.runtime.host import Host, connect
from provisioning_core.runtime.releases import github_versions
from provisioning_core.runtime.services import ServiceDefinition, remove_service
from provisioning_core.runtime.steps import (
    Absent,
    Directory,
    File,
    Service,
    Step,
    apply_steps,
    change_details,
)
from provisioning_core.secret import Secret

__all__ = [
    "ReleaseHooks",
    "ReleaseRecipe",
    "ReleaseSettings",
    "SettingKind",
    "parse_release_settings",
]

MARKER = ".prov-version"
_MAX_PORT = 65535

SettingKind = str | tuple[str, ...]
"""How a setting is checked: ``"str"`` (non-empty), ``"name"`` (may be empty),
``"path"`` (absolute), ``"url"`` (http/https), ``"secret"`` (a string, kept as a
:class:`Secret`), ``"digests"`` (a sha256 or a table of version = sha256),
``"int"`` (1 or more), ``"float"`` (above 0), ``"port"`` (1-65535), ``"bool"``;
a tuple of strings: one of them."""


# --- settings -------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class ReleaseSettings:
    """The settings every release-tarball taskserv has.

    A plugin subclasses it (``@attrs.frozen``), giving defaults to the five
    settings without one and adding its own.  ``asset`` and ``checksums`` are
    formatted with ``{version}`` and ``{arch}``; ``checksums`` empty means the
    release has no checksum asset, so ``sha256`` (a digest, or a table of
    version = digest) must pin one.
    """

    repository: str
    asset: str
    install_dir: str
    config_dir: str
    data_dir: str
    checksums: str = ""
    api_url: str = "https://api.github.com"
    download_url: str = "https://github.com"
    token: Secret | None = None
    sha256: str | dict[str, str] | None = None
    bin_dir: str = "/usr/local/bin"
    health_retries: int = 10
    health_interval: float = 1.0


_COMMON_KINDS: dict[str, SettingKind] = {
    "repository": "str",
    "api_url": "url",
    "download_url": "url",
    "token": "secret",
    "sha256": "digests",
    "asset": "str",
    "checksums": "name",
    "install_dir": "path",
    "bin_dir": "path",
    "config_dir": "path",
    "data_dir": "path",
    "health_retries": "int",
    "health_interval": "float",
}

S = TypeVar("S", bound=ReleaseSettings)


def parse_release_settings(
    raw: Mapping[str, Any],
    settings: type[S],
    *,
    name: str,
    kinds: Mapping[str, SettingKind] | None = None,
) -> S:
    """``raw`` (the ``[taskservs.<name>]`` table) as a ``settings`` instance.

    The common settings are checked as :class:`ReleaseSettings` says; ``kinds``
    says how to check the plugin's own.  Every problem is reported at once, as
    "message @ taskservs.<name>.key", in a :class:`ConfigError`.
    """
    table = f"taskservs.{name}"
    known = {**_COMMON_KINDS, **(kinds or {})}
    problems: list[str] = []
    values: dict[str, Any] = {}
    for key, value in raw.items():
        where = f"{table}.{key}"
        kind = known.get(key)
        if kind is None:
            problems.append(f"unknown setting (known: {', '.join(known)}) @ {where}")
            continue
        problem = _problem(key, kind, value)
        if problem:
            problems.append(f"{problem} @ {where}")
        elif value is not None:
            values[key] = Secret(value) if kind == "secret" else value
    if problems:
        raise ConfigError(
            f"invalid settings for taskserv {name}",
            problems=problems,
            hint=f"fix [{table}] in your configuration (prov config show displays it)",
        )
    return settings(**values)


def _problem(key: str, kind: SettingKind, value: Any) -> str | None:
    if isinstance(kind, tuple):
        if isinstance(value, str) and value in kind:
            return None
        return f"invalid {key.replace('_', ' ')} {value!r}: expected one of {', '.join(kind)}"
    if kind in {"str", "name", "path", "url"}:
        return _text_problem(kind, value)
    if kind in {"int", "float", "port"}:
        return _number_problem(kind, value)
    return _other_problem(kind, value)


def _other_problem(kind: str, value: Any) -> str | None:
    name = type(value).__name__
    if kind == "secret":
        return None if isinstance(value, (str, Secret)) else f"expected a string, got {name}"
    if kind == "bool":
        return None if isinstance(value, bool) else f"expected true or false, got {name}"
    if kind == "digests":
        if isinstance(value, str) or (
            isinstance(value, Mapping) and all(isinstance(v, str) for v in value.values())
        ):
            return None
        return f"expected a sha256 digest or a table of version = digest, got {name}"
    raise ValueError(f"unknown setting kind {kind!r} (see SettingKind in docs/runtime.md)")


def _text_problem(kind: str, value: Any) -> str | None:
    if not isinstance(value, str):
        return f"expected a string, got {type(value).__name__}"
    if not value and kind != "name":
        return "expected a non-empty string"
    if kind == "path" and not value.startswith("/"):
        return f"expected an absolute path, got {value!r}"
    if kind == "url" and not value.startswith(("http://", "https://")):
        return f"expected an http(s) URL, got {value!r}"
    return None


def _number_problem(kind: str, value: Any) -> str | None:
    name = type(value).__name__
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return f"expected a number, got {name}"
    if kind == "float":
        return None if value > 0 else f"expected a number above 0, got {value}"
    if not isinstance(value, int):
        return f"expected an integer, got {name}"
    if kind == "port" and not 1 <= value <= _MAX_PORT:
        return f"invalid port {value}: expected 1-65535"
    return None if value >= 1 else f"expected 1 or more, got {value}"


# --- the recipe -----------------------------------------------------------------------------


def _no_steps(s: ReleaseSettings) -> list[Step]:  # noqa: ARG001 - the default of a callback
    return []


def _no_paths(s: ReleaseSettings) -> list[str]:  # noqa: ARG001 - the default of a callback
    return []


def _data_dir(s: ReleaseSettings) -> list[str]:
    return [s.data_dir]


def _no_address(host: Host, s: ReleaseSettings) -> str | None:  # noqa: ARG001 - a default
    return None  # the server's own address


def _no_working_dir(host: Host, s: ReleaseSettings) -> str | None:  # noqa: ARG001 - a default
    return None


@attrs.frozen(kw_only=True)
class ReleaseRecipe(Generic[S]):
    """What is specific to one release-tarball taskserv; the operations are generic.

    ``name`` is the taskserv's (and its service's) name; ``settings`` its
    :class:`ReleaseSettings` subclass and ``kinds`` how to check the settings
    that class adds.  ``package`` holds ``templates/<config>.j2``, rendered
    with ``context(host, s, version)`` into ``[config_dir]/<config>``.  The
    service runs ``command(host, s, version)`` (real paths: use
    ``host.path``), with ``working_dir(host, s)``; ``health(host, s,
    version)`` checks it, at ``health_address(host, s)`` (None: the server's
    address).  ``binaries`` is the glob, relative to the unpacked tarball,
    linked into ``[bin_dir]``.  ``dirs(s)`` are steps creating the taskserv's
    other directories; uninstall removes ``leftovers(s)`` always and
    ``data_dirs(s)`` unless asked to keep the data.
    """

    name: str
    settings: type[S]
    package: str
    config: str
    context: Callable[[Host, S, str], dict[str, Any]]
    command: Callable[[Host, S, str], list[str]]
    health: Callable[[Host, S, str], HealthCheck]
    description: str = ""
    restart: str = "always"
    kinds: Mapping[str, SettingKind] = attrs.field(factory=dict)
    binaries: str = "bin/*"
    working_dir: Callable[[Host, S], str | None] = _no_working_dir
    health_address: Callable[[Host, S], str | None] = _no_address
    dirs: Callable[[S], list[Step]] = _no_steps
    leftovers: Callable[[S], list[str]] = _no_paths
    data_dirs: Callable[[S], list[str]] = _data_dir

    # --- settings and paths ---

    @property
    def table(self) -> str:
        """Where users give the settings: ``taskservs.<name>``."""
        return f"taskservs.{self.name}"

    def parse(self, raw: Mapping[str, Any] | None) -> S:
        """``raw`` as settings (see :func:`parse_release_settings`)."""
        return parse_release_settings(raw or {}, self.settings, name=self.name, kinds=self.kinds)

    def version_dir(self, s: S, version: str) -> str:
        """Where ``version`` is unpacked: ``[install_dir]/<version>``."""
        return f"{s.install_dir}/{version}"

    def config_path(self, s: S) -> str:
        """The rendered config: ``[config_dir]/<config>``."""
        return f"{s.config_dir}/{self.config}"

    def marker(self, s: S) -> str:
        """The file recording the installed version."""
        return f"{s.config_dir}/{MARKER}"

    def info(
        self,
        version: str,
        *,
        description: str,
        health_check: HealthCheck,
        ports: list[int] | None = None,
        dependencies: list[str] | None = None,
    ) -> TaskservInfo:
        """The ``taskserv_info`` of a plugin at ``version``, from the default settings."""
        s = self.parse({})
        return TaskservInfo(
            name=self.name,
            version=version,
            description=description,
            source=TaskservSource(
                type="github", url=f"{s.download_url}/{s.repository}", repository=s.repository
            ),
            install=TaskservInstall(
                method="archive", path=s.bin_dir, config_dir=s.config_dir, data_dir=s.data_dir
            ),
            dependencies=list(dependencies or []),
            service=ServiceSpec(name=self.name, ports=list(ports or []), restart=self.restart),
            health_check=health_check,
        )

    # --- what is read ---

    def current_version(self, host: Host, s: S) -> str | None:
        """The version the install recorded on ``host`` (None: not installed)."""
        raw = host.read(self.marker(s))
        return (raw.decode(errors="replace").strip() or None) if raw is not None else None

    def resolve(self, host: Host, s: S, version: str | None) -> ReleaseAsset:
        """The release tarball of ``version`` (None: the latest) for ``host``'s architecture."""
        wanted = version or latest_version(s.repository, api_url=s.api_url, token=s.token)
        wanted = wanted.removeprefix("v")
        names = {"version": wanted, "arch": host.arch}
        return release_asset(
            s.repository,
            wanted,
            s.asset.format(**names),
            checksums=s.checksums.format(**names) or None,
            sha256=s.sha256,
            download_url=s.download_url,
            pin_setting=f"[{self.table}] sha256",
        )

    def definition(self, host: Host, s: S, version: str) -> ServiceDefinition:
        """The service running ``version``."""
        return ServiceDefinition(
            name=self.name,
            exec=self.command(host, s, version),
            description=self.description,
            working_dir=self.working_dir(host, s),
            restart=self.restart,
        )

    def config_file(self, host: Host, s: S, version: str) -> File:
        """The config rendered from the plugin's template."""
        template = files(self.package).joinpath(f"templates/{self.config}.j2").read_text()
        return File(self.config_path(s), template=template, context=self.context(host, s, version))

    def status(self, host: Host, s: S) -> TaskservStatus:
        """Installed, running, healthy (one health check), version, uptime and memory."""
        version = self.current_version(host, s)
        definition = host.services.installed(self.name)
        if version is None and definition is None:
            return TaskservStatus(name=self.name, installed=False, message="not installed")
        state = host.services.status(self.name)
        if not state.running:
            missing = "" if definition else "; its service unit is missing: install it again"
            return TaskservStatus(
                name=self.name,
                installed=True,
                running=False,
                version=version,
                message="installed but not running" + missing,
            )
        health = None
        if version is not None:
            check = self.health(host, s, version)
            health = check_health(host, check, address=self.health_address(host, s), retries=1)
        parts = [health.message if health else "no version recorded: install it again"]
        if state.uptime_seconds is not None:
            parts.append(f"up {state.uptime_seconds:.0f} s")
        if state.memory_mb is not None:
            parts.append(f"{state.memory_mb:.1f} MB")
        return TaskservStatus(
            name=self.name,
            installed=True,
            running=True,
            healthy=health.healthy if health else None,
            version=version,
            uptime_seconds=state.uptime_seconds,
            memory_mb=state.memory_mb,
            message="; ".join(p for p in parts if p),
        )

    def available_versions(self, s: S) -> list[TaskservVersion]:
        """The releases of ``s.repository``, newest first, from the GitHub API."""
        return github_versions(s.repository, base_url=s.api_url, token=s.token)

    def check_updates(self, host: Host, s: S) -> UpdateInfo:
        """The installed version against the newest stable release."""
        current = self.current_version(host, s)
        latest = latest_version(s.repository, api_url=s.api_url, token=s.token)
        if current is None:
            return UpdateInfo(
                current=None, latest=latest, update_available=False, message="not installed"
            )
        try:
            newer = Version(latest) > Version(current)
        except InvalidVersion:
            newer = latest != current
        message = f"{latest} is available (installed: {current})" if newer else "up to date"
        return UpdateInfo(current=current, latest=latest, update_available=newer, message=message)

    # --- what changes the host ---

    def install(self, host: Host, s: S, version: str | None, *, check: bool) -> OperationResult:
        """Put ``version`` (None: the latest release) on ``host``, running and healthy."""
        asset = self.resolve(host, s, version)
        before = self.current_version(host, s)
        result = self._deploy(host, asset, s, before, check=check)
        new = f"{self.name} {asset.version}"
        if before and before != asset.version:
            what = (
                f"replaced {self.name} {before} with {asset.version}",
                f"would replace {before} with {new}",
            )
        else:
            what = (f"installed {new}", f"would install {new}")
        return _finish(result, what, f"{new} is already installed", check=check)

    def upgrade(self, host: Host, s: S, version: str, *, check: bool) -> OperationResult:
        """Move the installed taskserv to ``version``; its data directories are left alone."""
        before = self._require_installed(host, s, "upgrade")
        asset = self.resolve(host, s, version)
        if before == asset.version:
            return OperationResult(
                changed=False, message=f"{self.name} is already at {asset.version}"
            )
        result = self._deploy(host, asset, s, before, check=check)
        move = f"{self.name} {before} -> {asset.version}"
        return _finish(result, (f"upgraded {move}", f"would upgrade {move}"), "", check=check)

    def configure(self, host: Host, s: S, *, check: bool) -> OperationResult:
        """Render the config from ``s``; restart the service if it changed and is running."""
        version = self._require_installed(host, s, "configure")
        files_result = apply_steps(host, self._files(host, s, version), check=check)
        running = host.services.status(self.name).running
        # a stopped service stays stopped; a running one takes a changed config by restarting
        state = ("restarted" if files_result.changed else "started") if running else "stopped"
        service = Service(self.definition(host, s, version), state=state)
        result = _merge(files_result, apply_steps(host, [service], check=check))
        if not check and running:
            self._require_healthy(host, s, version)
        return _finish(
            result,
            (f"applied the new configuration of {self.name}", f"would reconfigure {self.name}"),
            f"the configuration of {self.name} is already as wanted",
            check=check,
        )

    def restart_service(self, host: Host, s: S, *, check: bool) -> OperationResult:
        """Restart the service (installing its unit again if it went missing)."""
        version = self._require_installed(host, s, "restart")
        definition = host.services.installed(self.name) or self.definition(host, s, version)
        result = apply_steps(host, [Service(definition, state="restarted")], check=check)
        if not check:
            self._require_healthy(host, s, version)
        done = (f"restarted {self.name}", f"would restart {self.name}")
        return _finish(result, done, "", check=check)

    def uninstall(
        self, host: Host, s: S, *, keep_data: bool, check: bool, force: bool = False
    ) -> OperationResult:
        """Stop and remove the service, binaries and config (and the data unless ``keep_data``).

        With ``force`` a service that fails to stop does not stop the rest:
        its unit is removed anyway and the failure is the first action.
        """
        steps: list[Step] = []
        forced: list[str] = []
        definition = host.services.installed(self.name)
        if definition is not None and force and not check:
            forced = [remove_service(host, definition.name, force=True)]
        elif definition is not None:
            steps.append(Service(definition, state="absent"))
        steps += [unlink_binaries(host, s.install_dir, s.bin_dir), Absent(s.install_dir)]
        steps += [Absent(p) for p in (s.config_dir, *self.leftovers(s))]
        data = self.data_dirs(s)
        if not keep_data:
            steps += [Absent(p) for p in data]
        kept = f", keeping its data in {', '.join(data)}" if keep_data else ""
        applied = apply_steps(host, steps, check=check)
        if forced:
            applied = OperationResult(
                changed=True, actions=[*forced, *applied.actions], details=change_details(applied)
            )
        return _finish(
            applied,
            (f"uninstalled {self.name}{kept}", f"would uninstall {self.name}{kept}"),
            f"{self.name} is not installed",
            check=check,
        )

    # --- internals ---

    def _files(self, host: Host, s: S, version: str) -> list[Step]:
        return [Directory(s.config_dir), *self.dirs(s), self.config_file(host, s, version)]

    def _deploy(
        self, host: Host, asset: ReleaseAsset, s: S, before: str | None, *, check: bool
    ) -> OperationResult:
        version = asset.version
        where = self.version_dir(s, version)
        steps = [
            *unpack_steps(host, asset, where, bin_dir=s.bin_dir, binaries=self.binaries),
            *self._files(host, s, version),
        ]
        files_result = apply_steps(host, steps, check=check)
        # new binaries or config take effect in a fresh process only
        running = host.services.status(self.name).running
        state = "restarted" if files_result.changed and running else "started"
        service = Service(self.definition(host, s, version), state=state)
        tail: list[Step] = [service, File(self.marker(s), f"{version}\n")]
        if before and before != version:
            old = self.version_dir(s, before)
            tail += [unlink_binaries(host, old, s.bin_dir), Absent(old)]
        result = _merge(files_result, apply_steps(host, tail, check=check))
        if not check:
            self._require_healthy(host, s, version)
        return result

    def _require_healthy(self, host: Host, s: S, version: str) -> None:
        check = self.health(host, s, version)
        health = check_health(host, check, address=self.health_address(host, s))
        if not health.healthy:
            if host.sandbox:
                log = f"{host.path(f'/var/log/{self.name}.log')} on this machine"
            else:
                log = f"journalctl -u {self.name} on {host.name}"
            raise ProvisioningError(
                f"{self.name} {version} was installed on {host.name} but is not healthy: "
                f"{health.message}",
                hint=f"see its log ({log}), fix [{self.table}] or the server, then run "
                "the command again",
            )

    def _require_installed(self, host: Host, s: S, action: str) -> str:
        version = self.current_version(host, s)
        if version is None:
            raise ProvisioningError(
                f"cannot {action} {self.name} on {host.name}: it is not installed there "
                f"(no {self.marker(s)})",
                hint=f"install it first: prov taskserv install {self.name} --server {host.name}",
            )
        return version


def _merge(*results: OperationResult) -> OperationResult:
    actions = [a for r in results for a in r.actions]
    return OperationResult(
        changed=any(r.changed for r in results), actions=actions, details=change_details(*results)
    )


def _finish(
    result: OperationResult, done: tuple[str, str], unchanged: str, *, check: bool
) -> OperationResult:
    """``done`` is what happened and what would happen: ("installed x", "would install x")."""
    if not result.changed:
        return OperationResult(changed=False, message=unchanged or "nothing to change")
    return OperationResult(
        changed=True,
        message=done[1] if check else done[0],
        actions=list(result.actions),
        details=change_details(result),
    )


# --- the hooks ------------------------------------------------------------------------------


T = TypeVar("T")


class ReleaseHooks(Generic[S]):
    """The taskserv hooks of a :class:`ReleaseRecipe`, as ``@hookimpl`` methods.

    Each hook checks the settings (before any connection), connects to the
    server and runs the recipe's operation.  A plugin module binds the ones it
    uses to module names, so the module stays a plain module of hooks::

        HOOKS = ReleaseHooks(RECIPE)
        install = HOOKS.install

    ``taskserv_info`` is the plugin's own (see :meth:`ReleaseRecipe.info`).
    """

    def __init__(self, recipe: ReleaseRecipe[S]) -> None:
        self.recipe = recipe

    def __repr__(self) -> str:
        return f"ReleaseHooks({self.recipe.name!r})"

    def _run(
        self,
        server: Server,
        ssh: SshAccess,
        settings: Mapping[str, Any] | None,
        work: Callable[[Host, S], T],
    ) -> T:
        parsed = self.recipe.parse(settings)  # bad settings fail before any connection
        with connect(server, ssh) as host:
            return work(host, parsed)

    @hookimpl
    def install(
        self,
        server: Server,
        ssh: SshAccess,
        version: str | None,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Install ``version`` (None: the latest release)."""
        recipe = self.recipe
        return self._run(
            server, ssh, settings, lambda h, s: recipe.install(h, s, version, check=check)
        )

    @hookimpl
    def uninstall(
        self,
        server: Server,
        ssh: SshAccess,
        keep_data: bool,
        force: bool,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Remove the taskserv, data too unless ``keep_data``; ``force``: past a failing stop."""
        recipe = self.recipe
        return self._run(
            server,
            ssh,
            settings,
            lambda h, s: recipe.uninstall(
                h, s, keep_data=keep_data, check=check, force=bool(force)
            ),
        )

    @hookimpl
    def configure(
        self,
        server: Server,
        ssh: SshAccess,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Apply ``settings`` to the installed taskserv."""
        recipe = self.recipe
        return self._run(server, ssh, settings, lambda h, s: recipe.configure(h, s, check=check))

    @hookimpl
    def status(self, server: Server, ssh: SshAccess, settings: dict[str, Any]) -> TaskservStatus:
        """Installed, running, healthy, version, uptime and memory."""
        return self._run(server, ssh, settings, self.recipe.status)

    @hookimpl
    def restart(
        self,
        server: Server,
        ssh: SshAccess,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Restart the service."""
        recipe = self.recipe
        return self._run(
            server, ssh, settings, lambda h, s: recipe.restart_service(h, s, check=check)
        )

    @hookimpl
    def upgrade(
        self,
        server: Server,
        ssh: SshAccess,
        version: str,
        settings: dict[str, Any],
        check: bool,
    ) -> OperationResult:
        """Move the installed taskserv to ``version``."""
        recipe = self.recipe
        return self._run(
            server, ssh, settings, lambda h, s: recipe.upgrade(h, s, version, check=check)
        )

    @hookimpl
    def get_current_version(
        self, server: Server, ssh: SshAccess, settings: dict[str, Any]
    ) -> str | None:
        """The installed version (None: not installed)."""
        return self._run(server, ssh, settings, self.recipe.current_version)

    @hookimpl
    def get_available_versions(self, settings: dict[str, Any]) -> list[TaskservVersion]:
        """The releases, newest first (no connection to any server)."""
        return self.recipe.available_versions(self.recipe.parse(settings))

    @hookimpl
    def check_updates(self, server: Server, ssh: SshAccess, settings: dict[str, Any]) -> UpdateInfo:
        """The installed version against the newest stable release."""
        return self._run(server, ssh, settings, self.recipe.check_updates)
