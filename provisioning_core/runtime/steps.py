"""Idempotent steps: say what a server should look like; change only what differs.

Each step looks first and acts only when the server differs from what it
describes, returning a :class:`Change` (None when nothing was needed).  In
check mode a step looks and reports, and changes nothing: not the server, not
the download cache.  :func:`apply_steps` runs a list of them and gathers the
result a taskserv hook returns.
"""

from __future__ import annotations

import difflib
import hashlib
import os
import shlex
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

import attrs

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import OperationResult
from provisioning_core.paths import download_cache_dir
from provisioning_core.runtime.services import ServiceDefinition
from provisioning_core.secret import Secret

if TYPE_CHECKING:
    from provisioning_core.runtime.host import Host

__all__ = [
    "Absent",
    "Change",
    "Command",
    "Directory",
    "Download",
    "Extract",
    "File",
    "Service",
    "Step",
    "apply_steps",
    "download_cache",
]

_EXTRACTED = ".prov-extracted"  # marker in an Extract's dest: the archive's sha256


@attrs.frozen
class Change:
    """What a step changed (or would change): a summary, and a unified diff for files."""

    summary: str
    diff: str | None = None


@runtime_checkable
class Step(Protocol):
    """One idempotent piece of a server's desired state."""

    def describe(self) -> str:
        """What the step ensures, for messages: "file /etc/app/config.yaml"."""
        ...

    def apply(self, host: Host, check: bool) -> Change | None:
        """Make it so (in check mode: only look); None when it already was."""
        ...


def apply_steps(host: Host, steps: Sequence[Step], *, check: bool) -> OperationResult:
    """Apply ``steps`` in order; what changed becomes an :class:`OperationResult`.

    ``actions`` holds each change's summary ("would ..." in check mode), one
    line each; ``details["changes"]`` the same changes as records, ``{"step",
    "change", "diff"}``, ``diff`` a unified diff for a file or unit (None
    otherwise), which ``prov ... --diff`` shows.  A failing step raises,
    naming the step and the host; the steps before it stay applied.
    """
    actions: list[str] = []
    records: list[dict[str, str | None]] = []
    changes = 0
    for step in steps:
        try:
            change = step.apply(host, check)
        except ProvisioningError as exc:
            exc.message = f"{step.describe()} on {host.name}: {exc.message}"
            exc.args = (exc.message, *exc.args[1:])
            raise
        if change is None:
            continue
        changes += 1
        summary = f"would {change.summary}" if check else change.summary
        actions.append(summary)
        records.append({"step": step.describe(), "change": summary, "diff": change.diff})
    if not changes:
        message = "nothing to change"
    elif check:
        message = f"{changes} change{'s' if changes > 1 else ''} would be made"
    else:
        message = f"{changes} change{'s' if changes > 1 else ''} made"
    return OperationResult(
        changed=bool(changes),
        message=message,
        actions=actions,
        details={"changes": records} if records else {},
    )


def change_details(*results: OperationResult) -> dict[str, Any]:
    """``{"changes": [...]}``: the change records of ``results`` (as :func:`apply_steps`
    puts them in ``details``), together; ``{}`` when there are none.

    For a hook that builds its own OperationResult from several results, so that
    their diffs (``prov ... --diff``, JSON ``data.changes``) are not lost.
    """
    records = [
        c for r in results if isinstance(changes := r.details.get("changes"), list) for c in changes
    ]
    return {"changes": records} if records else {}


def _diff(path: str, old: bytes, new: bytes) -> str | None:
    """A unified diff of two texts; None when either is binary."""
    try:
        old_text, new_text = old.decode(), new.decode()
    except UnicodeDecodeError:
        return None
    if "\0" in old_text or "\0" in new_text:
        return None
    lines = difflib.unified_diff(
        old_text.splitlines(keepends=True),
        new_text.splitlines(keepends=True),
        fromfile=path,
        tofile=path,
    )
    # a last line without a newline must not run into the next diff line
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines) or None


def _mode_fix(host: Host, path: str, mode: int, check: bool) -> Change | None:
    stat = host.stat(path)
    if stat is None or stat[1] == mode:
        return None
    if not check:
        host.run(f"chmod {mode:o} {shlex.quote(host.path(path))}")
    return Change(f"chmod {mode:04o} {path}")


# --- files ---------------------------------------------------------------------------------


