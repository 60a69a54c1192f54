"""provisioning: provision infrastructure through pip-installable plugins.

This module is the public API (**contract**): plugins import only the names in
``__all__``.  Everything else is an implementation detail.

Names are imported on first use (PEP 562), so ``import provisioning_core``
and the CLI start fast; ``from provisioning_core import X`` works as usual.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from provisioning_core._version import __version__

if TYPE_CHECKING:
    from provisioning_core.convert import structure, unstructure
    from provisioning_core.discovery import Discovery
    from provisioning_core.errors import (
        CapabilityNotSupported,
        ConfigError,
        DataValidationError,
        DependencyCycleError,
        ExtensionError,
        ExtensionLoadError,
        ExtensionNotFound,
        ExtensionNotLoaded,
        IncompatibleExtension,
        MissingDependency,
        PluginCallError,
        PluginReportedFailure,
        ProvisioningError,
        ServerNotFound,
        TransientError,
    )
    from provisioning_core.extensions import (
        Extension,
        ExtensionManager,
        ExtensionMetrics,
        HookCall,
        Interceptor,
        LoadEvent,
    )
    from provisioning_core.graph import dependency_waves, reverse_waves
    from provisioning_core.hookspecs import HOOKS, HookDef, hookimpl
    from provisioning_core.models import (
        ClusterConfig,
        ClusterInfo,
        ClusterStatus,
        Component,
        ComponentStatus,
        ConnectionResult,
        DiscoveredExtension,
        ExtensionManifest,
        ExtensionMetadata,
        ExtensionType,
        FirewallRule,
        HealthCheck,
        OperationResult,
        Plan,
        Price,
        ProviderApi,
        ProviderAuth,
        ProviderDefaults,
        ProviderFeatures,
        ProviderInfo,
        ProviderSettings,
        Server,
        ServerConfig,
        ServerStatus,
        ServiceSpec,
        SshAccess,
        TaskservInfo,
        TaskservInstall,
        TaskservSource,
        TaskservStatus,
        TaskservVersion,
        UpdateInfo,
        ValidationReport,
        Zone,
    )
    from provisioning_core.paths import prov_home
    from provisioning_core.registry import (
        RegisteredExtension,
        list_registered_extensions,
        register_extension,
        unregister_extension,
    )
    from provisioning_core.runtime.health import check_health
    from provisioning_core.runtime.host import Host, connect
    from provisioning_core.runtime.releases import github_versions
    from provisioning_core.runtime.services import ServiceDefinition
    from provisioning_core.runtime.steps import (
        Absent,
        Command,
        Directory,
        Download,
        Extract,
        File,
        Service,
        apply_steps,
    )
    from provisioning_core.runtime.transport import CommandError
    from provisioning_core.secret import Secret
    from provisioning_core.validation import validate_extension

_WHERE: dict[str, str] = {
    "Absent": "provisioning_core.runtime.steps",
    "CapabilityNotSupported": "provisioning_core.errors",
    "ClusterConfig": "provisioning_core.models",
    "ClusterInfo": "provisioning_core.models",
    "ClusterStatus": "provisioning_core.models",
    "Command": "provisioning_core.runtime.steps",
    "CommandError": "provisioning_core.runtime.transport",
    "Component": "provisioning_core.models",
    "ComponentStatus": "provisioning_core.models",
    "ConfigError": "provisioning_core.errors",
    "ConnectionResult": "provisioning_core.models",
    "DataValidationError": "provisioning_core.errors",
    "DependencyCycleError": "provisioning_core.errors",
    "Directory": "provisioning_core.runtime.steps",
    "DiscoveredExtension": "provisioning_core.models",
    "Discovery": "provisioning_core.discovery",
    "Download": "provisioning_core.runtime.steps",
    "Extension": "provisioning_core.extensions",
    "ExtensionError": "provisioning_core.errors",
    "ExtensionLoadError": "provisioning_core.errors",
    "ExtensionManager": "provisioning_core.extensions",
    "ExtensionManifest": "provisioning_core.models",
    "ExtensionMetadata": "provisioning_core.models",
    "ExtensionMetrics": "provisioning_core.extensions",
    "ExtensionNotFound": "provisioning_core.errors",
    "ExtensionNotLoaded": "provisioning_core.errors",
    "ExtensionType": "provisioning_core.models",
    "Extract": "provisioning_core.runtime.steps",
    "File": "provisioning_core.runtime.steps",
    "FirewallRule": "provisioning_core.models",
    "HOOKS": "provisioning_core.hookspecs",
    "HealthCheck": "provisioning_core.models",
    "HookCall": "provisioning_core.extensions",
    "HookDef": "provisioning_core.hookspecs",
    "Host": "provisioning_core.runtime.host",
    "IncompatibleExtension": "provisioning_core.errors",
    "Interceptor": "provisioning_core.extensions",
    "LoadEvent": "provisioning_core.extensions",
    "MissingDependency": "provisioning_core.errors",
    "OperationResult": "provisioning_core.models",
    "Plan": "provisioning_core.models",
    "PluginCallError": "provisioning_core.errors",
    "PluginReportedFailure": "provisioning_core.errors",
    "Price": "provisioning_core.models",
    "ProviderApi": "provisioning_core.models",
    "ProviderAuth": "provisioning_core.models",
    "ProviderDefaults": "provisioning_core.models",
    "ProviderFeatures": "provisioning_core.models",
    "ProviderInfo": "provisioning_core.models",
    "ProviderSettings": "provisioning_core.models",
    "ProvisioningError": "provisioning_core.errors",
    "RegisteredExtension": "provisioning_core.registry",
    "Secret": "provisioning_core.secret",
    "Server": "provisioning_core.models",
    "ServerConfig": "provisioning_core.models",
    "ServerNotFound": "provisioning_core.errors",
    "ServerStatus": "provisioning_core.models",
    "Service": "provisioning_core.runtime.steps",
    "ServiceDefinition": "provisioning_core.runtime.services",
    "ServiceSpec": "provisioning_core.models",
    "SshAccess": "provisioning_core.models",
    "TaskservInfo": "provisioning_core.models",
    "TaskservInstall": "provisioning_core.models",
    "TaskservSource": "provisioning_core.models",
    "TaskservStatus": "provisioning_core.models",
    "TaskservVersion": "provisioning_core.models",
    "TransientError": "provisioning_core.errors",
    "UpdateInfo": "provisioning_core.models",
    "ValidationReport": "provisioning_core.models",
    "Zone": "provisioning_core.models",
    "apply_steps": "provisioning_core.runtime.steps",
    "check_health": "provisioning_core.runtime.health",
    "connect": "provisioning_core.runtime.host",
    "dependency_waves": "provisioning_core.graph",
    "github_versions": "provisioning_core.runtime.releases",
    "hookimpl": "provisioning_core.hookspecs",
    "list_registered_extensions": "provisioning_core.registry",
    "prov_home": "provisioning_core.paths",
    "register_extension": "provisioning_core.registry",
    "reverse_waves": "provisioning_core.graph",
    "structure": "provisioning_core.convert",
    "unregister_extension": "provisioning_core.registry",
    "unstructure": "provisioning_core.convert",
    "validate_extension": "provisioning_core.validation",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'provisioning_core' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "HOOKS",
    "Absent",
    "CapabilityNotSupported",
    "ClusterConfig",
    "ClusterInfo",
    "ClusterStatus",
    "Command",
    "CommandError",
    "Component",
    "ComponentStatus",
    "ConfigError",
    "ConnectionResult",
    "DataValidationError",
    "DependencyCycleError",
    "Directory",
    "DiscoveredExtension",
    "Discovery",
    "Download",
    "Extension",
    "ExtensionError",
    "ExtensionLoadError",
    "ExtensionManager",
    "ExtensionManifest",
    "ExtensionMetadata",
    "ExtensionMetrics",
    "ExtensionNotFound",
    "ExtensionNotLoaded",
    "ExtensionType",
    "Extract",
    "File",
    "FirewallRule",
    "HealthCheck",
    "HookCall",
    "HookDef",
    "Host",
    "IncompatibleExtension",
    "Interceptor",
    "LoadEvent",
    "MissingDependency",
    "OperationResult",
    "Plan",
    "PluginCallError",
    "PluginReportedFailure",
    "Price",
    "ProviderApi",
    "ProviderAuth",
    "ProviderDefaults",
    "ProviderFeatures",
    "ProviderInfo",
    "ProviderSettings",
    "ProvisioningError",
    "RegisteredExtension",
    "Secret",
    "Server",
    "ServerConfig",
    "ServerNotFound",
    "ServerStatus",
    "Service",
    "ServiceDefinition",
    "ServiceSpec",
    "SshAccess",
    "TaskservInfo",
    "TaskservInstall",
    "TaskservSource",
    "TaskservStatus",
    "TaskservVersion",
    "TransientError",
    "UpdateInfo",
    "ValidationReport",
    "Zone",
    "__version__",
    "apply_steps",
    "check_health",
    "connect",
    "dependency_waves",
    "github_versions",
    "hookimpl",
    "list_registered_extensions",
    "prov_home",
    "register_extension",
    "reverse_waves",
    "structure",
    "unregister_extension",
    "unstructure",
    "validate_extension",
]
