"""The example taskserv of provisioning: ``my-service``, a small HTTP service.

The hooks are in :mod:`.plugin`; the service's binaries (one per version) and
its config template ship in this package (``payload/``, ``templates/``).
"""

__version__ = "0.1.0"
