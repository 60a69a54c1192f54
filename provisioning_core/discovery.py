"""Find extensions WITHOUT importing them.

Two sources feed discovery: entry points of installed distributions (groups
``provisioning.providers``, ``provisioning.taskservs``,
``provisioning.clusters``) and directories registered with
:func:`provisioning_core.register_extension`.  Only metadata is read:
``entry_points.txt`` and ``METADATA`` of each distribution, the manifest of
each directory.

The entry-point scan is cached under ``<cache_dir>/scan-<digest>/`` (the
``[orchestrator.extensions] cache_dir``, by default ``$PROV_HOME/extensions``),
keyed on the modification times of every ``sys.path`` entry: installing or
removing any distribution changes its directory's mtime and so invalidates the
cache.  ``PROV_NO_SCAN_CACHE=1`` disables it.  See :class:`_ScanCache`.

Filters: ``PROV_LOAD_PLUGINS`` (allow-list) and ``PROV_DISABLE_PLUGINS``
(deny-list), comma-separated names, each ``name`` or ``kind:name``.

The same name from two sources: every candidate stays available by version;
without a version the highest usable one wins; at equal versions a registered
directory beats an installed distribution, and between distributions the one
whose name sorts first wins.  A usable candidate that loses to another usable
one of the same version is marked "shadowed"; every clash is reported.
"""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import json
import os
import re
import shutil
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

import attrs
from packaging.utils import canonicalize_name

from provisioning_core._version import __version__
from provisioning_core.compat import (
    check_core_compatibility,
    core_requirement,
    extension_requirements,
    invalid_requirements,
    missing_core_requirement,
    target_problem,
    version_key,
)
from provisioning_core.convert import converter
from provisioning_core.environ import env_flag, env_names
from provisioning_core.errors import ExtensionNotFound
from provisioning_core.models import DiscoveredExtension, ExtensionManifest, ExtensionType

if TYPE_CHECKING:
    import importlib.metadata as md
from provisioning_core.paths import extension_cache_dir
from provisioning_core.registry import registered_extensions, repository_url

__all__ = ["Discovery", "scan_entry_points"]

_GROUPS = {k.group: k for k in ExtensionType}
_CACHE_FORMAT = 2  # 2: DiscoveredExtension.manifest


def scan_entry_points(
    path: Sequence[str], problems: list[str] | None = None
) -> list[DiscoveredExtension]:
    """Every extension entry point of the distributions on ``path``, unclassified.

    A distribution whose metadata cannot be read is skipped and described in
    ``problems``; it never stops the scan.
    """
    plugins: list[tuple[md.PackageMetadata, dict[str, dict[str, str]]]] = []
    seen: set[str] = set()
    import importlib.metadata as md  # only a scan needs it, not a cached lookup

    for dist in md.distributions(path=list(path)):
        try:
            text = dist.read_text("entry_points.txt")
            # most distributions are not plugins: skip them before parsing anything
            if not text or "[provisioning." not in text:
                continue
            meta = dist.metadata  # parsed once: importlib.metadata does not cache it
            key = canonicalize_name(_field(meta, "Name") or "?")
            if key in seen:  # a second copy further down the path is never imported
                continue
            seen.add(key)
            plugins.append((meta, _parse_entry_points(text)))
        except Exception as exc:  # one unreadable distribution must not hide the others
            if problems is not None:
                where = getattr(dist, "_path", "a distribution")
                problems.append(f"cannot read the metadata of {where}: {exc}")
    found: list[DiscoveredExtension] = []
    for meta, groups in plugins:
        requires = meta.get_all("Requires-Dist") or []
        dependencies = extension_requirements(requires, seen)
        for group, kind in _GROUPS.items():
            for name, value in groups.get(group, {}).items():
                found.append(
                    DiscoveredExtension(
                        kind=kind,
                        name=name,
                        version=_field(meta, "Version") or "0",
                        source="entry-point",
                        target=value,
                        distribution=_field(meta, "Name"),
                        description=_field(meta, "Summary") or "",
                        author=_field(meta, "Author") or _field(meta, "Author-email") or None,
                        repository=_repository(meta),
                        requires_core=core_requirement(requires),
                        dependencies=list(dependencies),
                    )
                )
    return found


