"""Find extensions WITHOUT importing them.

Two sources feed discovery: entry points of installed distributions (groups
``provisioning.providers``, ``provisioning.taskservs``,
``provisioning.clusters``) and directories registered with
:func:`provisioning_core.register_extension`.  Only metadata is read:
``entry_points.txt`` and ``METADATA`` of each distribution, the manifest of
each directory.

The entry-point scan is cached in ``$PROV_HOME/extensions/scan-cache.json``,
keyed on the modification times of every ``sys.path`` entry: installing or
removing any distribution changes its directory's mtime and so invalidates the
cache.  ``PROV_NO_SCAN_CACHE=1`` disables it.

Filters: ``PROV_LOAD_PLUGINS`` (allow-list) and ``PROV_DISABLE_PLUGINS``
(deny-list), comma-separated names, each ``name`` or ``kind:name``.

The same name from two sources: every candidate stays available by version;
without a version the highest wins; at equal versions a registered directory
beats an installed distribution, and between distributions the one whose name
sorts first wins.  Losers are marked "shadowed" and the clash is reported.
"""

from __future__ import annotations

import difflib
import importlib.metadata as md
import json
import os
import re
import sys
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from provisioning_core._version import __version__
from provisioning_core.compat import (
    check_core_compatibility,
    core_requirement,
    invalid_requirements,
    split_requirements,
    version_key,
)
from provisioning_core.convert import converter
from provisioning_core.errors import ExtensionNotFound
from provisioning_core.models import DiscoveredExtension, ExtensionType
from provisioning_core.paths import extensions_dir
from provisioning_core.registry import DEPENDENCIES_GROUP, registered_extensions

__all__ = ["Discovery", "scan_entry_points", "strict_mode"]

_GROUPS = {k.group: k for k in ExtensionType}
_TARGET = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")
_CACHE_FORMAT = 1


def strict_mode() -> bool:
    """Whether ``PROV_STRICT`` asks for warnings to be treated as errors."""
    return os.environ.get("PROV_STRICT", "").lower() in ("1", "true", "yes", "on")


def scan_entry_points(path: Sequence[str]) -> list[DiscoveredExtension]:
    """Every extension entry point of the distributions on ``path``, unclassified."""
    found: list[DiscoveredExtension] = []
    seen: set[str] = set()
    for dist in md.distributions(path=list(path)):
        text = dist.read_text("entry_points.txt")
        # most distributions are not plugins: skip them before parsing anything
        if not text or "[provisioning." not in text:
            continue
        meta = dist.metadata
        dist_name = meta["Name"] or "?"
        key = re.sub(r"[-_.]+", "-", dist_name).lower()
        if key in seen:  # a second copy further down the path is never imported
            continue
        seen.add(key)
        eps = dist.entry_points
        deps = {ep.name: ep.value for ep in eps.select(group=DEPENDENCIES_GROUP)}
        version = meta["Version"] or "0"
        common = {
            "version": version,
            "source": "entry-point",
            "distribution": dist_name,
            "description": meta["Summary"] or "",
            "author": meta["Author"] or meta["Author-email"] or None,
            "repository": _repository(meta),
            "requires_core": core_requirement(dist.requires),
        }
        for ep in eps:
            kind = _GROUPS.get(ep.group)
            if kind is None:
                continue
            found.append(
                DiscoveredExtension(
                    kind=kind,
                    name=ep.name,
                    target=ep.value.strip(),
                    dependencies=split_requirements(deps.get(ep.name, "")),
                    **common,  # type: ignore[arg-type]
                )
            )
    return found


def _repository(meta: md.PackageMetadata) -> str | None:
    urls: dict[str, str] = {}
    for line in meta.get_all("Project-URL") or []:
        label, _, url = line.partition(",")
        urls[str(label).strip().lower()] = str(url).strip()
    for label in ("repository", "source", "source code", "homepage"):
        if label in urls:
            return urls[label]
    return str(meta["Home-page"] or "") or None


def _path_key(path: Sequence[str]) -> list[object]:
    key: list[object] = [_CACHE_FORMAT, sys.version, __version__]
    for entry in path:
        try:
            key.append([entry, Path(entry or ".").stat().st_mtime_ns])
        except OSError:
            key.append([entry, None])
    return key


