"""Version and dependency checks, from metadata alone (packaging).

A plugin distribution declares the core versions it works with as a normal
requirement, ``Requires-Dist: provisioning-core>=0.1,<0.2``.  Extensions declare
dependencies on other extensions as requirement strings (``containerd>=1.6``).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Collection, Iterable, Mapping, Sequence

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import InvalidVersion, Version

from provisioning_core._version import __version__

__all__ = [
    "CORE_DISTRIBUTION",
    "check_core_compatibility",
    "core_requirement",
    "extension_requirements",
    "missing_core_requirement",
    "missing_dependencies",
    "target_problem",
]

CORE_DISTRIBUTION = "provisioning-core"

_TARGET = re.compile(r"^[A-Za-z_][\w.]*(:[A-Za-z_][\w.]*)?$")
_PLUGIN_DISTRIBUTION = re.compile(r"^provisioning-(provider|taskserv|cluster)-")


def core_requirement(requires: Iterable[str] | None) -> str | None:
    """The specifier a distribution's ``Requires-Dist`` puts on the core, if any.

    Requirements behind markers that do not hold here (an extra, another
    Python) are ignored.  Returns e.g. ``">=0.1,<0.2"``, ``""`` for a bare
    ``provisioning-core``, or None when the core is not named at all.
    """
    # imported here: compiling its grammar costs more than the rest of discovery
    from packaging.requirements import InvalidRequirement, Requirement

    for line in requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if canonicalize_name(req.name) != CORE_DISTRIBUTION:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        return str(req.specifier)
    return None


def missing_core_requirement(specifier: str | None) -> str | None:
    """The warning for an extension that declares no core requirement, or None."""
    if specifier is not None:
        return None
    return (
        "declares no provisioning-core requirement; add e.g. "
        f"'provisioning-core>={__version__}' to its dependencies"
    )


def target_problem(target: str) -> str | None:
    """Why ``target`` is not an importable ``module`` or ``module:attribute``, or None."""
    if _TARGET.match(target):
        return None
    return f"entry point {target!r} is not 'module' or 'module:attribute'"


@functools.lru_cache(maxsize=256)
def check_core_compatibility(specifier: str | None, core_version: str = __version__) -> str | None:
    """Why the running core does not satisfy ``specifier``, or None if it does."""
    if not specifier:
        return None
    try:
        spec = SpecifierSet(specifier)
    except InvalidSpecifier:
        return f"its core requirement {specifier!r} is not a valid version specifier"
    if spec.contains(Version(core_version), prereleases=True):
        return None
    return f"it needs provisioning-core{spec} but provisioning-core {core_version} is running"


def extension_requirements(
    requires: Iterable[str] | None, plugin_distributions: Collection[str] = ()
) -> list[str]:
    """The requirements in ``requires`` (``Requires-Dist``) that name other plugins.

    A requirement names a plugin when its distribution is one of
    ``plugin_distributions`` (those known to provide extensions) or is called
    ``provisioning-<kind>-<name>``.  The core itself, and requirements behind
    markers that do not hold here, are left out.  Each is returned as written,
    without its marker.
    """
    # imported here: compiling its grammar costs more than the rest of discovery
    from packaging.requirements import InvalidRequirement, Requirement

    known = {canonicalize_name(d) for d in plugin_distributions}
    found = []
    for line in requires or ():
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        name = canonicalize_name(req.name)
        if name == CORE_DISTRIBUTION:
            continue
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue
        if name in known or _PLUGIN_DISTRIBUTION.match(name):
            found.append(line.split(";", 1)[0].strip())
    return found


def invalid_requirements(requirements: Sequence[str]) -> list[str]:
    """One message per requirement string that does not parse."""
    # imported here: compiling its grammar costs more than the rest of discovery
    from packaging.requirements import InvalidRequirement, Requirement

    problems = []
    for text in requirements:
        try:
            Requirement(text)
        except InvalidRequirement as exc:
            problems.append(f"dependency {text!r} is not a valid requirement: {exc}")
    return problems


def missing_dependencies(
    requirements: Sequence[str],
    available: Mapping[str, Sequence[str]],
    unusable: Mapping[str, str] | None = None,
) -> list[str]:
    """Every requirement not met by ``available`` (name -> versions), explained.

    ``unusable`` maps names that are installed but cannot be used to why
    (disabled, incompatible).  Returns lines such as
    ``"containerd>=1.6 (not installed)"``, ``"containerd>=1.6 (available:
    1.5.2)"`` or ``"containerd>=1.6 (installed but disabled: ...)"``; empty
    when all are met.
    """
    # imported here: compiling its grammar costs more than the rest of discovery
    from packaging.requirements import InvalidRequirement, Requirement

    missing = []
    by_name = {canonicalize_name(k): v for k, v in available.items()}
    why_not = {canonicalize_name(k): v for k, v in (unusable or {}).items()}
    for text in requirements:
        try:
            req = Requirement(text)
        except InvalidRequirement:
            missing.append(f"{text} (not a valid requirement)")
            continue
        versions = by_name.get(canonicalize_name(req.name))
        if not versions:
            reason = why_not.get(canonicalize_name(req.name))
            missing.append(f"{text} ({'installed but ' + reason if reason else 'not installed'})")
            continue
        if not any(_satisfies(req.specifier, v) for v in versions):
            missing.append(f"{text} (available: {', '.join(versions)})")
    return missing


def _satisfies(spec: SpecifierSet, version: str) -> bool:
    try:
        return spec.contains(Version(version), prereleases=True)
    except InvalidVersion:
        return False


@functools.lru_cache(maxsize=4096)
def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key putting valid versions above invalid ones, highest last."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)
