"""Extensions registered from a directory, and reading their manifests.

A directory is registered with :func:`register_extension` and remembered in
``$PROV_HOME/extensions/registered.json`` until :func:`unregister_extension`.
Its extension is described by an ``extension.toml`` (or by the seed's
``metadata.toml``, the same tables in the seed's spelling; see
:mod:`provisioning_core.manifest` for every table)::

    [extension]
    name = "my-service"
    kind = "taskserv"            # optional; must match the kind registered
    version = "0.1.0"
    module = "my_service"        # my_service.py or my_service/ in the directory
    requires-core = ">=0.1,<0.2"
    dependencies = ["containerd>=1.6"]
    description = "..."
    author = "..."
    repository = "https://..."

    [compatibility]              # and [capabilities], [authentication],
    nushell_version = ">=0.107"  # [regions], [support]: the seed's tables

or, for a plugin project that is not installed, by its ``pyproject.toml``
(``[project]`` metadata and the ``provisioning.<kind>s`` entry points).
Reading a manifest never imports the extension.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path

import attrs
from attrs import frozen

from provisioning_core.compat import core_requirement, extension_requirements
from provisioning_core.errors import ConfigError, ExtensionNotFound
from provisioning_core.jsonfile import read_records, write_records
from provisioning_core.manifest import EXTENSION_TOML, METADATA_TOML, read_manifest, read_toml
from provisioning_core.models import DiscoveredExtension, ExtensionMetadata, ExtensionType
from provisioning_core.paths import extensions_dir

__all__ = [
    "RegisteredExtension",
    "list_registered_extensions",
    "read_directory",
    "register_extension",
    "unregister_extension",
]

MANIFEST = EXTENSION_TOML


@frozen
class RegisteredExtension:
    """A directory registration: which kind, where, and since when."""

    kind: ExtensionType
    path: str
    registered_at: datetime


def _registry_file() -> Path:
    return extensions_dir() / "registered.json"


def _load_registry() -> list[RegisteredExtension]:
    return read_records(
        _registry_file(),
        RegisteredExtension,
        what="the extension registry",
        hint="fix or delete the file, then register the directories again",
    )


def _save_registry(entries: list[RegisteredExtension]) -> None:
    write_records(_registry_file(), entries)


def repository_url(urls: Mapping[str, str]) -> str | None:
    """The repository among a project's URLs (labels in any case), if any."""
    by_label = {str(k).strip().lower(): v for k, v in urls.items()}
    for label in ("repository", "source", "source code", "homepage"):
        if by_label.get(label):
            return by_label[label]
    return None


def register_extension(
    path: str | os.PathLike[str], kind: ExtensionType | str
) -> list[ExtensionMetadata]:
    """Remember the extension(s) of ``kind`` in directory ``path``; return their metadata.

    The directory is read (never imported) first, so a bad manifest is
    refused at once.  Registering the same directory again refreshes it.
    """
    kind = ExtensionType.of(kind)
    root = Path(path).expanduser().resolve()
    found = read_directory(root, kind)
    entries = [e for e in _load_registry() if not (e.kind == kind and e.path == str(root))]
    entries.append(RegisteredExtension(kind, str(root), datetime.now(timezone.utc)))
    _save_registry(entries)
    return [d.metadata for d in found]


def unregister_extension(name: str, kind: ExtensionType | str) -> None:
    """Forget the registered directory that provides extension ``name`` of ``kind``."""
    kind = ExtensionType.of(kind)
    entries = _load_registry()
    keep = []
    removed = False
    for entry in entries:
        if entry.kind == kind and (
            entry.path == name or any(d.name == name for d in _safe_read(entry))
        ):
            removed = True
            continue
        keep.append(entry)
    if not removed:
        raise ExtensionNotFound(
            "no registered directory provides it",
            kind=kind,
            name=name,
            hint="see list_registered_extensions() for what is registered",
        )
    _save_registry(keep)


def list_registered_extensions(
    kind: ExtensionType | str | None = None,
) -> list[RegisteredExtension]:
    """Every registered directory, of ``kind`` if given."""
    wanted = None if kind is None else ExtensionType.of(kind)
    return [e for e in _load_registry() if wanted is None or e.kind == wanted]


