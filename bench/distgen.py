"""Fake site directories for the benchmarks: real ``*.dist-info`` directories, written directly.

A plugin distribution is what ``pip install`` leaves behind for a wheel: a
``<name>-<version>.dist-info`` directory (METADATA, entry_points.txt, RECORD,
WHEEL, INSTALLER, top_level.txt) next to the plugin's one-file module.
Unrelated distributions have METADATA, RECORD and, for every other one, a
``console_scripts`` entry point, as most of a real site-packages does.

Plugin ``i`` is a taskserv when ``i % 10 == 8``, a cluster when ``i % 10 == 9``
and a provider otherwise; its extension name is the kind's letter and four
digits (``p0123``, ``t0008``, ``c0009``); with ``providers_only`` every plugin
is a provider (the sites of ``prov`` in a fresh process, cli_cases.py).
Providers implement every required provider hook (create_server,
delete_server, list_servers, get_server_info, start_server, stop_server,
reboot_server), so ``prov server list --provider p0123`` really works:
``list_servers`` returns one server, ``p0123-x``.  ``get_server_info``
returns a prebuilt :class:`Server`, except for providers with ``i % 10 == 1``
(``p0001``, ``p0121``...) whose hook returns the same server as a plain dict,
for the core to structure.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

CORE_REQUIREMENT = "provisioning-core>=0.1"

_KINDS = {8: ("taskserv", "t"), 9: ("cluster", "c")}

_PROVIDER = '''\
"""Benchmark provider {name}: the required hooks and nothing else."""

from provisioning_core import Server, hookimpl

_SERVER = Server(id="x", hostname="{name}-x", status="running", plan="1xCPU-1GB", zone="fi-hel1")
_SERVER_DICT = {{
    "id": "x",
    "hostname": "{name}-x",
    "status": "running",
    "plan": "1xCPU-1GB",
    "zone": "fi-hel1",
}}


@hookimpl
def create_server(settings, config, check):
    return Server(id="" if check else "new", hostname=config.hostname, status="creating")


@hookimpl
def delete_server(settings, server_id):
    return None


@hookimpl
def list_servers(settings):
    return [_SERVER]


@hookimpl
def get_server_info(settings, server_id):
    return {result}


@hookimpl
def start_server(settings, server_id):
    return None


@hookimpl
def stop_server(settings, server_id):
    return None


@hookimpl
def reboot_server(settings, server_id):
    return None
'''

# the bench never calls taskserv or cluster hooks: they only have to exist
_TASKSERV = '''\
"""Benchmark taskserv {name}: the required hooks and nothing else."""

from provisioning_core import hookimpl


@hookimpl
def install(server, ssh, version, settings, check):
    return None


@hookimpl
def uninstall(server, ssh, keep_data, settings, check):
    return None


@hookimpl
def status(server, ssh, settings):
    return None
'''

_CLUSTER = '''\
"""Benchmark cluster {name}: the required hooks and nothing else."""

from provisioning_core import hookimpl


@hookimpl
def create(config, check):
    return None


@hookimpl
def delete(config, check):
    return None


@hookimpl
def status(config):
    return None
'''


def plugin_kind(i: int, *, providers_only: bool = False) -> tuple[str, str]:
    """(kind, extension name) of plugin number ``i``."""
    kind, letter = ("provider", "p") if providers_only else _KINDS.get(i % 10, ("provider", "p"))
    return kind, f"{letter}{i:04d}"


def _record_line(root: Path, path: Path) -> str:
    data = path.read_bytes()
    digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
    return f"{path.relative_to(root).as_posix()},sha256={digest},{len(data)}"


def _write_dist(
    site: Path,
    name: str,
    version: str,
    metadata: str,
    files: dict[str, str],
) -> None:
    """One installed distribution: ``files`` (relative to the site) plus its dist-info."""
    info = site / f"{name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    written = []
    for rel, text in files.items():
        path = site / rel
        path.write_text(text, encoding="utf-8")
        written.append(path)
    (info / "METADATA").write_text(metadata, encoding="utf-8")
    (info / "INSTALLER").write_text("pip\n", encoding="utf-8")
    (info / "WHEEL").write_text(
        "Wheel-Version: 1.0\nGenerator: bench\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        encoding="utf-8",
    )
    written += sorted(info.iterdir())
    lines = [_record_line(site, p) for p in written]
    lines.append(f"{info.name}/RECORD,,")
    (info / "RECORD").write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_plugin(
    site: Path, i: int, prefix: str, *, providers_only: bool = False
) -> tuple[str, str, str]:
    """Plugin distribution number ``i``; returns (kind, extension name, module name)."""
    kind, name = plugin_kind(i, providers_only=providers_only)
    module = f"{prefix}_{name}"
    dist = f"provisioning-{kind}-{name}-{prefix}"
    version = f"1.{i % 7}.{i % 3}"
    if kind == "provider":
        result = "_SERVER_DICT" if i % 10 == 1 else "_SERVER"
        code = _PROVIDER.format(name=name, result=result)
    else:
        code = (_TASKSERV if kind == "taskserv" else _CLUSTER).format(name=name)
    metadata = (
        "Metadata-Version: 2.3\n"
        f"Name: {dist}\n"
        f"Version: {version}\n"
        f"Summary: Benchmark {kind} {name}\n"
        "Author-email: Bench <bench@example.invalid>\n"
        "License: Apache-2.0\n"
        f"Project-URL: Repository, https://example.invalid/{dist}\n"
        "Requires-Python: >=3.10\n"
        f"Requires-Dist: {CORE_REQUIREMENT}\n"
        "Requires-Dist: attrs>=23.1\n"
        "Requires-Dist: pytest>=7; extra == 'test'\n"
        "Provides-Extra: test\n"
        "Description-Content-Type: text/markdown\n"
        "\n"
        f"# {dist}\n\nA {kind} generated for the benchmarks.\n"
    )
    entry_points = f"[provisioning.{kind}s]\n{name} = {module}\n"
    if i % 4 == 0:  # some plugins also ship a command, as real ones do
        entry_points += f"\n[console_scripts]\n{module} = {module}:main\n"
    info = f"{dist.replace('-', '_')}-{version}.dist-info"
    _write_dist(
        site,
        dist,
        version,
        metadata,
        {
            f"{module}.py": code,
            f"{info}/entry_points.txt": entry_points,
            f"{info}/top_level.txt": f"{module}\n",
        },
    )
    return kind, name, module


def write_unrelated(site: Path, i: int) -> None:
    """A distribution that is not a plugin, sometimes with a console script."""
    dist = f"unrelated-package-{i:03d}"
    module = dist.replace("-", "_")
    version = f"{i % 5}.{i % 11}.0"
    metadata = (
        "Metadata-Version: 2.1\n"
        f"Name: {dist}\n"
        f"Version: {version}\n"
        f"Summary: An unrelated package ({i})\n"
        "Requires-Python: >=3.8\n"
        "Requires-Dist: typing-extensions>=4\n"
        "\n"
        "Nothing to see here.\n"
    )
    info = f"{module}-{version}.dist-info"
    files = {f"{module}.py": "VALUE = 1\n", f"{info}/top_level.txt": f"{module}\n"}
    if i % 2 == 0:
        files[f"{info}/entry_points.txt"] = f"[console_scripts]\n{dist} = {module}:main\n"
    _write_dist(site, dist, version, metadata, files)


def make_site(
    site: Path, plugins: int, unrelated: int, prefix: str, *, providers_only: bool = False
) -> dict[str, tuple[str, str]]:
    """Fill ``site``; returns extension name -> (kind, module name) of each plugin.

    ``providers_only`` makes every plugin a provider (``p0000`` ... ``p0199``).
    """
    site.mkdir(parents=True, exist_ok=True)
    made = {}
    for i in range(plugins):
        kind, name, module = write_plugin(site, i, prefix, providers_only=providers_only)
        made[name] = (kind, module)
    for i in range(unrelated):
        write_unrelated(site, i)
    return made
