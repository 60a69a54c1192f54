"""``validate_extension``: the seed's five checks, reported rather than raised.

structure
    the extension can be found: its manifest or metadata reads, its entry
    point is well formed and its module exists.
schema
    its metadata is well formed (name, PEP 440 version, requirement strings,
    the seed's ``metadata.toml`` tables: known capability flags,
    ``[authentication] required_fields`` naming ``ProviderAuth`` fields, the
    default region among the available ones) and its ``*_info`` hook, if any,
    returns a valid record.
interface
    required hooks are present, no hook is unknown (``create_sever``), every
    hook takes only arguments its spec declares; ``[capabilities]`` and a
    provider's ``supported_operations`` agree with the hooks implemented (an
    operation declared but not implemented is an error, one implemented but
    not declared a warning).
dependency
    every extension it depends on is available at a matching version.
version
    it declares which provisioning-core versions it supports, and this core
    is one of them.

Validation imports the extension (to check its hooks); discovery never does.
"""

from __future__ import annotations

import difflib
import importlib.util
import os
import re
from collections.abc import Sequence
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

from provisioning_core.compat import (
    check_core_compatibility,
    invalid_requirements,
    missing_core_requirement,
    target_problem,
)
from provisioning_core.convert import structure
from provisioning_core.discovery import Discovery
from provisioning_core.environ import strict_mode
from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.extensions import ExtensionManager
from provisioning_core.hookspecs import HOOKS
from provisioning_core.interface import build_plugin_manager, inspect_hooks
from provisioning_core.manifest import AUTH_FIELDS, CAPABILITY_HOOKS
from provisioning_core.models import (
    DiscoveredExtension,
    ExtensionType,
    ProviderInfo,
    ValidationReport,
)
from provisioning_core.registry import read_directory

__all__ = ["validate_extension"]

CHECKS = ("structure", "schema", "interface", "dependency", "version")
_NAME = re.compile(r"^[a-z0-9]([a-z0-9_-]*[a-z0-9])?$")


class _Report:
    def __init__(self, prefix: str = "") -> None:
        self.prefix = prefix  # the extension's name when a directory holds several
        self.errors: list[str] = []
        self.warnings: list[str] = []
        self.checks = dict.fromkeys(CHECKS, "skipped")

    def record(self, check: str, errors: Sequence[str], warnings: Sequence[str] = ()) -> bool:
        self.errors += [f"{self.prefix}{check}: {e}" for e in errors]
        self.warnings += [f"{self.prefix}{check}: {w}" for w in warnings]
        if errors:
            self.checks[check] = "failed"
        elif warnings and self.checks[check] != "failed":
            self.checks[check] = "warning"
        elif self.checks[check] == "skipped":
            self.checks[check] = "passed"
        return not errors


def _finish(reports: Sequence[_Report], strict: bool) -> ValidationReport:
    errors = [e for r in reports for e in r.errors]
    warnings = [w for r in reports for w in r.warnings]
    checks = dict.fromkeys(CHECKS, "skipped")
    rank = {"skipped": 0, "passed": 1, "warning": 2, "failed": 3}
    for report in reports:
        for check, result in report.checks.items():
            if rank[result] > rank[checks[check]]:
                checks[check] = result
    if strict:
        errors += [f"{w} (strict mode)" for w in warnings]
        warnings = []
    # a check that only warned passed, unless strict mode counts warnings
    checks = {
        c: ("failed" if strict else "passed") if r == "warning" else r for c, r in checks.items()
    }
    return ValidationReport(valid=not errors, errors=errors, warnings=warnings, checks=checks)


