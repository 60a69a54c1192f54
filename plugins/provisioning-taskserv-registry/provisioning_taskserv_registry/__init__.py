"""The CNCF distribution registry as a provisioning taskserv, from its GitHub release.

The hooks are in :mod:`provisioning_taskserv_registry.plugin` (entry point
``registry`` in ``provisioning.taskservs``); what they do on a server is in
:mod:`provisioning_taskserv_registry.deploy`.
"""

from __future__ import annotations

__version__ = "0.1.0"
