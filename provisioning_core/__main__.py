"""``python -m provisioning_core`` is ``prov``."""

from provisioning_core.cli import run

run()