def validate_extension(
    target: str | os.PathLike[str],
    kind: ExtensionType | str,
    *,
    manager: ExtensionManager | None = None,
    strict: bool | None = None,
    probe: bool = False,
) -> ValidationReport:
    """Validate the extension ``target`` of ``kind``: a name, or a directory.

    A name is looked up like ``load_extension`` does; a directory (holding an
    ``extension.toml`` or a plugin's ``pyproject.toml``) is read directly and
    need not be installed or registered; every extension of ``kind`` it
    declares is checked.  Returns a :class:`ValidationReport`; each error and
    warning starts with the check that found it, and ``checks`` says which
    passed, failed or were skipped.  ``strict`` (default: ``PROV_STRICT``)
    counts warnings as errors.  An extension whose core requirement excludes
    this core is not imported.  ``probe``: import it first in a child process
    bounded by the manager's ``import_timeout`` and ``probe_memory_mb``
    (:meth:`ExtensionManager.probe`), and import it here only if that went
    well, so a plugin that exits, hangs or eats memory at import is an
    interface error naming what it did (``prov plugin validate`` does this).
    """
    kind = ExtensionType.of(kind)
    strict = strict_mode() if strict is None else strict
    manager = manager or ExtensionManager(strict=False)
    first = _Report()
    found = _find(target, kind, manager.discovery, first)
    if not found:
        return _finish([first], strict)
    reports = []
    for ext in found:
        report = _Report(f"{ext.name}: " if len(found) > 1 else "")
        # the manifest's own warnings (unknown tables, keys); the core requirement's
        # is the version check's
        no_core = missing_core_requirement(ext.requires_core)
        report.record(
            "structure", _structure_problems(ext), [w for w in ext.warnings if w != no_core]
        )
        _check_schema(ext, report)
        _check_version(ext, report)
        report.record("dependency", [f"needs {m}" for m in manager.missing_dependencies(ext)])
        importable = report.checks["structure"] != "failed" and report.checks["version"] != "failed"
        if importable and (not probe or _probe(ext, manager, report)):
            _check_interface(ext, manager, report)
        reports.append(report)
    return _finish([first, *reports], strict)


def _find(
    target: str | os.PathLike[str], kind: ExtensionType, discovery: Discovery, report: _Report
) -> list[DiscoveredExtension]:
    text = os.fspath(target)
    # a path only when it looks like one: a folder called like a plugin in the
    # working directory must not hide the installed plugin
    if (
        isinstance(target, os.PathLike)
        or any(sep and sep in text for sep in (os.sep, os.altsep))
        or text.startswith((".", "~"))
    ):
        try:
            return read_directory(Path(text).expanduser().resolve(), kind)
        except ConfigError as exc:
            report.record("structure", [exc.message])
            return []
    try:
        found = discovery.resolve(kind, text)
    except ProvisioningError as exc:
        report.record("structure", [str(exc)])
        return []
    if found.status == "disabled":
        report.record("structure", [], [f"it is disabled ({found.reason})"])
    return [found]


def _structure_problems(found: DiscoveredExtension) -> list[str]:
    module, _, _ = found.target.partition(":")
    if bad_target := target_problem(found.target):
        return [bad_target]
    top = module.split(".")[0]
    if found.source == "memory":  # given as an object to make_test_instance
        return []
    if found.source == "directory":
        root = Path(found.root or ".")
        if not ((root / f"{top}.py").is_file() or (root / top / "__init__.py").is_file()):
            return [f"module {top!r} not found in {root} (expected {top}.py or {top}/__init__.py)"]
        return []
    if importlib.util.find_spec(top) is None:  # a top-level lookup imports nothing
        return [f"module {top!r} is not importable; reinstall {found.distribution}"]
    return []


def _check_schema(found: DiscoveredExtension, report: _Report) -> None:
    errors = []
    warnings = []
    if not _NAME.match(found.name):
        errors.append(
            f"name {found.name!r} must be lowercase letters, digits, '-' or '_' "
            "(it is typed on the command line)"
        )
    try:
        Version(found.version)
    except InvalidVersion:
        errors.append(f"version {found.version!r} is not a PEP 440 version")
    errors += invalid_requirements(found.dependencies)
    if not found.description:
        warnings.append("has no description; users see it in `prov plugin list`")
    _manifest_schema(found, errors)
    report.record("schema", errors, warnings)


def _manifest_schema(found: DiscoveredExtension, errors: list[str]) -> None:
    """The seed's metadata.toml tables, checked without importing anything."""
    manifest = found.manifest
    if manifest is None:
        return
    # unknown flags, like every unknown key, are already the extension's warnings
    errors += _auth_field_problems(manifest.required_auth, "[authentication] required_fields")
    if (
        manifest.default_region
        and manifest.regions
        and manifest.default_region not in (manifest.regions)
    ):
        errors.append(
            f"[regions] default {manifest.default_region!r} is not one of [regions] available "
            f"({', '.join(manifest.regions)})"
        )
    for key, spec in manifest.compatibility.items():
        try:
            SpecifierSet(spec)
        except InvalidSpecifier:
            errors.append(f"[compatibility] {key} {spec!r} is not a valid version specifier")