def _field(meta: md.PackageMetadata, name: str) -> str | None:
    # get_all, not meta[name]: a missing field is deprecated there from 3.12
    values = meta.get_all(name)
    return str(values[0]) if values else None


def _parse_entry_points(text: str) -> dict[str, dict[str, str]]:
    """``entry_points.txt`` as group -> name -> value (the file was already read)."""
    groups: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line[0] in "#;":
            continue
        if line[0] == "[" and line[-1] == "]":
            current = groups.setdefault(line[1:-1].strip(), {})
        elif current is not None and "=" in line:
            name, _, value = line.partition("=")
            current[name.strip()] = value.strip()
    return groups


def _repository(meta: md.PackageMetadata) -> str | None:
    urls: dict[str, str] = {}
    for line in meta.get_all("Project-URL") or []:
        label, _, url = line.partition(",")
        urls[str(label)] = str(url).strip()
    return repository_url(urls) or _field(meta, "Home-page") or None


# what may follow "provisioning-<kind>-" in a distribution's name (PEP 508), so that a
# hint never suggests a pip command holding shell syntax the user typed
_DIST_NAME = re.compile(r"^[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?$")

# the longest name of a per-name scan file before .json; quote() keeps it ASCII
_MAX_STEM = 200


class _ScanCache:
    """The entry-point scan on disk, valid while no ``path`` entry changed.

    One directory per scan, named by a digest of the key (the mtime of every
    path entry, Python's and the core's versions): ``all.json`` holds every
    entry, ``<kind>/<name>.json`` each name's, so resolving one name in a new
    process reads one small file however many plugins are installed.  A scan
    is written to a temporary directory and renamed into place, so readers
    never see half of one.
    """

    def __init__(self, path: Sequence[str], cache_dir: Path | None = None) -> None:
        key: list[object] = [_CACHE_FORMAT, sys.version, __version__]
        for entry in path:
            entry = os.fspath(entry) if isinstance(entry, (str, os.PathLike)) else ""  # noqa: PLW2901
            try:
                key.append([entry, Path(entry or ".").stat().st_mtime_ns])
            except (OSError, ValueError):
                key.append([entry, None])
        # environments sharing one home (venvs, interpreters) keep a scan each
        env = hashlib.sha256(f"{sys.prefix}\0{sys.executable}".encode()).hexdigest()[:12]
        digest = hashlib.sha256(json.dumps(key).encode()).hexdigest()[:24]
        self.parent = cache_dir if cache_dir is not None else extension_cache_dir()
        self.prefix = f"scan-{env}-"
        self.dir = self.parent / f"{self.prefix}{digest}"

    def load_all(self) -> list[DiscoveredExtension] | None:
        return self._read(self.dir / "all.json")

    def discard(self) -> None:
        """Remove this scan (it was found damaged), so that it is written afresh."""
        _remove_scan(self.dir)

    def load_name(self, kind: str, name: str) -> list[DiscoveredExtension] | None:
        """The entries for one name; [] when the scan has none, None without a scan."""
        file = self._name_file(kind, name)
        found = self._read(file)
        if found is None and self.dir.is_dir():
            if not file.exists():
                return []  # the scan is there and has no such name
            self.discard()
        # on a case-insensitive file system Foo.json is foo.json
        return None if found is None else [e for e in found if e.name == name]

    def save(self, entries: list[DiscoveredExtension]) -> None:
        if self.dir.is_dir():
            return
        try:
            self.parent.mkdir(parents=True, exist_ok=True)
            tmp = Path(tempfile.mkdtemp(dir=self.parent, prefix=".scan-"))
            groups: dict[Path, list[DiscoveredExtension]] = {}
            for ext in entries:
                groups.setdefault(self._name_file(ext.kind, ext.name, tmp), []).append(ext)
            for file, group in groups.items():
                file.parent.mkdir(exist_ok=True)
                file.write_text(json.dumps(converter.unstructure(group)), encoding="utf-8")
            (tmp / "all.json").write_text(
                json.dumps(converter.unstructure(entries)), encoding="utf-8"
            )
            tmp.rename(self.dir)
        except OSError:
            pass  # a read-only home, or a racing writer: the next run rescans
        for old in self.parent.glob(f"{self.prefix}*"):  # this environment's older scans
            if old != self.dir:
                _remove_scan(old)
        for trash in self.parent.glob(".trash-*"):  # what a killed process left half-removed
            shutil.rmtree(trash, ignore_errors=True)
        for partial in self.parent.glob(".scan-*"):  # a scan a killed process never finished
            with contextlib.suppress(OSError):
                if time.time() - partial.stat().st_mtime > _PARTIAL_AGE:
                    shutil.rmtree(partial, ignore_errors=True)

    def _name_file(self, kind: str, name: str, base: Path | None = None) -> Path:
        stem = quote(name, safe="", errors="surrogateescape")
        if len(stem) > _MAX_STEM:  # longer than a file name may be (255 bytes): its digest
            digest = hashlib.sha256(name.encode(errors="surrogateescape")).hexdigest()
            stem = f"sha256-{digest}"
        return (base or self.dir) / str(kind) / (stem + ".json")

    @staticmethod
    def _read(file: Path) -> list[DiscoveredExtension] | None:
        try:
            data = json.loads(file.read_bytes())
            # the key holds the core's version, so the fields are this version's
            return [_entry(item) for item in data]
        except (OSError, ValueError, TypeError):
            return None


