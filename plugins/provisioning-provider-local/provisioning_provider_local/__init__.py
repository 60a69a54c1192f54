"""The ``local`` provider of provisioning: servers that are sandboxes on this machine.

Each server is a directory with its own SSH endpoint, a detached asyncssh
daemon listening on a loopback address of its own (127.0.0.N).  The hooks
live in :mod:`provisioning_provider_local.plugin`; the daemon in
:mod:`provisioning_provider_local.daemon`.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
