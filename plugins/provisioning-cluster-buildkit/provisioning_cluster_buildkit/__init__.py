"""The ``buildkit`` cluster: containerd -> buildkit on every builder, and a registry."""
