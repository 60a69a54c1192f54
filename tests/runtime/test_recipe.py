"""ReleaseRecipe: a release-tarball taskserv installed from a local mirror into a sandbox.

The taskserv is ``greeter``: a small Python HTTP server shipped as a release
tarball (``bin/greeter`` and ``bin/greetctl``), configured from a template in
a package written for each test, run by the sandbox's supervisor and checked
over HTTP.
"""

from __future__ import annotations

import hashlib
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import attrs
import pytest

from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.interface import inspect_hooks
from provisioning_core.models import ExtensionType, HealthCheck, Server, SshAccess
from provisioning_core.runtime import (
    Directory,
    Host,
    ReleaseHooks,
    ReleaseRecipe,
    ReleaseSettings,
    Step,
    parse_release_settings,
)
from provisioning_core.secret import Secret
from provisioning_core.testing import ArtifactMirror, sha256sums, tarball

from .conftest import free_port, sandbox_pids

REPO = "example/greeter"
GREETER = """#!__PYTHON__
import http.server, os, sys
VERSION = "__VERSION__"
if sys.argv[1:2] == ["--version"]:
    print("greeter", VERSION)
    sys.exit(0)
config = dict(line.split(" = ", 1) for line in open(sys.argv[1]).read().splitlines() if " = " in line)
os.makedirs(config["data"], exist_ok=True)
open(os.path.join(config["data"], "greeted"), "a").write(VERSION + "\\n")

class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{config['greeting']} from greeter {VERSION}".encode()
        self.send_response(200 if self.path == "/health" else 404)
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass

http.server.HTTPServer(("127.0.0.1", int(config["port"])), Handler).serve_forever()
"""


def release(version: str) -> dict[str, bytes]:
    """greeter's release assets for amd64 and arm64, with a checksum file."""
    script = GREETER.replace("__PYTHON__", sys.executable).replace("__VERSION__", version)
    files = {"bin/greeter": script, "bin/greetctl": "#!/bin/sh\necho greetctl\n"}
    assets = {
        f"greeter-{version}-linux-{arch}.tar.gz": tarball(files) for arch in ("amd64", "arm64")
    }
    return {**assets, f"greeter-{version}-checksums.txt": sha256sums(assets)}


@attrs.frozen
class GreeterSettings(ReleaseSettings):
    repository: str = REPO
    asset: str = "greeter-{version}-linux-{arch}.tar.gz"
    checksums: str = "greeter-{version}-checksums.txt"
    install_dir: str = "/opt/greeter"
    config_dir: str = "/etc/greeter"
    data_dir: str = "/var/lib/greeter"
    state_dir: str = "/run/greeter"
    port: int = 8080
    greeting: str = "hello"
    mode: str = "plain"
    verbose: bool = False


KINDS = {
    "state_dir": "path",
    "port": "port",
    "greeting": "str",
    "mode": ("plain", "fancy"),
    "verbose": "bool",
}


def make_recipe(package: str) -> ReleaseRecipe[GreeterSettings]:
    def context(host: Host, s: GreeterSettings, version: str) -> dict[str, Any]:
        return {"port": s.port, "greeting": s.greeting, "data": host.path(s.data_dir), "v": version}

    def command(host: Host, s: GreeterSettings, version: str) -> list[str]:
        binary = host.path(f"{recipe.version_dir(s, version)}/bin/greeter")
        return [binary, host.path(recipe.config_path(s))]

    def health(host: Host, s: GreeterSettings, version: str) -> HealthCheck:
        return HealthCheck(type="http", endpoint="/health", port=s.port, interval=0.1, retries=50)

    def dirs(s: GreeterSettings) -> list[Step]:
        return [Directory(s.data_dir, 0o750), Directory(s.state_dir)]

    recipe = ReleaseRecipe(
        name="greeter",
        settings=GreeterSettings,
        kinds=KINDS,
        package=package,
        config="greeter.conf",
        context=context,
        command=command,
        health=health,
        health_address=lambda host, s: "127.0.0.1",
        description="a greeter",
        restart="on-failure",
        dirs=dirs,
        leftovers=lambda s: [s.state_dir],
    )
    return recipe


