"""The ``upcloud`` provider of provisioning: servers on UpCloud, through ``upcloud-api``.

The hooks live in :mod:`provisioning_provider_upcloud.plugin`, the SDK
adapter in :mod:`provisioning_provider_upcloud.client`, and a local UpCloud
API 1.3 emulator for tests in :mod:`provisioning_provider_upcloud.emulator`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
