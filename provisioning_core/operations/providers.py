"""What is known about a provider before any server call: credentials, defaults, description.

:func:`auth_problems` is the core's own check of ``[providers.<name>.auth]``,
run before the plugin's ``validate_config``: the seed's ``auth.method``
selects which credentials are needed, and the provider's ``required_auth``
(from ``provider_info``) and ``[authentication] required_fields`` (from its
metadata.toml) name fields every call needs.  :func:`describe` is what
``prov provider info`` shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import attrs

from provisioning_core.convert import unstructure
from provisioning_core.errors import ProvisioningError
from provisioning_core.models import (
    AUTH_METHODS,
    ConnectionResult,
    ExtensionManifest,
    ExtensionType,
    ProviderAuth,
    ProviderInfo,
    ValidationReport,
)

if TYPE_CHECKING:
    from provisioning_core.operations.engine import Engine, Provider

__all__ = ["auth_problems", "default_plan", "default_zone", "describe", "test_connection"]

_AUTH_FIELDS = frozenset(a.name for a in attrs.fields(ProviderAuth)) - {"method"}


def auth_problems(
    name: str,
    auth: ProviderAuth,
    *,
    info: ProviderInfo | None,
    manifest: ExtensionManifest | None,
) -> list[str]:
    """Each credential ``auth`` lacks, as "message @ $.providers.<name>.auth.<field>"."""
    where = f"$.providers.{name}.auth"
    problems: list[str] = []
    methods = list(manifest.auth_methods) if manifest else []
    if auth.method is not None and methods and auth.method not in methods:
        problems.append(
            f"auth.method {auth.method!r} is not one provider {name!r} supports "
            f"(it supports {', '.join(methods)}) @ {where}.method"
        )
    needed: dict[str, str] = {}
    if auth.method in AUTH_METHODS:
        for field in AUTH_METHODS[auth.method]:
            needed.setdefault(field, f"auth.method {auth.method!r} needs auth.{field}")
    for field in [
        *(info.required_auth if info else []),
        *(manifest.required_auth if manifest else []),
    ]:
        needed.setdefault(field, f"provider {name!r} requires auth.{field}")
    for field, why in needed.items():
        if field not in _AUTH_FIELDS:
            problems.append(
                f"provider {name!r} requires auth.{field}, which is not a credential field "
                f"(there are: {', '.join(sorted(_AUTH_FIELDS))}) @ {where}"
            )
        elif getattr(auth, field) in (None, ""):
            problems.append(f"{why}, which is not set @ {where}.{field}")
    return problems


def default_zone(p: Provider, offered: Sequence[str]) -> str | None:
    """The zone to use when neither the command nor ``defaults.zone`` names one.

    The provider's own default (``provider_info().default_zone``, else its
    metadata's ``[regions] default``), else its only zone.
    """
    return _default_zone(p.info, p.extension.discovered.manifest, offered)


def _default_zone(
    info: ProviderInfo | None, manifest: ExtensionManifest | None, offered: Sequence[str]
) -> str | None:
    if info is not None and info.default_zone:
        return info.default_zone
    if manifest is not None and manifest.default_region:
        return manifest.default_region
    return offered[0] if len(offered) == 1 else None


def default_plan(p: Provider, offered: Sequence[str]) -> str | None:
    """The plan to use when neither the command nor ``defaults.plan`` names one."""
    if p.info is not None and p.info.default_plan:
        return p.info.default_plan
    return offered[0] if len(offered) == 1 else None


def describe(engine: Engine, name: str) -> dict[str, Any]:
    """Provider ``name`` as ``prov provider info`` shows it.

    Its ``provider_info`` (or what discovery knows), the hooks it implements
    and lacks, its authentication (methods, required fields, which are set,
    never their values), regions and default zone, and the features and
    defaults in effect.  Unlike a command, it does not stop at settings that
    are incomplete or invalid: ``problems`` lists them (what is missing is
    what a user comes here to find out).
    """
    ext = engine.extension(ExtensionType.PROVIDER, name)
    settings = engine.config.provider_settings(name)
    found = ext.discovered
    manifest = found.manifest
    info = engine.provider_info(ext)
    auth = settings.auth
    problems = auth_problems(name, auth, info=info, manifest=manifest)
    if not problems and ext.implements("validate_config"):
        try:
            report: ValidationReport = ext.call("validate_config", settings=settings)
        except ProvisioningError as exc:
            problems.append(exc.message)
        else:
            problems += report.errors
    return {
        "name": name,
        "version": found.version,
        "origin": found.origin,
        "description": (info.description if info else "") or found.description,
        "interface": info.interface if info else None,
        "supported_operations": sorted(ext.implemented),
        "unsupported_operations": ext.unsupported,
        "supported_os": list(info.supported_os) if info else [],
        "regions": list(info.regions)
        if info and info.regions
        else list(manifest.regions if manifest else []),
        "default_zone": _default_zone(info, manifest, []),
        "default_plan": info.default_plan if info else None,
        "authentication": {
            "method": auth.method,
            # what the provider declares (metadata.toml); without it, not known
            "methods": list(manifest.auth_methods) if manifest else [],
            "required": sorted(
                {
                    *(info.required_auth if info else []),
                    *(manifest.required_auth if manifest else []),
                }
            ),
            "set": sorted(f for f in _AUTH_FIELDS if getattr(auth, f) not in (None, "")),
        },
        "capabilities": dict(manifest.capabilities) if manifest else {},
        "features": unstructure(settings.features),
        "defaults": unstructure(settings.defaults),
        "api": unstructure(settings.api),
        "problems": problems,
    }


def test_connection(engine: Engine, name: str) -> ConnectionResult:
    """Ask provider ``name`` whether its API answers with the settings in effect."""
    p = engine.provider(name)
    result: ConnectionResult = p.call("test_connection")
    return result
