"""Fixtures: a PROV_HOME and workspace per test, ``prov`` in process, a mirror of
fake upstream releases, and local servers to deploy the cluster on.

Every sandbox process is reaped when a test ends, whatever it did.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import buildkit_fakes
import containerd_fakes
import pytest
import registry_fakes
from click.testing import CliRunner
from provisioning_core.cli import main
from provisioning_core.testing import ArtifactMirror, isolate, reap_sandboxes

from provisioning_cluster_buildkit.plugin import VERSIONS

ARCH = "amd64"  # the fakes are built for the machine's sandboxes


@attrs.frozen
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        return json.loads(self.stdout)

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


@pytest.fixture(autouse=True)
def prov_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = isolate(tmp_path, monkeypatch)
    yield home
    reap_sandboxes(home)


@pytest.fixture
def prov() -> Callable[..., Run]:
    """``prov(*args)``: the CLI's real entry point, in process."""

    def run(*args: str) -> Run:
        runner = CliRunner()
        with runner.isolation() as (out, err, _):
            try:
                main(list(args))
            except SystemExit as exc:
                code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
            else:  # pragma: no cover - main always exits
                code = 0
            return Run(code, out.getvalue().decode(), err.getvalue().decode())

    return run


@pytest.fixture(scope="session")
def tarballs() -> dict[str, dict[str, bytes]]:
    """Every fake release asset of every version the cluster names, per repository."""
    found: dict[str, dict[str, bytes]] = {}
    for parts in VERSIONS.values():
        c, b, r = parts["containerd"], parts["buildkit"], parts["registry"]
        found.setdefault(f"{containerd_fakes.REPO}@{c}", containerd_fakes.assets(c, ARCH))
        found.setdefault(
            f"{buildkit_fakes.REPO}@{b}",
            {buildkit_fakes.asset_name(b, ARCH): buildkit_fakes.release(b)},
        )
        found.setdefault(f"{registry_fakes.REPO}@{r}", registry_fakes.assets(r, ARCH))
    return found


@pytest.fixture
def mirror(tarballs: dict[str, dict[str, bytes]]) -> Iterator[ArtifactMirror]:
    with ArtifactMirror() as served:
        for key, assets in tarballs.items():
            repository, version = key.split("@")
            served.add_release(repository, f"v{version}", assets)
        yield served


def buildkit_pins(tarballs: dict[str, dict[str, bytes]]) -> dict[str, str]:
    """BuildKit publishes no checksums: the digests to pin, per version."""
    pins = {}
    for key, assets in tarballs.items():
        repository, version = key.split("@")
        if repository == buildkit_fakes.REPO:
            (data,) = assets.values()
            pins[version] = hashlib.sha256(data).hexdigest()
    return pins


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + " }"
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(value)


@pytest.fixture
def workspace(mirror: ArtifactMirror, tarballs: dict[str, dict[str, bytes]]) -> Callable[..., Path]:
    """``workspace(cluster={...}, buildkit={...})`` writes provisioning.toml: the taskservs
    pointed at the mirror, quick waits, and ``[clusters.ci]``."""

    def write(cluster: dict[str, Any] | None = None, **taskservs: dict[str, Any]) -> Path:
        common = {
            "api_url": mirror.api_url,
            "download_url": mirror.download_url,
            "health_interval": 0.2,
            "health_retries": 50,
        }
        tables = {
            "containerd": {**common},
            "buildkit": {**common, "sha256": buildkit_pins(tarballs)},
            "registry": {**common},
        }
        text = "[operations]\nwait_interval = 0.2\nwait_timeout = 60\n"
        text += '\n[providers.local.defaults]\nplan = "small"\nzone = "local"\n'
        for name, table in tables.items():
            table.update(taskservs.get(name, {}))
            text += f"\n[taskservs.{name}]\n" + "".join(
                f"{json.dumps(k)} = {_toml(v)}\n" for k, v in table.items()
            )
        ci = {"type": "buildkit", "servers": ["build-1", "build-2"], **(cluster or {})}
        text += "\n[clusters.ci]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in ci.items())
        path = Path.cwd() / "provisioning.toml"
        path.write_text(text, encoding="utf-8")
        return path

    return write


@pytest.fixture
def servers(prov: Callable[..., Run], workspace: Callable[..., Path]) -> list[str]:
    """Two local servers, build-1 and build-2, running."""
    workspace()
    created = prov("server", "create", "build", "--count", "2", "-p", "local", "--wait")
    assert created.exit_code == 0, created.output
    return ["build-1", "build-2"]