class _ScanCache:
    """The entry-point scan on disk, valid while no ``sys.path`` entry changed."""

    def __init__(self, path: Sequence[str]) -> None:
        self.path = path
        self.file = extensions_dir() / "scan-cache.json"

    def load(self) -> list[DiscoveredExtension] | None:
        try:
            data = json.loads(self.file.read_bytes())
        except (OSError, ValueError):
            return None
        if data.get("key") != _path_key(self.path):
            return None
        try:
            return converter.structure(data["entries"], list[DiscoveredExtension])
        except Exception:  # a cache written by another version: rescan
            return None

    def save(self, key: list[object], entries: list[DiscoveredExtension]) -> None:
        try:
            self.file.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self.file.parent, prefix=".scan-")
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump({"key": key, "entries": converter.unstructure(entries)}, fh)
            Path(tmp).replace(self.file)
        except OSError:
            pass  # a read-only home only costs the next run a rescan


def _name_filter(variable: str) -> set[str] | None:
    value = os.environ.get(variable)
    if value is None or not value.strip():
        return None
    return {item.strip() for item in value.split(",") if item.strip()}


def _listed(ext: DiscoveredExtension, names: set[str]) -> bool:
    return ext.name in names or f"{ext.kind.value}:{ext.name}" in names


def _best_first(group: list[DiscoveredExtension]) -> list[DiscoveredExtension]:
    # ties first (a directory, then the distribution name), then the version;
    # Python's sort is stable, also in reverse, so the tie order survives
    group = sorted(group, key=lambda e: (e.source != "directory", e.distribution or ""))
    return sorted(group, key=lambda e: version_key(e.version), reverse=True)


