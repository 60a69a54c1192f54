"""Every test gets an isolated PROV_HOME and workspace, an ArtifactMirror playing
GitHub, and a lab creating local sandboxes, reaped whatever the test did
(provisioning_core.testing.lab; the local provider plugin must be installed)."""

from __future__ import annotations

from provisioning_core.testing import lab_fixtures

prov_home, mirror, lab = lab_fixtures()
