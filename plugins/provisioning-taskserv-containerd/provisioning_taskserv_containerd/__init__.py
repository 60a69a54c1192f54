"""containerd as a provisioning taskserv: installed from its GitHub release, run as a service.

The hooks are in :mod:`provisioning_taskserv_containerd.plugin` (entry point
``containerd`` in ``provisioning.taskservs``); what they do on a server is in
:mod:`provisioning_taskserv_containerd.deploy`.
"""

from __future__ import annotations

__version__ = "0.1.0"
