"""The orchestrator's HTTP API, served by ``prov serve`` (the ``[api]`` extra).

An edge like ``cli/``: each endpoint parses a request, calls ``operations/``
and renders the answer, in the loading guide's envelope ``{"success": true,
"data": ...}`` or ``{"success": false, "error": "...", "hint": "..."}``.
Mutating operations are jobs (:mod:`provisioning_core.operations.jobs`):
accepted with 202 at once, run in the background, read back at
``/api/v1/operations/{id}``.

FastAPI is imported only here, so the CLI's start-up never pays for it.
"""

from __future__ import annotations

from provisioning_core.api.app import API_PREFIX, create_app

__all__ = ["API_PREFIX", "create_app"]
