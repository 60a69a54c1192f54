"""Fixtures: an isolated PROV_HOME, workspace and AWS configuration per test, a running
AwsLab (moto's server behind its front), and the ``aws`` provider loaded through the core."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from aws_support import AwsHooks
from provisioning_core import ExtensionManager, ProviderSettings

from provisioning_provider_aws.lab import ACCESS_KEY, SECRET_KEY, AwsLab
from provisioning_provider_aws.testing import lab_settings, lab_workspace

CLEARED = ("PROV_LOAD_PLUGINS", "PROV_DISABLE_PLUGINS", "PROV_STRICT", "PROV_CONFIG", "PROV_DEBUG")


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PROV_HOME, config dir and working directory, and never
    the machine's AWS credentials, profiles or instance role."""
    home = tmp_path / "prov-home"
    monkeypatch.setenv("PROV_HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    for name in [*CLEARED, *(n for n in os.environ if n.startswith("AWS_"))]:
        monkeypatch.delenv(name, raising=False)
    for name in [n for n in os.environ if n.startswith("PROV_") and "__" in n]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role lookup
    return home


@pytest.fixture
def lab() -> Iterator[AwsLab]:
    with AwsLab() as running:
        yield running


@pytest.fixture
def settings(lab: AwsLab) -> ProviderSettings:
    return lab_settings(lab)


@pytest.fixture
def aws(settings: ProviderSettings) -> AwsHooks:
    """The provider as the core loads it (entry point), called with ``settings``."""
    return AwsHooks(ExtensionManager().load_extension("provider", "aws"), settings)


@pytest.fixture
def workspace(lab: AwsLab, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A provisioning.toml in the cwd whose [providers.aws] points at the lab, with the
    keys from ${AWS_ACCESS_KEY_ID} and ${AWS_SECRET_ACCESS_KEY}."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
    path = Path.cwd() / "provisioning.toml"
    path.write_text(lab_workspace(lab.base_url), encoding="utf-8")
    return path