class File:
    """A file with exactly this content and mode.

    ``content`` is the text or bytes; or ``template`` is Jinja2 source rendered
    with ``context`` (undefined names are errors; a trailing newline is kept).
    ``secret`` (or any :class:`Secret` among the values) keeps the content out
    of diffs; Secrets in ``context`` are revealed only into the file.
    """

    def __init__(
        self,
        path: str,
        content: str | bytes | Secret | None = None,
        *,
        template: str | None = None,
        context: Mapping[str, Any] | None = None,
        mode: int = 0o644,
        secret: bool = False,
    ) -> None:
        if (content is None) == (template is None):
            raise ProvisioningError(
                f"File({path!r}) needs exactly one of content= and template=",
                hint="pass the text as content, or Jinja2 source as template with its context",
            )
        self.path = path
        self.content = content
        self.template = template
        self.context = dict(context or {})
        self.mode = mode
        self.secret = secret or isinstance(content, Secret)

    def describe(self) -> str:
        return f"file {self.path}"

    def render(self) -> tuple[bytes, bool]:
        """The file's bytes, and whether they hold a secret."""
        if self.template is None:
            content = self.content
            if isinstance(content, Secret):
                return content.reveal().encode(), True
            assert content is not None
            return (content.encode() if isinstance(content, str) else content), self.secret
        import jinja2

        found: list[bool] = []
        context = {k: _reveal(v, found, 0) for k, v in self.context.items()}
        # config files, not HTML: escaping would corrupt them
        environment = jinja2.Environment(
            undefined=jinja2.StrictUndefined,
            keep_trailing_newline=True,
            autoescape=False,  # noqa: S701
        )
        try:
            text = environment.from_string(self.template).render(context)
        except jinja2.TemplateError as exc:
            raise ProvisioningError(
                f"the template of {self.path} cannot be rendered: {exc}",
                hint="give every name the template uses in context=",
            ) from None
        return text.encode(), self.secret or bool(found)

    def apply(self, host: Host, check: bool) -> Change | None:
        data, secret = self.render()
        current = host.read(self.path)
        if current == data:
            return _mode_fix(host, self.path, self.mode, check)
        diff = None if secret else _diff(self.path, current or b"", data)
        if not check:
            host.write(self.path, data, self.mode)
        verb = "create" if current is None else "update"
        return Change(f"{verb} {self.path}" + (" (secret)" if secret else ""), diff)