def registered_extensions() -> tuple[list[DiscoveredExtension], list[str]]:
    """What every registered directory provides, and one problem per unreadable one."""
    found: list[DiscoveredExtension] = []
    problems: list[str] = []
    try:
        entries = _load_registry()
    except ConfigError as exc:  # discovery must keep working: report, go on
        return [], [str(exc)]
    for entry in entries:
        try:
            found.extend(read_directory(Path(entry.path), entry.kind))
        except ConfigError as exc:
            problems.append(exc.message)
        except Exception as exc:  # one odd directory must not stop discovery
            problems.append(f"cannot read the extension directory {entry.path}: {exc}")
    return found, problems


def _safe_read(entry: RegisteredExtension) -> list[DiscoveredExtension]:
    try:
        return read_directory(Path(entry.path), entry.kind)
    except ConfigError:
        return []


def read_directory(root: Path, kind: ExtensionType) -> list[DiscoveredExtension]:
    """Describe the extensions of ``kind`` in directory ``root`` without importing them."""
    if not root.is_dir():
        raise ConfigError(
            f"extension directory {root} does not exist",
            hint="register an existing directory, or unregister this one",
        )
    manifest, seed, project = root / MANIFEST, root / METADATA_TOML, root / "pyproject.toml"
    for file, reader in (
        (manifest, read_manifest),
        (seed, read_manifest),
        (project, _from_pyproject),
    ):
        if not file.is_file():
            continue
        try:
            found = reader(root, file, kind)
        except ConfigError:
            raise
        except Exception as exc:  # a table where a string should be, and the like
            raise ConfigError(
                f"{file} has an unexpected shape: {type(exc).__name__}: {exc}",
                hint="compare it with the examples in docs/authoring.md",
            ) from None
        if not isinstance(found, list):
            if file == manifest and seed.is_file():
                ignored = f"{seed} is ignored: {manifest} is read instead; keep one of them"
                found = attrs.evolve(found, warnings=[*found.warnings, ignored])
            found = [found]
        return found
    raise ConfigError(
        f"{root} holds none of {MANIFEST}, {METADATA_TOML} or pyproject.toml",
        hint=f"add a {METADATA_TOML} (the seed's) or an {MANIFEST} naming the extension "
        "(see docs/extensions.md)",
    )


def _from_pyproject(root: Path, pyproject: Path, kind: ExtensionType) -> list[DiscoveredExtension]:
    project = read_toml(pyproject).get("project", {})
    entry_points: Mapping[str, Mapping[str, str]] = project.get("entry-points", {})
    group = entry_points.get(kind.group, {})
    if not group:
        raise ConfigError(
            f'{pyproject} declares no [project.entry-points."{kind.group}"]',
            hint=f"add the entry point naming your {kind.value} module",
        )
    version = project.get("version")
    if not isinstance(version, str):
        raise ConfigError(
            f"{pyproject} has no static [project] version",
            hint="set version in pyproject.toml, or install the plugin instead",
        )
    if not isinstance(group, dict) or not all(isinstance(v, str) for v in group.values()):
        raise ConfigError(
            f'{pyproject}: [project.entry-points."{kind.group}"] must map names to strings'
        )
    code_root = root / "src" if (root / "src").is_dir() else root
    authors = [a for a in project.get("authors") or [] if isinstance(a, dict)] or [{}]
    urls = {str(k): v for k, v in (project.get("urls") or {}).items() if isinstance(v, str)}
    requires = [d for d in project.get("dependencies") or [] if isinstance(d, str)]
    return [
        DiscoveredExtension(
            kind=kind,
            name=name,
            version=version,
            source="directory",
            target=value,
            root=str(code_root),
            description=str(project.get("description") or ""),
            author=authors[0].get("name") or authors[0].get("email"),
            repository=repository_url(urls),
            requires_core=core_requirement(requires),
            dependencies=extension_requirements(requires),
        )
        for name, value in group.items()
    ]