_PARTIAL_AGE = 300.0  # seconds after which an unfinished scan's directory is litter


def _remove_scan(path: Path) -> None:
    """Remove a scan whole or not at all: renamed aside first, then deleted.

    A reader trusts a scan directory that exists (a name without a file in it
    is not installed), so a scan must never be seen half-deleted: a process
    killed in the middle of deleting one would otherwise leave a scan that
    says installed plugins are missing.
    """
    trash = path.with_name(f".trash-{path.name}-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        path.rename(trash)
    except OSError:
        return  # gone already, or being removed by another process
    shutil.rmtree(trash, ignore_errors=True)


def _entry(item: dict[str, object]) -> DiscoveredExtension:
    # by hand, not through the converter: reading the cache is the hot path
    manifest = item.get("manifest")
    if isinstance(manifest, dict):
        item["manifest"] = ExtensionManifest(**manifest)
    return DiscoveredExtension(**item)  # type: ignore[arg-type]


def _listed(ext: DiscoveredExtension, names: set[str]) -> bool:
    return ext.name in names or f"{ext.kind.value}:{ext.name}" in names


def _best_first(group: list[DiscoveredExtension]) -> list[DiscoveredExtension]:
    if len(group) == 1:
        return group
    # ties first (a directory, then the distribution name), then the version;
    # Python's sort is stable, also in reverse, so the tie order survives
    group = sorted(group, key=lambda e: (e.source != "directory", e.distribution or ""))
    return sorted(group, key=lambda e: version_key(e.version), reverse=True)


class Discovery:
    """What extensions exist, from metadata only; built once, then served from memory.

    ``path`` is where to look for distributions (default ``sys.path`` at the
    time of the scan); ``use_cache`` overrides ``PROV_NO_SCAN_CACHE``;
    ``cache_dir`` is where the scan cache lives (default: the configured
    ``[orchestrator.extensions] cache_dir`` as ``prov`` set it, else
    ``$PROV_HOME/extensions``).
    """

    def __init__(
        self,
        path: Sequence[str] | None = None,
        *,
        use_cache: bool | None = None,
        cache_dir: Path | None = None,
    ) -> None:
        self._path = list(path) if path is not None else None
        self.cache_dir = cache_dir
        if use_cache is None:
            use_cache = not env_flag("PROV_NO_SCAN_CACHE")
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
        """Every extension of ``kind`` called ``name``, best first, whatever its status.

        Before a full scan, a valid scan cache answers for this one name
        alone, so the cost does not grow with the number of plugins installed.
        """
        key = (kind, name)
        if self._all is None and key not in self._index:
            group = self._cached_name(kind, name)
            if group is None:
                self._scan()
            else:
                self._index[key] = group
        return self._index.get(key, [])

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
            if close:
                hint = f"did you mean {', '.join(close)}?"
            elif _DIST_NAME.match(name):
                hint = (
                    f"install it (pip install provisioning-{ExtensionType(kind).value}-{name})"
                    " or list what is there with `prov plugin list`"
                )
            else:  # never a shell command to copy that holds what the user typed
                hint = "list what is installed with `prov plugin list`"
            raise ExtensionNotFound("is not installed", kind=str(kind), name=name, hint=hint)
        if version is None:
            for ext in found:
                if ext.status == "ok":
                    return ext
            return found[0]
        matching = [e for e in found if e.version == version]
        if matching:
            return next((e for e in matching if e.status == "ok"), matching[0])
        versions = ", ".join(e.version for e in found)
        raise ExtensionNotFound(
            f"version {version} is not available (available: {versions})",
            kind=str(kind),
            name=name,
            hint="ask for one of the available versions, or install the one you need",
        )

    # -- scanning ---------------------------------------------------------

    def _search_path(self) -> list[str]:
        return self._path if self._path is not None else list(sys.path)

    def _scan(self) -> list[DiscoveredExtension]:
        if self._all is not None:
            return self._all
        if self._fixed is not None:
            self._problems = []
            self._all = self._classify(self._fixed)
            return self._all
        path = self._search_path()
        cache = _ScanCache(path, self.cache_dir) if self._use_cache else None
        found = cache.load_all() if cache is not None else None
        self.cache_hit = found is not None
        if found is None and cache is not None:
            cache.discard()  # absent (a no-op) or damaged
        scan_problems: list[str] = []
        if found is None:
            found = scan_entry_points(path, scan_problems)
            if cache is not None and not scan_problems:
                cache.save(found)
        registered, self._problems = registered_extensions()
        self._problems += scan_problems
        self._all = self._classify([*found, *registered])
        return self._all

    def _cached_name(
        self, kind: ExtensionType | str, name: str
    ) -> list[DiscoveredExtension] | None:
        if self._fixed is not None or not self._use_cache:
            return None
        found = _ScanCache(self._search_path(), self.cache_dir).load_name(str(kind), name)
        if found is None:
            return None
        self.cache_hit = True
        registered, _ = registered_extensions()
        found += [e for e in registered if e.kind == kind and e.name == name]
        allow, deny = env_names("PROV_LOAD_PLUGINS"), env_names("PROV_DISABLE_PLUGINS")
        return self._settle([_check_one(e, allow, deny) for e in found])

    def _classify(self, found: Iterable[DiscoveredExtension]) -> list[DiscoveredExtension]:
        allow, deny = env_names("PROV_LOAD_PLUGINS"), env_names("PROV_DISABLE_PLUGINS")
        groups: dict[tuple[ExtensionType, str], list[DiscoveredExtension]] = {}
        for ext in found:
            groups.setdefault((ext.kind, ext.name), []).append(_check_one(ext, allow, deny))
        everything: list[DiscoveredExtension] = []
        index: dict[tuple[str, str], list[DiscoveredExtension]] = {}
        for key in sorted(groups):
            index[key] = self._settle(groups[key])
            everything.extend(index[key])
        self._index = index
        return everything

    def _settle(self, group: list[DiscoveredExtension]) -> list[DiscoveredExtension]:
        """Order one name's candidates best first; report and settle a clash."""
        group = _best_first(group)
        if len(group) <= 1:
            return group
        usable = [e for e in group if e.status == "ok"]
        winner = usable[0] if usable else group[0]
        origins = "; ".join(e.origin for e in group)
        self._problems.append(
            f"{winner.kind} {winner.name!r} is provided {len(group)} times ({origins}); "
            f"{winner.origin} is used unless a version is asked for"
        )
        settled = []
        first_of_version: dict[str, DiscoveredExtension] = {}
        for ext in group:
            if ext.status == "ok":
                first = first_of_version.setdefault(ext.version, ext)
                if first is not ext:
                    ext = attrs.evolve(  # noqa: PLW2901 - the settled copy replaces it
                        ext, status="shadowed", reason=f"same name and version as {first.origin}"
                    )
            settled.append(ext)
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
    elif bad_target := target_problem(ext.target):
        status, reason = "invalid", bad_target
    elif bad := invalid_requirements(ext.dependencies):
        status, reason = "invalid", "; ".join(bad)
    elif problem := check_core_compatibility(ext.requires_core):
        status, reason = "incompatible", problem
    if no_core := missing_core_requirement(ext.requires_core):
        warnings.append(no_core)
    if status == "ok" and not warnings:
        return ext
    # a directory's manifest may already carry warnings (unknown tables, keys)
    return attrs.evolve(ext, status=status, reason=reason, warnings=[*ext.warnings, *warnings])