def _reveal(value: Any, found: list[bool], depth: int) -> Any:
    """``value`` with Secrets replaced by their values (recording that there were some)."""
    if depth > 8:  # noqa: PLR2004 - deep enough for a template context
        return value
    if isinstance(value, Secret):
        found.append(True)
        return value.reveal()
    if isinstance(value, Mapping):
        return {k: _reveal(v, found, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_reveal(v, found, depth + 1) for v in value]
    return value


class Directory:
    """A directory with this mode (parents are created as needed)."""

    def __init__(self, path: str, mode: int = 0o755) -> None:
        self.path = path
        self.mode = mode

    def describe(self) -> str:
        return f"directory {self.path}"

    def apply(self, host: Host, check: bool) -> Change | None:
        stat = host.stat(self.path)
        if stat is not None and stat[0] != "directory":
            raise ProvisioningError(
                f"{self.path} exists and is not a directory",
                hint="remove it first (Absent) if a directory should be there",
            )
        if stat is not None:
            return _mode_fix(host, self.path, self.mode, check)
        if not check:
            real = shlex.quote(host.path(self.path))
            host.run(f"mkdir -p -- {real} && chmod {self.mode:o} {real}")
        return Change(f"create directory {self.path}")


class Absent:
    """Nothing at this path (a file or a whole directory is removed)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def describe(self) -> str:
        return f"absent {self.path}"

    def apply(self, host: Host, check: bool) -> Change | None:
        if not host.exists(self.path):
            return None
        if not check:
            host.remove(self.path)
        return Change(f"remove {self.path}")


# --- downloads and archives -------------------------------------------------------------------


def download_cache() -> Path:
    """Verified downloads, named by their sha256: ``$PROV_HOME/cache/downloads``.

    Under ``[orchestrator.extensions] cache_dir``/downloads when that is set
    (see :func:`provisioning_core.paths.download_cache_dir`).
    """
    return download_cache_dir()


class Download:
    """A file fetched from ``url`` by the controller, verified, then uploaded.

    The controller fetches (the server needs no internet access or curl),
    checks ``sha256`` and keeps the file in :func:`download_cache`, so the
    next server gets it without fetching again.  Nothing happens when the
    server's file already has that digest; check mode never downloads.
    """

    def __init__(self, url: str, path: str, *, sha256: str, mode: int = 0o644) -> None:
        self.url = url
        self.path = path
        self.sha256 = sha256.lower().removeprefix("sha256:")
        self.mode = mode

    def describe(self) -> str:
        return f"download {self.url} to {self.path}"

    def apply(self, host: Host, check: bool) -> Change | None:
        if host.sha256(self.path) == self.sha256:
            return _mode_fix(host, self.path, self.mode, check)
        if not check:
            host.write(self.path, self.fetch(), self.mode)
        return Change(f"download {self.url} to {self.path}")

    def fetch(self) -> bytes:
        """The verified content: from the cache, or fetched into it."""
        cached = download_cache() / self.sha256
        if cached.is_file():
            data = cached.read_bytes()
            if hashlib.sha256(data).hexdigest() == self.sha256:
                return data
            cached.unlink(missing_ok=True)  # damaged: fetch again (another thread may too)
        from provisioning_core.runtime import _http

        data = _http.get(self.url, timeout=300.0, what="download").body
        actual = hashlib.sha256(data).hexdigest()
        if actual != self.sha256:
            raise ProvisioningError(
                f"the download {self.url} has sha256 {actual}, expected {self.sha256}",
                hint="the file at that URL changed, or the checksum given for it is wrong; "
                "nothing was installed",
            )
        cached.parent.mkdir(parents=True, exist_ok=True)
        # a temporary name of its own: a cluster fetches the same artifact for
        # several servers at once, in threads of one process
        fd, tmp = tempfile.mkstemp(prefix=f".{self.sha256}.", suffix=".tmp", dir=cached.parent)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
            Path(tmp).replace(cached)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return data


class Extract:
    """The archive (a logical path on the host) unpacked into ``dest`` with tar.

    Done once per archive content: ``dest/.prov-extracted`` records the
    archive's sha256 (or, with ``creates``, it is done once that path exists).
    """

    def __init__(
        self, archive: str, dest: str, *, strip_components: int = 0, creates: str | None = None
    ) -> None:
        self.archive = archive
        self.dest = dest
        self.strip_components = strip_components
        self.creates = creates

    def describe(self) -> str:
        return f"extract {self.archive} into {self.dest}"

    def apply(self, host: Host, check: bool) -> Change | None:
        if self.creates is not None and host.exists(self.creates):
            return None
        marker = f"{self.dest.rstrip('/')}/{_EXTRACTED}"
        digest = host.sha256(self.archive)
        if digest is None:
            if check:  # a Download before this step would have brought it
                return Change(f"extract {self.archive} into {self.dest}")
            raise ProvisioningError(
                f"the archive {self.archive} does not exist",
                hint="download it first (a Download step before this one)",
            )
        if self.creates is None and (host.read(marker) or b"").decode().strip() == digest:
            return None
        if not check:
            dest = shlex.quote(host.path(self.dest))
            strip = f" --strip-components={self.strip_components}" if self.strip_components else ""
            host.run(
                f"mkdir -p -- {dest} && tar -xf {shlex.quote(host.path(self.archive))} "
                f"-C {dest}{strip} --no-same-owner"
            )
            host.write(marker, f"{digest}\n".encode())
        return Change(f"extract {self.archive} into {self.dest}")


# --- commands and services ------------------------------------------------------------------


class Command:
    """A shell command run unless ``creates`` exists or ``unless`` exits 0.

    ``command`` uses real paths (``host.path()``); ``creates`` is a logical
    path.  ``unless`` also runs in check mode, so it must only look.
    """

    def __init__(
        self,
        command: str,
        *,
        creates: str | None = None,
        unless: str | None = None,
        description: str | None = None,
    ) -> None:
        self.command = command
        self.creates = creates
        self.unless = unless
        self.description = description

    def describe(self) -> str:
        from provisioning_core.runtime.transport import shorten

        return self.description or f"command {shorten(self.command)!r}"

    def apply(self, host: Host, check: bool) -> Change | None:
        if self.creates is not None and host.exists(self.creates):
            return None
        if self.unless is not None and host.run(self.unless, check=False).ok:
            return None
        if not check:
            host.run(self.command)
        return Change(f"run {self.describe()}")


_STATES = ("started", "stopped", "restarted", "absent")


class Service:
    """A service installed from ``definition`` and in ``state``.

    ``state`` is started, stopped, restarted (every time) or absent.  A
    changed unit is rewritten (its diff is reported) and a running service
    restarted so that it takes effect.
    """

    def __init__(
        self, definition: ServiceDefinition, *, state: str = "started", enabled: bool = True
    ) -> None:
        if state not in _STATES:
            raise ProvisioningError(
                f"Service({definition.name!r}): unknown state {state!r}",
                hint=f"use one of: {', '.join(_STATES)}",
            )
        self.definition = definition
        self.state = state
        self.enabled = enabled

    def describe(self) -> str:
        return f"service {self.definition.name}"

    def apply(self, host: Host, check: bool) -> Change | None:
        manager = host.services
        name = self.definition.name
        current = manager.installed(name)
        if self.state == "absent":
            if current is None:
                return None
            if not check:
                manager.remove(name)
            return Change(f"remove service {name}")
        status = manager.status(name)
        wanted = manager.unit_text(self.definition)
        old = manager.unit_text(current) if current is not None else ""
        parts: list[str] = []
        diff = None
        if old != wanted or (status.enabled is not None and status.enabled != self.enabled):
            parts.append(f"{'install' if current is None else 'update'} service {name}")
            if old != wanted:
                diff = _diff(f"service {name} ({manager.name} unit)", old.encode(), wanted.encode())
            if not check:
                manager.install(self.definition, enabled=self.enabled)
        action = self._action(running=status.running, unit_changed=old != wanted and bool(old))
        if action:
            parts.append(f"{action} service {name}")
            if not check:
                getattr(manager, action)(name)
        return Change(", ".join(parts), diff) if parts else None

    def _action(self, *, running: bool, unit_changed: bool) -> str | None:
        if self.state == "restarted" or (self.state == "started" and running and unit_changed):
            return "restart"
        if self.state == "started" and not running:
            return "start"
        if self.state == "stopped" and running:
            return "stop"
        return None
