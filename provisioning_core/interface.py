"""Checking an extension object against its kind's hooks, and registering it.

Shared by the loader (which refuses a bad plugin) and the validator (which
reports on it): both ask :func:`inspect_hooks` and so agree on what is wrong.
Every problem is found, not just the first, and each names the hook and the fix.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from types import ModuleType, SimpleNamespace
from typing import Any

import attrs
import pluggy

from provisioning_core.hookspecs import HOOKS, PROJECT, spec_class
from provisioning_core.models import ExtensionType

__all__ = ["HookReport", "build_plugin_manager", "inspect_hooks", "spec_argnames"]

_SPEC_ARGS: dict[ExtensionType, dict[str, tuple[str, ...]]] = {}


def spec_argnames(kind: ExtensionType) -> dict[str, tuple[str, ...]]:
    """Hook name -> the argument names its spec declares, for ``kind``."""
    if kind not in _SPEC_ARGS:
        spec = spec_class(kind)
        _SPEC_ARGS[kind] = {
            name: tuple(p for p in inspect.signature(getattr(spec, name)).parameters if p != "self")
            for name in HOOKS[kind]
        }
    return _SPEC_ARGS[kind]


@attrs.frozen
class HookReport:
    """What :func:`inspect_hooks` found.

    ``implemented`` maps each hook to the argument names its implementation
    takes and ``functions`` to the implementation; ``errors`` stop loading;
    ``warnings`` do not (unless strict).
    """

    implemented: dict[str, tuple[str, ...]]
    errors: list[str]
    warnings: list[str]
    functions: dict[str, Callable[..., Any]] = attrs.Factory(dict)


def inspect_hooks(kind: ExtensionType, obj: object) -> HookReport:
    """Compare the hook implementations ``obj`` holds with ``kind``'s hooks.

    Only functions are looked at, read without running properties or a
    module's ``__getattr__``, so no plugin attribute can raise in here.
    """
    specs = spec_argnames(kind)
    implemented: dict[str, tuple[str, ...]] = {}
    functions: dict[str, Callable[..., Any]] = {}
    errors: list[str] = []
    warnings: list[str] = []
    for attr_name in _names(obj):
        member = _routine(obj, attr_name)
        if member is None:
            continue
        opts = _marker(member)
        if opts is None:
            if attr_name in specs:
                warnings.append(
                    f"{attr_name}() has the name of a hook but no @hookimpl, so it is ignored; "
                    "decorate it with provisioning_core.hookimpl"
                )
            continue
        hook = opts.get("specname") or attr_name
        problem = _check_one(kind, hook, member, specs)
        if problem:
            errors.append(problem)
            continue
        implemented[hook] = _argnames(member)[0]
        functions[hook] = member
    for hook, definition in HOOKS[kind].items():
        if definition.required and hook not in implemented and not any(hook in e for e in errors):
            errors.append(f"required hook {hook!r} is not implemented")
    if kind is ExtensionType.CLUSTER and not implemented.keys() & _CLUSTER_DESCRIBED:
        # the core's engine can deploy a cluster only if it knows the components
        errors.append(
            "a cluster plugin must describe its components (cluster_info or list_components) "
            "or implement create itself"
        )
    return HookReport(implemented, errors, warnings, functions)


_CLUSTER_DESCRIBED = frozenset({"create", "cluster_info", "list_components"})


def _check_one(
    kind: ExtensionType, hook: str, member: Callable[..., Any], specs: dict[str, tuple[str, ...]]
) -> str | None:
    if hook not in specs:
        close = difflib.get_close_matches(hook, list(specs), n=1)
        fix = f"did you mean {close[0]!r}?" if close else f"see docs/hooks.md for the {kind} hooks"
        return f"hook {hook!r} is not a {kind} hook; {fix}"
    args, defaulted = _argnames(member)
    if defaulted:
        return (
            f"hook {hook!r} gives {', '.join(repr(a) for a in defaulted)} a default value; "
            "pluggy never passes arguments that have defaults, so the hook would always "
            "see the default: remove it"
        )
    unknown = [a for a in args if a not in specs[hook]]
    if unknown:
        return (
            f"hook {hook!r} takes {', '.join(repr(a) for a in unknown)}, which its spec lacks; "
            f"it may take any of: {', '.join(specs[hook]) or '(no arguments)'}"
        )
    return None


def _names(obj: object) -> list[str]:
    try:
        return [n for n in dir(obj) if not n.startswith("__")]
    except Exception:  # a plugin's __dir__ that raises hides its hooks, nothing more
        return []


def _routine(obj: object, attr_name: str) -> Callable[..., Any] | None:
    """The function ``attr_name`` of ``obj`` (bound for an instance), or None."""
    try:
        member = inspect.getattr_static(obj, attr_name)
        if isinstance(member, (staticmethod, classmethod)) or (
            inspect.isfunction(member) and not isinstance(obj, ModuleType)
        ):
            member = getattr(obj, attr_name)  # bind, so `self` is not an argument
    except Exception:
        return None
    return member if inspect.isroutine(member) else None


def _marker(member: Callable[..., Any]) -> dict[str, Any] | None:
    try:
        opts = getattr(member, PROJECT + "_impl", None)  # where pluggy's marker keeps them
    except Exception:
        return None
    return opts if isinstance(opts, dict) else None


def _argnames(func: Callable[..., Any]) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The arguments pluggy will pass, and those it will not because they have defaults."""
    try:
        params = inspect.signature(func).parameters.values()
    except (TypeError, ValueError):
        return (), ()
    named = [
        p
        for p in params
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY) and p.name != "self"
    ]
    return (
        tuple(p.name for p in named if p.default is p.empty),
        tuple(p.name for p in named if p.default is not p.empty),
    )


def build_plugin_manager(
    kind: ExtensionType, report: HookReport, name: str
) -> pluggy.PluginManager:
    """A plugin manager holding ``kind``'s specs and the hooks ``report`` found.

    Only those functions are registered (in a namespace of their own), so
    pluggy never touches the plugin's other attributes.  Raises what pluggy
    raises for a hook it refuses (a wrapper that is not a generator, say).
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(spec_class(kind))
    pm.register(SimpleNamespace(**report.functions), name=name)
    pm.check_pending()
    return pm