@pytest.fixture
def recipe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> ReleaseRecipe[GreeterSettings]:
    """The recipe, its template in a package of its own (a plugin's package, in real life)."""
    package = f"greeter_{uuid.uuid4().hex}"
    where = tmp_path / "site" / package
    (where / "templates").mkdir(parents=True)
    (where / "__init__.py").write_text("")
    (where / "templates/greeter.conf.j2").write_text(
        "# greeter {{ v }}\nport = {{ port }}\ngreeting = {{ greeting }}\ndata = {{ data }}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    return make_recipe(package)


@pytest.fixture
def mirror() -> Any:
    with ArtifactMirror() as m:
        m.add_release(REPO, "v1.0.0", release("1.0.0"))
        m.add_release(REPO, "v1.1.0", release("1.1.0"))
        m.add_release(REPO, "v2.0.0-rc.1", release("2.0.0-rc.1"), prerelease=True)
        yield m


@pytest.fixture
def settings(recipe: ReleaseRecipe[GreeterSettings], mirror: ArtifactMirror) -> GreeterSettings:
    raw = {"api_url": mirror.api_url, "download_url": mirror.download_url, "port": free_port()}
    return recipe.parse(raw)


def greet(s: GreeterSettings) -> str:
    with urllib.request.urlopen(f"http://127.0.0.1:{s.port}/health", timeout=5) as response:
        return response.read().decode()


def snapshot(root: Path) -> dict[str, str]:
    found = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            found[str(path)] = f"link {path.readlink()}"
        elif path.is_file():
            found[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
        else:
            found[str(path)] = "dir"
    return found


# --- settings -------------------------------------------------------------------------------


def test_settings_defaults_kinds_and_every_problem_at_once(recipe):
    assert recipe.parse({}) == GreeterSettings()
    assert recipe.parse(None) == GreeterSettings()
    parsed = recipe.parse({"token": "s3cret", "sha256": {"1.0.0": "ab" * 32}, "mode": "fancy"})
    assert isinstance(parsed.token, Secret)
    assert "s3cret" not in repr(parsed)
    assert parsed.mode == "fancy"
    with pytest.raises(ConfigError) as caught:
        recipe.parse(
            {
                "data_dir": "var/lib",
                "port": 70000,
                "mode": "loud",
                "api_url": "ftp://x",
                "sha256": 5,
                "health_retries": True,
                "health_interval": 0,
                "verbose": 1,
                "asset": "",
                "checksums": "",
                "colour": "blue",
            }
        )
    error = caught.value
    assert "invalid settings for taskserv greeter" in str(error)
    assert "[taskservs.greeter]" in error.hint
    assert sorted(error.problems) == sorted(
        [
            "expected an absolute path, got 'var/lib' @ taskservs.greeter.data_dir",
            "invalid port 70000: expected 1-65535 @ taskservs.greeter.port",
            "invalid mode 'loud': expected one of plain, fancy @ taskservs.greeter.mode",
            "expected an http(s) URL, got 'ftp://x' @ taskservs.greeter.api_url",
            (
                "expected a sha256 digest or a table of version = digest, got int "
                "@ taskservs.greeter.sha256"
            ),
            "expected a number, got bool @ taskservs.greeter.health_retries",
            "expected a number above 0, got 0 @ taskservs.greeter.health_interval",
            "expected true or false, got int @ taskservs.greeter.verbose",
            "expected a non-empty string @ taskservs.greeter.asset",
            next(p for p in error.problems if p.startswith("unknown setting")),
        ]
    )
    unknown = next(p for p in error.problems if p.startswith("unknown setting"))
    assert unknown.endswith("@ taskservs.greeter.colour")
    assert "install_dir" in unknown
    assert "greeting" in unknown


def test_settings_without_the_plugins_kinds_refuse_its_keys():
    with pytest.raises(ConfigError) as caught:
        parse_release_settings({"port": 1}, GreeterSettings, name="greeter")
    (problem,) = caught.value.problems
    assert problem.startswith("unknown setting")
    assert problem.endswith("@ taskservs.greeter.port")


def test_info_comes_from_the_default_settings(recipe):
    check = HealthCheck(type="http", endpoint="/health", port=8080)
    info = recipe.info("0.3.0", description="greets", health_check=check, ports=[8080])
    assert (info.name, info.version, info.description) == ("greeter", "0.3.0", "greets")
    assert info.source.repository == REPO
    assert info.source.url == f"https://github.com/{REPO}"
    assert (info.install.path, info.install.config_dir) == ("/usr/local/bin", "/etc/greeter")
    assert (info.service.name, info.service.ports, info.service.restart) == (
        "greeter",
        [8080],
        "on-failure",
    )
    assert info.dependencies == []
    assert info.health_check is check


# --- the operations on a sandbox ------------------------------------------------------------


def test_install_check_mode_then_for_real_then_again(recipe, settings, local_host, sandbox, mirror):
    before = snapshot(sandbox)
    planned = recipe.install(local_host, settings, None, check=True)
    assert planned.changed
    assert planned.message == "would install greeter 1.1.0"  # the latest stable release
    assert "would create /etc/greeter/greeter.conf" in planned.actions
    assert snapshot(sandbox) == before
    assert not [p for p in mirror.requests if p.endswith(".tar.gz")]

    done = recipe.install(local_host, settings, None, check=False)
    assert done.message == "installed greeter 1.1.0"
    assert greet(settings) == "hello from greeter 1.1.0"
    assert (sandbox / "usr/local/bin/greetctl").readlink() == sandbox / (
        "opt/greeter/1.1.0/bin/greetctl"
    )
    assert (sandbox / "etc/greeter/.prov-version").read_text() == "1.1.0\n"
    assert "greeting = hello" in (sandbox / "etc/greeter/greeter.conf").read_text()
    assert (sandbox / "run/greeter").is_dir()
    assert recipe.current_version(local_host, settings) == "1.1.0"
    definition = local_host.services.installed("greeter")
    assert definition.restart == "on-failure"
    assert definition.exec[0] == f"{sandbox}/opt/greeter/1.1.0/bin/greeter"

    status = recipe.status(local_host, settings)
    assert (status.installed, status.running, status.healthy, status.version) == (
        True,
        True,
        True,
        "1.1.0",
    )
    again = recipe.install(local_host, settings, "v1.1.0", check=False)
    assert (again.changed, again.message) == (False, "greeter 1.1.0 is already installed")


def test_upgrade_configure_restart_and_updates(recipe, settings, local_host, sandbox):
    recipe.install(local_host, settings, "1.0.0", check=False)
    update = recipe.check_updates(local_host, settings)
    assert (update.current, update.latest, update.update_available) == ("1.0.0", "1.1.0", True)
    assert [v.version for v in recipe.available_versions(settings)] == ["1.1.0", "1.0.0"]

    result = recipe.upgrade(local_host, settings, "1.1.0", check=False)
    assert result.message == "upgraded greeter 1.0.0 -> 1.1.0"
    assert "remove /opt/greeter/1.0.0" in result.actions
    assert not (sandbox / "opt/greeter/1.0.0").exists()
    assert greet(settings) == "hello from greeter 1.1.0"
    assert recipe.check_updates(local_host, settings).message == "up to date"
    assert not recipe.upgrade(local_host, settings, "1.1.0", check=False).changed

    louder = attrs.evolve(settings, greeting="HELLO")
    planned = recipe.configure(local_host, louder, check=True)
    assert planned.message == "would reconfigure greeter"
    assert planned.actions[0] == "would update /etc/greeter/greeter.conf"
    assert "+greeting = HELLO" in planned.details["changes"][0]["diff"].split("\n")
    assert greet(settings) == "hello from greeter 1.1.0"
    assert recipe.configure(local_host, louder, check=False).changed
    assert greet(louder) == "HELLO from greeter 1.1.0"  # restarted on the new config
    unchanged = recipe.configure(local_host, louder, check=False)
    assert unchanged.message == "the configuration of greeter is already as wanted"

    pid = local_host.services.status("greeter").pid
    assert recipe.restart_service(local_host, louder, check=False).message == "restarted greeter"
    assert local_host.services.status("greeter").pid != pid
    assert greet(louder) == "HELLO from greeter 1.1.0"


def test_uninstall_keeping_the_data_and_not(recipe, settings, local_host, sandbox):
    recipe.install(local_host, settings, "1.0.0", check=False)
    greeted = sandbox / "var/lib/greeter/greeted"
    assert greeted.is_file()
    before = snapshot(sandbox)
    assert recipe.uninstall(local_host, settings, keep_data=False, check=True).changed
    assert snapshot(sandbox) == before

    kept = recipe.uninstall(local_host, settings, keep_data=True, check=False)
    assert kept.message == "uninstalled greeter, keeping its data in /var/lib/greeter"
    assert greeted.is_file()
    for gone in ("opt/greeter", "etc/greeter", "run/greeter", "usr/local/bin/greeter"):
        assert not (sandbox / gone).exists(), gone
    assert local_host.services.installed("greeter") is None
    assert not sandbox_pids(sandbox)
    assert recipe.status(local_host, settings).installed is False
    assert recipe.uninstall(local_host, settings, keep_data=True, check=False).message == (
        "greeter is not installed"
    )

    recipe.install(local_host, settings, "1.0.0", check=False)
    assert recipe.uninstall(local_host, settings, keep_data=False, check=False).changed
    assert not (sandbox / "var/lib/greeter").exists()


def test_what_is_not_installed_cannot_be_configured(recipe, settings, local_host):
    for operation in (
        lambda: recipe.configure(local_host, settings, check=False),
        lambda: recipe.restart_service(local_host, settings, check=False),
        lambda: recipe.upgrade(local_host, settings, "1.1.0", check=False),
    ):
        with pytest.raises(ProvisioningError) as caught:
            operation()
        assert "it is not installed there (no /etc/greeter/.prov-version)" in str(caught.value)
        assert "prov taskserv install greeter" in caught.value.hint
    assert recipe.check_updates(local_host, settings).message == "not installed"


def test_an_unhealthy_service_fails_the_install_and_says_where_its_log_is(
    recipe, settings, local_host, sandbox
):
    blocker = free_port()
    sick = attrs.evolve(settings, health_retries=2, health_interval=0.1)
    recipe_sick = attrs.evolve(
        recipe,
        health=lambda host, s, v: HealthCheck(
            type="http", endpoint="/health", port=blocker, interval=0.1, retries=2
        ),
    )
    with pytest.raises(ProvisioningError) as caught:
        recipe_sick.install(local_host, sick, "1.0.0", check=False)
    assert "greeter 1.0.0 was installed on sandbox-local but is not healthy" in str(caught.value)
    assert f"{sandbox}/var/log/greeter.log on this machine" in caught.value.hint


def test_a_missing_pin_names_the_setting(recipe, settings, local_host, mirror):
    assets = {f"greeter-0.9.0-linux-{arch}.tar.gz": b"x" for arch in ("amd64", "arm64")}
    mirror.add_release(REPO, "v0.9.0", assets)
    bare = attrs.evolve(settings, checksums="")
    with pytest.raises(ProvisioningError) as caught:
        recipe.install(local_host, bare, "0.9.0", check=False)
    assert '[taskservs.greeter] sha256 = "<sha256>"' in caught.value.hint


# --- the hooks ------------------------------------------------------------------------------


def test_the_hooks_pass_the_cores_checks_and_work_over_ssh(recipe, mirror, ssh_server, sandbox):
    hooks = ReleaseHooks(recipe)
    report = inspect_hooks(ExtensionType.TASKSERV, hooks)
    assert report.errors == []
    assert set(report.implemented) == {
        "install",
        "uninstall",
        "configure",
        "status",
        "restart",
        "upgrade",
        "get_current_version",
        "get_available_versions",
        "check_updates",
    }
    assert report.implemented["install"] == ("server", "ssh", "version", "settings", "check")
    assert "greeter" in repr(hooks)

    server = Server(id="sbx-1", hostname="sbx", status="running", ip_addresses=["127.0.0.1"])
    ssh = ssh_server.access()
    table = {"api_url": mirror.api_url, "download_url": mirror.download_url, "port": free_port()}
    nowhere = SshAccess(host="127.0.0.1", port=1)
    with pytest.raises(ConfigError):  # bad settings fail before any connection
        hooks.install(server=server, ssh=nowhere, version=None, settings={"port": 0}, check=False)
    assert hooks.get_current_version(server, ssh, table) is None
    installed = hooks.install(server=server, ssh=ssh, version="1.0.0", settings=table, check=False)
    assert installed.message == "installed greeter 1.0.0"
    assert hooks.get_current_version(server, ssh, table) == "1.0.0"
    assert hooks.status(server, ssh, table).healthy is True
    assert hooks.check_updates(server, ssh, table).latest == "1.1.0"
    assert [v.version for v in hooks.get_available_versions(table)] == ["1.1.0", "1.0.0"]
    assert hooks.upgrade(server=server, ssh=ssh, version="1.1.0", settings=table, check=False)
    assert not hooks.configure(server=server, ssh=ssh, settings=table, check=False).changed
    restart = hooks.restart(server=server, ssh=ssh, settings=table, check=True)
    assert restart.message == "would restart greeter"
    gone = hooks.uninstall(
        server=server, ssh=ssh, keep_data=False, force=False, settings=table, check=False
    )
    assert gone.changed
    assert not (sandbox / "var/lib/greeter").exists()
