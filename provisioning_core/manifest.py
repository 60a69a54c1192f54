"""Reading a directory extension's manifest: ``extension.toml`` or the seed's ``metadata.toml``.

Both files hold the same tables; ``metadata.toml`` is the seed's name and
spelling (``type`` for the kind, ``[compatibility] provisioning_version``
for the core requirement, no ``module``: it defaults to the name with ``-``
turned into ``_``).  The tables read:

``[extension]``
    name, version, kind (or the seed's ``type``), module, description,
    author, license, repository, requires-core, dependencies.
``[compatibility]``
    ``provisioning_version`` (enforced like ``requires-core``),
    ``nushell_version`` and ``kcl_version`` (recorded, never enforced: the
    core runs neither tool).
``[capabilities]``
    the seed's feature flags, each true or false.
``[authentication]``
    ``methods`` and ``required_fields`` (names of ``ProviderAuth`` fields).
``[regions]``
    ``default`` and ``available``.
``[support]``
    ``documentation`` and ``issues`` links.

A value of the wrong type is an error naming the file and the value's path
(``expected str, got int @ $.regions.default``); an unknown table or key is a
warning on the extension (an error in strict mode, like every warning).
Nothing is imported.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs

from provisioning_core.errors import ConfigError
from provisioning_core.models import (
    DiscoveredExtension,
    ExtensionManifest,
    ExtensionType,
    ProviderAuth,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

__all__ = [
    "AUTH_FIELDS",
    "CAPABILITIES",
    "CAPABILITY_HOOKS",
    "EXTENSION_TOML",
    "METADATA_TOML",
    "read_manifest",
    "read_toml",
]

EXTENSION_TOML = "extension.toml"
METADATA_TOML = "metadata.toml"

#: the seed's capability flags; any other name is a warning
CAPABILITIES = ("server_management", "load_balancer", "storage_encryption", "backup", "monitoring")

#: (kind, flag) -> the hooks the flag stands for; validation checks that they
#: agree.  The other flags (load_balancer, storage_encryption, backup,
#: monitoring) name features no hook of the contract provides: they are
#: recorded and shown, never checked against hooks.
CAPABILITY_HOOKS: dict[tuple[ExtensionType, str], tuple[str, ...]] = {
    (ExtensionType.PROVIDER, "server_management"): (
        "create_server",
        "delete_server",
        "list_servers",
        "get_server_info",
        "start_server",
        "stop_server",
        "reboot_server",
    ),
}

#: the ProviderAuth fields ``[authentication] required_fields`` may name
#: (certificate_path and private_key_path: certificate authentication, named
#: here too so that a manifest written for a core that has them validates)
AUTH_FIELDS: tuple[str, ...] = tuple(
    dict.fromkeys(
        [
            *(f.name for f in attrs.fields(ProviderAuth) if f.name != "method"),
            "certificate_path",
            "private_key_path",
        ]
    )
)

_STR, _LIST, _BOOL = "str", "list", "bool"
# table -> key -> expected type
_SCHEMA: dict[str, dict[str, str]] = {
    "extension": {
        "name": _STR,
        "version": _STR,
        "kind": _STR,
        "type": _STR,
        "module": _STR,
        "description": _STR,
        "author": _STR,
        "license": _STR,
        "repository": _STR,
        "requires-core": _STR,
        "dependencies": _LIST,
    },
    "compatibility": {
        "provisioning_version": _STR,
        "nushell_version": _STR,
        "kcl_version": _STR,
    },
    "capabilities": dict.fromkeys(CAPABILITIES, _BOOL),
    "authentication": {"methods": _LIST, "required_fields": _LIST},
    "regions": {"default": _STR, "available": _LIST},
    "support": {"documentation": _STR, "issues": _STR},
}
# sections of the seed's ExtensionManifest: without any, the manifest is None
_MANIFEST_TABLES = ("compatibility", "capabilities", "authentication", "regions", "support")


def read_toml(path: Path) -> dict[str, Any]:
    """The TOML document at ``path``; a :class:`ConfigError` naming it if it cannot be read."""
    try:
        with path.open("rb") as fh:
            data: dict[str, Any] = tomllib.load(fh)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}", hint="fix the TOML syntax") from None
    else:
        return data


def _type_name(value: object) -> str:
    if isinstance(value, dict):
        return "table"
    return "list" if isinstance(value, list) else type(value).__name__


def _check(value: object, expected: str, where: str) -> list[str]:
    if expected == _STR and not isinstance(value, str):
        return [f"expected str, got {_type_name(value)} @ {where}"]
    if expected == _BOOL and not isinstance(value, bool):
        return [f"expected true or false, got {_type_name(value)} @ {where}"]
    if expected == _LIST:
        if not isinstance(value, list):
            return [f"expected a list, got {_type_name(value)} @ {where}"]
        return [
            f"expected str, got {_type_name(item)} @ {where}[{i}]"
            for i, item in enumerate(value)
            if not isinstance(item, str)
        ]
    return []


def _shape_problems(file: Path, data: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """Type errors and unknown-name warnings of every table in ``data``."""
    problems: list[str] = []
    warnings: list[str] = []
    for table, value in data.items():
        schema = _SCHEMA.get(table)
        if schema is None:
            known = ", ".join(f"[{t}]" for t in _SCHEMA)
            warnings.append(f"{file}: unknown table [{table}] is ignored (known: {known})")
        elif not isinstance(value, dict):
            problems.append(f"expected a table, got {_type_name(value)} @ $.{table}")
        else:
            for key, item in value.items():
                expected = schema.get(key)
                if expected is None:
                    close = difflib.get_close_matches(key, list(schema), n=1)
                    said = (
                        f"(did you mean {close[0]!r}?)"
                        if close
                        else f"(known: {', '.join(schema)})"
                    )
                    if table == "extension" and file.name == "extension.toml":
                        # our own file, strict as it always was: a typo
                        # (requires_core) must not skip the core version check
                        problems.append(f"unknown key {key!r} {said} @ $.{table}.{key}")
                    else:
                        warnings.append(
                            f"{file}: unknown key {key!r} in [{table}] is ignored {said}"
                        )
                else:
                    problems += _check(item, expected, f"$.{table}.{key}")
    return problems, warnings


def _extension_problems(
    ext: Mapping[str, Any], compatibility: Mapping[str, Any], kind: ExtensionType, *, seed: bool
) -> list[str]:
    """Missing or empty required keys, a kind that is not the one registered, a double core pin."""
    problems = []
    for key in ("name", "version") if seed else ("name", "version", "module"):
        if key not in ext:
            problems.append(f"required field missing @ $.extension.{key}")
        elif ext[key] == "":
            problems.append(f"must not be empty @ $.extension.{key}")
    for key in ("kind", "type"):
        value = ext.get(key)
        if isinstance(value, str) and value != kind.value:
            problems.append(
                f"declares kind {value!r}, registered as {kind.value!r} @ $.extension.{key}"
            )
    if "requires-core" in ext and "provisioning_version" in compatibility:
        problems.append(
            "the core requirement is given twice, as requires-core and as "
            "[compatibility] provisioning_version; keep one @ $.compatibility.provisioning_version"
        )
    return problems


def _text(table: Mapping[str, Any], key: str) -> str | None:
    value = table.get(key)
    return value if isinstance(value, str) else None


def read_manifest(root: Path, file: Path, kind: ExtensionType) -> DiscoveredExtension:
    """The extension of ``kind`` described by ``file`` (in directory ``root``).

    Raises :class:`ConfigError` listing every problem ("message @ $.path");
    unknown tables and keys become the extension's warnings.
    """
    seed = file.name == METADATA_TOML
    data = read_toml(file)
    if "extension" not in data:
        raise ConfigError(
            f"{file} has no [extension] table", hint="add one; see docs/extensions.md"
        )
    problems, warnings = _shape_problems(file, data)
    sections: dict[str, Mapping[str, Any]] = {
        t: v for t in _SCHEMA if isinstance(v := data.get(t), dict)
    }
    ext = sections.get("extension", {})
    compatibility = sections.get("compatibility", {})
    if "extension" in sections:
        problems += _extension_problems(ext, compatibility, kind, seed=seed)
    if problems:
        raise ConfigError(
            f"{file} is not a valid extension manifest",
            problems=problems,
            hint="see docs/extensions.md for every table and key",
        )
    name: str = ext["name"]
    requires_core = _text(ext, "requires-core")
    if requires_core is None:
        requires_core = _text(compatibility, "provisioning_version")
    manifest = None
    if seed or "license" in ext or any(t in sections for t in _MANIFEST_TABLES):
        auth = sections.get("authentication", {})
        regions = sections.get("regions", {})
        manifest = ExtensionManifest(
            license=_text(ext, "license"),
            compatibility=dict(compatibility),
            capabilities=dict(sections.get("capabilities", {})),
            auth_methods=list(auth.get("methods", [])),
            required_auth=list(auth.get("required_fields", [])),
            default_region=_text(regions, "default"),
            regions=list(regions.get("available", [])),
            support=dict(sections.get("support", {})),
        )
    return DiscoveredExtension(
        kind=kind,
        name=name,
        version=ext["version"],
        source="directory",
        # the seed's metadata.toml names no module: the name, as Python spells it
        target=_text(ext, "module") or name.replace("-", "_"),
        root=str(root),
        description=_text(ext, "description") or "",
        author=_text(ext, "author"),
        repository=_text(ext, "repository"),
        requires_core=requires_core,
        dependencies=list(ext.get("dependencies", [])),
        warnings=warnings,
        manifest=manifest,
    )