def _auth_field_problems(fields: Sequence[str], where: str) -> list[str]:
    return [
        f"{where} names {name!r}, which is not a field of the provider's auth settings "
        f"({', '.join(AUTH_FIELDS)})"
        for name in fields
        if name not in AUTH_FIELDS
    ]


def _check_version(found: DiscoveredExtension, report: _Report) -> None:
    no_core = missing_core_requirement(found.requires_core)
    warnings = [no_core] if no_core else []
    problem = check_core_compatibility(found.requires_core)
    report.record("version", [problem] if problem else [], warnings)


def _probe(found: DiscoveredExtension, manager: ExtensionManager, report: _Report) -> bool:
    """Whether ``found`` imports cleanly in a bounded child process (else: recorded)."""
    if found.source == "memory":
        return True
    failure = manager.probe(found)
    if failure is not None:
        origin = found.origin
        report.record("interface", [f"{found.kind.value} {found.name!r} ({origin}) {failure.what}"])
    return failure is None


def _check_interface(
    found: DiscoveredExtension, manager: ExtensionManager, report: _Report
) -> None:
    try:
        plugin, _ = manager.import_plugin(found)
    except ProvisioningError as exc:
        report.record("interface", [exc.message])
        return
    hooks = inspect_hooks(found.kind, plugin)
    if not report.record("interface", hooks.errors, hooks.warnings):
        return
    report.record("interface", *_capability_problems(found, set(hooks.implemented)))
    info_hook = f"{found.kind.value}_info"
    if info_hook not in hooks.implemented:
        return
    # the info hook is data about the extension: check its shape as part of "schema"
    try:
        pm = build_plugin_manager(found.kind, hooks, f"{found.kind.value}:{found.name}")
    except Exception as exc:
        report.record("interface", [f"pluggy refuses its hooks: {exc}"])
        return
    try:
        raw = getattr(pm.hook, info_hook)()
        info = structure(
            raw, HOOKS[found.kind][info_hook].result, what=f"the result of {info_hook}"
        )
        if isinstance(info, ProviderInfo):
            report.record("interface", *_operation_problems(info, set(hooks.implemented)))
            report.record("schema", _auth_field_problems(info.required_auth, "required_auth"))
    except ProvisioningError as exc:
        report.record("schema", [exc.message])
    except KeyboardInterrupt:
        raise
    except BaseException as exc:
        report.record("schema", [f"{info_hook} raised {type(exc).__name__}: {exc}"])


def _capability_problems(
    found: DiscoveredExtension, implemented: set[str]
) -> tuple[list[str], list[str]]:
    """Where ``[capabilities]`` and the hooks disagree: (errors, warnings)."""
    errors: list[str] = []
    warnings: list[str] = []
    capabilities = found.manifest.capabilities if found.manifest else {}
    for (kind, flag), hooks in CAPABILITY_HOOKS.items():
        if kind is not found.kind or flag not in capabilities:
            continue
        present = [h for h in hooks if h in implemented]
        absent = [h for h in hooks if h not in implemented]
        if capabilities[flag] and absent:
            errors.append(
                f"[capabilities] {flag} = true, but {', '.join(absent)} "
                f"{'is' if len(absent) == 1 else 'are'} not implemented"
            )
        elif not capabilities[flag] and present:
            warnings.append(
                f"[capabilities] {flag} = false, but {', '.join(present)} "
                f"{'is' if len(present) == 1 else 'are'} implemented; set it to true"
            )
    return errors, warnings


def _operation_problems(info: ProviderInfo, implemented: set[str]) -> tuple[list[str], list[str]]:
    """Where ``provider_info().supported_operations`` and the hooks disagree."""
    declared = info.supported_operations
    if not declared:
        return [], []  # not declared at all: the hooks say what it supports
    known = HOOKS[ExtensionType.PROVIDER]
    errors = []
    for op in declared:
        if op not in known:
            close = difflib.get_close_matches(op, list(known), n=1)
            errors.append(
                f"supported_operations names {op!r}, which is not a provider operation"
                + (f"; did you mean {close[0]!r}?" if close else "")
            )
        elif op not in implemented:
            errors.append(f"supported_operations names {op!r}, but no {op} hook is implemented")
    undeclared = sorted(implemented - set(declared) - {"provider_info"})
    warnings = (
        [f"implements {', '.join(undeclared)} but supported_operations does not name them"]
        if undeclared
        else []
    )
    return errors, warnings
