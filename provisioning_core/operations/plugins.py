"""Plugin operations: list, describe, validate, and the seed's module verbs.

Listing reads metadata only and always works; ``plugin info`` and
``module load`` import the one extension asked for.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from provisioning_core.convert import unstructure
from provisioning_core.discovery import Discovery
from provisioning_core.errors import InputError, ProvisioningError
from provisioning_core.extensions import Extension, ExtensionManager
from provisioning_core.hookspecs import HOOKS
from provisioning_core.import_guard import ImportLedger
from provisioning_core.models import DiscoveredExtension, ExtensionType, ValidationReport

__all__ = [
    "METADATA_KEYS",
    "discover_modules",
    "load_module",
    "loaded_modules",
    "plugin_info",
    "plugin_rows",
    "seed_extension",
    "unload_module",
    "validate_plugin",
]

#: the loading guide's ExtensionMetadata, the keys `prov module discover` prints
METADATA_KEYS = (
    "name",
    "version",
    "description",
    "extension_type",
    "dependencies",
    "author",
    "repository",
)


def plugin_rows(
    discovery: Discovery, kind: str | None = None, ledger: ImportLedger | None = None
) -> list[dict[str, Any]]:
    """One row per discovered extension, whatever its status; nothing is imported.

    With ``ledger``, a plugin a probe found to end, hang or exhaust its
    importer gets a warning saying so (it is refused when a command loads it).
    """
    verdicts = ledger.verdicts() if ledger is not None else {}
    rows = []
    for e in discovery.all(kind):
        row = _row(e)
        verdict = ImportLedger.verdict_for(e, verdicts) if verdicts else None
        if verdict is not None and verdict.source == "probe":
            row["warnings"].append(
                f"refused without being imported: it {verdict.what} (found by a probe at "
                f"{verdict.when}); prov plugin validate {e.name} probes it again"
            )
        rows.append(row)
    return rows


def _row(e: DiscoveredExtension) -> dict[str, Any]:
    return {
        "name": e.name,
        "kind": e.kind.value,
        "version": e.version,
        "distribution": e.distribution,
        "source": e.source,
        "status": e.status,
        "reason": e.reason,
        "warnings": list(e.warnings),
    }


def _find(discovery: Discovery, name: str, kind: str | None) -> list[DiscoveredExtension]:
    kinds = [ExtensionType.of(kind)] if kind else list(ExtensionType)
    found = [e for k in kinds for e in discovery.candidates(k, name)]
    if not found:
        known = sorted({e.name for e in discovery.all(kind)})
        raise InputError(
            f"no {kind or 'plugin'} called {name!r} is installed",
            hint="prov plugin list shows what is installed"
            + (f" (there are: {', '.join(known)})" if known else ""),
        )
    return found


def plugin_info(
    name: str, *, kind: str | None = None, manager: ExtensionManager | None = None
) -> list[dict[str, Any]]:
    """What is known about ``name`` (every kind it exists as unless ``kind``).

    Metadata comes from discovery; the hooks it implements come from loading
    it, and a failure to load is reported in the result, not raised.
    """
    manager = manager or ExtensionManager()
    results = []
    for found in _find(manager.discovery, name, kind):
        info = _row(found)
        info.update(
            {
                "description": found.description,
                "author": found.author,
                "repository": found.repository,
                "requires_core": found.requires_core,
                "dependencies": list(found.dependencies),
                "target": found.target,
                "root": found.root,
                # the seed's metadata.toml tables, for a directory that has them
                "manifest": unstructure(found.manifest) if found.manifest else None,
            }
        )
        if found.status == "ok":
            try:
                ext = manager.load_extension(found.kind, found.name, found.version)
            except ProvisioningError as exc:
                info["load_error"] = str(exc)
            else:
                info["hooks"] = sorted(ext.implemented)
                info["accepts_check"] = sorted(
                    h for h in ext.implemented if ext.accepts(h, "check")
                )
                info["unsupported"] = [
                    f"{h} ({HOOKS[found.kind][h].capability})" for h in ext.unsupported
                ]
                info["path"] = str(ext.path) if ext.path else None
        results.append(info)
    return results


def find_one(discovery: Discovery, name: str, kind: str | None) -> DiscoveredExtension:
    """The one installed extension ``name`` (of ``kind``), preferring a usable candidate.

    A name several kinds share needs ``kind``: the error says so.
    """
    found = _find(discovery, name, kind)
    kinds = sorted({e.kind.value for e in found})
    if len(kinds) > 1:
        raise InputError(
            f"{name!r} is the name of several kinds of plugin: {', '.join(kinds)}",
            hint="pass --kind to choose one",
        )
    return next((e for e in found if e.status == "ok"), found[0])


def validate_plugin(
    target: str,
    kind: str | None = None,
    *,
    manager: ExtensionManager | None = None,
    probe: bool = False,
) -> tuple[str, ValidationReport]:
    """Validate an installed plugin by name, or a plugin directory by path; returns its kind too.

    ``probe``: import it in a bounded child process first (see ``validate_extension``).
    """
    from provisioning_core.validation import validate_extension

    if kind is None:
        if Path(target).exists():
            raise InputError(
                f"{target} is a directory: say which kind of extension it holds",
                problems=["--kind is required for a directory @ --kind"],
                hint="pass --kind provider, --kind taskserv or --kind cluster",
            )
        discovery = manager.discovery if manager is not None else Discovery()
        kind = find_one(discovery, target, None).kind.value
    return kind, validate_extension(target, kind, manager=manager, probe=probe)


def _metadata(found: DiscoveredExtension) -> dict[str, Any]:
    meta = found.metadata
    return {
        "name": meta.name,
        "version": meta.version,
        "description": meta.description,
        "extension_type": meta.extension_type.value,
        "dependencies": list(meta.dependencies),
        "author": meta.author,
        "repository": meta.repository,
    }


def seed_extension(ext: Extension) -> dict[str, Any]:
    """A loaded extension as the loading guide's ``Extension`` prints it over HTTP.

    ``{"metadata": ExtensionMetadata, "path", "loaded_at"}``, with
    ``extension_type`` written as the guide's Rust enum serialises it
    (``"Taskserv"``) and ``loaded_at`` as RFC 3339 in UTC, to the second.
    """
    metadata = _metadata(ext.discovered)
    metadata["extension_type"] = metadata["extension_type"].capitalize()
    return {
        "metadata": metadata,
        "path": str(ext.path) if ext.path is not None else None,
        "loaded_at": ext.loaded_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def discover_modules(
    discovery: Discovery, kind: str, name: str | None = None
) -> tuple[list[dict[str, Any]], list[str]]:
    """The seed's ``module discover``: ExtensionMetadata records, and warnings.

    With ``name``: that extension (the one ``module load`` would load; raises
    :class:`ExtensionNotFound` with close names when there is none).  Without:
    every usable extension of ``kind``.  An extension that exists but cannot
    be loaded is left out of the list, or, asked for by name, shown with a
    warning saying why.
    """
    if name is not None:
        found = discovery.resolve(kind, name)
        warnings = [] if found.status == "ok" else [_unusable(found)]
        return [_metadata(found)], warnings
    everything = discovery.all(kind)
    rows = [_metadata(e) for e in everything if e.status == "ok"]
    return rows, [_unusable(e) for e in everything if e.status not in ("ok", "shadowed")]


def _unusable(found: DiscoveredExtension) -> str:
    return f"{found.kind.value} {found.name} {found.version} is {found.status}: {found.reason}"


def load_module(
    kind: str,
    name: str,
    version: str | None = None,
    *,
    manager: ExtensionManager | None = None,
    record: bool = True,
) -> dict[str, Any]:
    """Load one extension (the seed's ``module load``) and say what was loaded and how fast.

    ``record`` remembers the load in the cache directory, so that later
    commands may use the extension when ``auto_load`` is false; a
    ``version`` given is pinned there.
    """
    manager = manager or ExtensionManager()
    started = time.perf_counter()
    ext = manager.load_extension(kind, name, version)
    seconds = time.perf_counter() - started
    if record:
        manager.record_load(ext, version=version)
    return {
        "name": ext.name,
        "kind": ext.kind.value,
        "version": ext.version,
        "origin": ext.discovered.origin,
        "path": str(ext.path) if ext.path else None,
        "hooks": sorted(ext.implemented),
        "unsupported": list(ext.unsupported),
        "load_ms": round(seconds * 1000, 3),
    }


def unload_module(kind: str, name: str, *, manager: ExtensionManager | None = None) -> None:
    """Forget the explicit load of ``kind``/``name`` (the seed's unload)."""
    manager = manager or ExtensionManager()
    if not manager.forget_load(kind, name):
        loaded = ", ".join(f"{r.kind.value} {r.name}" for r in manager.loaded_records())
        raise InputError(
            f"{kind} {name!r} is not loaded",
            hint="prov module list shows what is loaded" + (f" ({loaded})" if loaded else ""),
        )


def loaded_modules(manager: ExtensionManager | None = None) -> list[dict[str, Any]]:
    """The explicit loads recorded in the cache directory."""
    manager = manager or ExtensionManager()
    return [
        {
            "name": r.name,
            "kind": r.kind.value,
            "version": r.version,
            "loaded_at": r.loaded_at.isoformat(timespec="seconds"),
        }
        for r in manager.loaded_records()
    ]
