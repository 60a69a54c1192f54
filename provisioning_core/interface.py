"""Checking an extension object against its kind's hooks, and registering it.

Shared by the loader (which refuses a bad plugin) and the validator (which
reports on it): both ask :func:`inspect_hooks` and so agree on what is wrong.
Every problem is found, not just the first, and each names the hook and the fix.
"""

from __future__ import annotations

import difflib
import inspect
from collections.abc import Callable
from types import ModuleType
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
    takes; ``errors`` stop loading; ``warnings`` do not (unless strict).
    """

    implemented: dict[str, tuple[str, ...]]
    errors: list[str]
    warnings: list[str]


def inspect_hooks(kind: ExtensionType, obj: object) -> HookReport:
    """Compare the hook implementations ``obj`` holds with ``kind``'s hooks."""
    marker_attr = PROJECT + "_impl"  # where pluggy's HookimplMarker stores its options
    specs = spec_argnames(kind)
    implemented: dict[str, tuple[str, ...]] = {}
    errors: list[str] = []
    warnings: list[str] = []
    for attr_name in dir(obj):
        if attr_name.startswith("__"):
            continue
        member = _member(obj, attr_name)
        opts = getattr(member, marker_attr, None)
        hook = (opts or {}).get("specname") or attr_name
        if opts is None:
            if attr_name in specs and callable(member):
                warnings.append(
                    f"{attr_name}() has the name of a hook but no @hookimpl, so it is ignored; "
                    "decorate it with provisioning_core.hookimpl"
                )
            continue
        if hook not in specs:
            close = difflib.get_close_matches(hook, list(specs), n=1)
            fix = (
                f"did you mean {close[0]!r}?"
                if close
                else f"see docs/hooks.md for the {kind.value} hooks"
            )
            errors.append(f"hook {hook!r} is not a {kind.value} hook; {fix}")
            continue
        args, defaulted = _argnames(member)
        if defaulted:
            errors.append(
                f"hook {hook!r} gives {', '.join(repr(a) for a in defaulted)} a default value; "
                "pluggy never passes arguments that have defaults, so the hook would always "
                "see the default: remove it"
            )
            continue
        unknown = [a for a in args if a not in specs[hook]]
        if unknown:
            errors.append(
                f"hook {hook!r} takes {', '.join(repr(a) for a in unknown)}, which its spec lacks; "
                f"it may take any of: {', '.join(specs[hook]) or '(no arguments)'}"
            )
            continue
        implemented[hook] = args
    for hook, definition in HOOKS[kind].items():
        if definition.required and hook not in implemented and not any(hook in e for e in errors):
            errors.append(f"required hook {hook!r} is not implemented")
    return HookReport(implemented, errors, warnings)


def _member(obj: object, attr_name: str) -> Any:
    # read statically so a property that raises is never run; bind functions
    # so that `self` is not taken for an argument
    member = inspect.getattr_static(obj, attr_name, None)
    if isinstance(member, (staticmethod, classmethod)) or (
        inspect.isfunction(member) and not isinstance(obj, ModuleType)
    ):
        return getattr(obj, attr_name)
    return member


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


def build_plugin_manager(kind: ExtensionType, obj: object, name: str) -> pluggy.PluginManager:
    """A plugin manager holding ``kind``'s specs and ``obj`` registered as ``name``.

    Call :func:`inspect_hooks` first: pluggy raises on the first problem only.
    """
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(spec_class(kind))
    pm.register(obj, name=name)
    pm.check_pending()
    return pm