class Discovery:
    """What extensions exist, from metadata only; built once, then served from memory.

    ``path`` is where to look for distributions (default ``sys.path`` at the
    time of the scan); ``use_cache`` overrides ``PROV_NO_SCAN_CACHE``.
    """

    def __init__(self, path: Sequence[str] | None = None, *, use_cache: bool | None = None) -> None:
        self._path = list(path) if path is not None else None
        if use_cache is None:
            use_cache = os.environ.get("PROV_NO_SCAN_CACHE", "") in ("", "0")
        self._use_cache = use_cache
        self._all: list[DiscoveredExtension] | None = None
        self._index: dict[tuple[str, str], list[DiscoveredExtension]] = {}
        self._problems: list[str] = []
        self.cache_hit: bool | None = None
        self._fixed: list[DiscoveredExtension] | None = None

    @classmethod
    def from_list(cls, extensions: Iterable[DiscoveredExtension]) -> Discovery:
        """A discovery that knows exactly ``extensions`` and scans nothing (for tests)."""
        discovery = cls(path=[], use_cache=False)
        discovery._fixed = list(extensions)
        return discovery

    def refresh(self) -> None:
        """Forget what was found; the next question scans again."""
        self._all = None
        self._index = {}
        self._problems = []

    def all(self, kind: ExtensionType | str | None = None) -> list[DiscoveredExtension]:
        """Every extension found, whatever its status, sorted by kind and name."""
        everything = self._scan()
        if kind is None:
            return list(everything)
        return [e for e in everything if e.kind == kind]

    @property
    def problems(self) -> list[str]:
        """Problems that concern no single extension (an unreadable registration, a name clash)."""
        self._scan()
        return list(self._problems)

    def candidates(self, kind: ExtensionType | str, name: str) -> list[DiscoveredExtension]:
        """Every extension of ``kind`` called ``name``, best first, whatever its status."""
        if self._all is None:
            self._scan()
        return self._index.get((kind, name), [])

    def available(self, kind: ExtensionType | str) -> dict[str, list[str]]:
        """Name -> versions of the usable extensions of ``kind``."""
        out: dict[str, list[str]] = {}
        for ext in self.all(kind):
            if ext.status == "ok":
                out.setdefault(ext.name, []).append(ext.version)
        return out

    def resolve(
        self, kind: ExtensionType | str, name: str, version: str | None = None
    ) -> DiscoveredExtension:
        """The extension to load for ``kind``/``name``/``version``.

        Raises :class:`ExtensionNotFound` (with close names, the available
        versions, or why the extension is not usable) when there is none.
        Candidates that are incompatible or disabled are returned as they
        are, for the loader to explain; shadowed ones are skipped unless the
        version asked for is theirs.
        """
        found = self.candidates(kind, name)
        if not found:
            names = sorted({e.name for e in self.all(kind)})
            close = difflib.get_close_matches(name, names, n=3)
            hint = (
                f"did you mean {', '.join(close)}?"
                if close
                else f"install it (pip install provisioning-{ExtensionType(kind).value}-{name})"
                " or list what is there with `prov plugin list`"
            )
            raise ExtensionNotFound("is not installed", kind=str(kind), name=name, hint=hint)
        if version is None:
            for ext in found:
                if ext.status == "ok":
                    return ext
            return found[0]
        for ext in found:
            if ext.version == version:
                return ext
        versions = ", ".join(e.version for e in found)
        raise ExtensionNotFound(
            f"version {version} is not available (available: {versions})",
            kind=str(kind),
            name=name,
            hint="ask for one of the available versions, or install the one you need",
        )

    # -- scanning ---------------------------------------------------------

    def _scan(self) -> list[DiscoveredExtension]:
        if self._all is not None:
            return self._all
        if self._fixed is not None:
            self._all = self._classify(self._fixed)
            return self._all
        path = self._path if self._path is not None else list(sys.path)
        found = None
        cache = _ScanCache(path) if self._use_cache else None
        if cache is not None:
            found = cache.load()
        self.cache_hit = found is not None
        if found is None:
            key = _path_key(path)
            found = scan_entry_points(path)
            if cache is not None:
                cache.save(key, found)
        registered, self._problems = registered_extensions()
        self._all = self._classify([*found, *registered])
        return self._all

    def _classify(self, found: Iterable[DiscoveredExtension]) -> list[DiscoveredExtension]:
        allow = _name_filter("PROV_LOAD_PLUGINS")
        deny = _name_filter("PROV_DISABLE_PLUGINS")
        groups: dict[tuple[ExtensionType, str], list[DiscoveredExtension]] = {}
        for ext in found:
            groups.setdefault((ext.kind, ext.name), []).append(_check_one(ext, allow, deny))
        everything: list[DiscoveredExtension] = []
        index: dict[tuple[str, str], list[DiscoveredExtension]] = {}
        for key in sorted(groups, key=lambda k: (k[0].value, k[1])):
            group = _best_first(groups[key])
            if len(group) > 1:
                group = self._settle_clash(group)
            index[key] = group
            everything.extend(group)
        self._index = index
        return everything

    def _settle_clash(self, group: list[DiscoveredExtension]) -> list[DiscoveredExtension]:
        winner = group[0]
        origins = "; ".join(e.origin for e in group)
        self._problems.append(
            f"{winner.kind} {winner.name!r} is provided {len(group)} times ({origins}); "
            f"{winner.origin} is used unless a version is asked for"
        )
        settled = [winner]
        seen_versions = {winner.version}
        for ext in group[1:]:
            settled_ext = ext
            if ext.status == "ok" and ext.version in seen_versions:
                settled_ext = attrs.evolve(
                    ext, status="shadowed", reason=f"same name and version as {winner.origin}"
                )
            seen_versions.add(ext.version)
            settled.append(settled_ext)
        return settled


def _check_one(
    ext: DiscoveredExtension, allow: set[str] | None, deny: set[str] | None
) -> DiscoveredExtension:
    warnings: list[str] = []
    status, reason = "ok", ""
    if allow is not None and not _listed(ext, allow):
        status, reason = "disabled", "not listed in PROV_LOAD_PLUGINS"
    elif deny is not None and _listed(ext, deny):
        status, reason = "disabled", "listed in PROV_DISABLE_PLUGINS"
    elif not _TARGET.match(ext.target):
        status = "invalid"
        reason = f"entry point {ext.target!r} is not 'module' or 'module:attribute'"
    elif bad := invalid_requirements(ext.dependencies):
        status, reason = "invalid", "; ".join(bad)
    elif problem := check_core_compatibility(ext.requires_core):
        status, reason = "incompatible", problem
    if ext.requires_core is None:
        warnings.append(
            "declares no provisioning-core requirement; add e.g. "
            f"'provisioning-core>={__version__}' to its dependencies"
        )
    if status == "ok" and not warnings:
        return ext
    return attrs.evolve(ext, status=status, reason=reason, warnings=warnings)
