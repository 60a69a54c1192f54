"""The public API is explicit, complete, documented, and typed."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import provisioning_core
from provisioning_core import HOOKS, ExtensionType, runtime
from provisioning_core.hookspecs import spec_class

DOCS = Path(__file__).parent.parent / "docs"


def test_every_public_name_resolves():
    lazy = set(provisioning_core._WHERE)
    assert lazy == set(provisioning_core.__all__) - {"__version__"}
    for name in provisioning_core.__all__:
        assert getattr(provisioning_core, name) is not None
    assert sorted(dir(provisioning_core)) == sorted(provisioning_core.__all__)


RUNTIME = {
    n for n, m in provisioning_core._WHERE.items() if m.startswith("provisioning_core.runtime")
}


def test_every_public_name_is_documented():
    text = (DOCS / "api.md").read_text()
    missing = [
        n for n in provisioning_core.__all__ if n not in RUNTIME and f"### `{n}`" not in text
    ]
    assert not missing, f"docs/api.md lacks: {missing}"
    # the runtime's names are documented with the runtime
    runtime_text = (DOCS / "runtime.md").read_text()
    missing = [n for n in runtime.__all__ if f"### `{n}`" not in runtime_text]
    assert not missing, f"docs/runtime.md lacks: {missing}"


def test_runtime_names_are_the_same_objects_everywhere():
    assert {
        "connect", "Host", "File", "Directory", "Absent", "Download", "Extract", "Command",
        "Service", "ServiceDefinition", "apply_steps", "check_health", "github_versions",
        "CommandError",
    } == RUNTIME  # fmt: skip
    for name in RUNTIME:
        assert getattr(provisioning_core, name) is getattr(runtime, name), name
    assert set(runtime._WHERE) == set(runtime.__all__)
    assert sorted(dir(runtime)) == sorted(runtime.__all__)
    with pytest.raises(AttributeError, match="has no attribute 'nothing'"):
        _ = runtime.nothing


def test_importing_the_api_imports_no_heavy_dependency():
    """asyncssh and Jinja2 load only when a connection opens or a template renders."""
    code = (
        "import sys, provisioning_core, provisioning_core.runtime\n"
        "from provisioning_core import Host, File, Service, apply_steps, connect\n"
        "from provisioning_core.runtime import check_health, github_versions, LocalTransport\n"
        "heavy = {'asyncssh', 'jinja2', 'urllib.request', 'cryptography'}\n"
        "print(sorted(heavy & set(sys.modules)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def _kind_sections() -> dict[str, str]:
    """docs/hooks.md's "## Provider hooks" ... sections, by kind name."""
    text = (DOCS / "hooks.md").read_text()
    pattern = r"^## (\w+) hooks\n(.*?)(?=^## |\Z)"
    return dict(re.findall(pattern, text, re.MULTILINE | re.DOTALL))


def test_every_hook_is_documented_under_its_kind():
    sections = _kind_sections()
    for kind, hooks in HOOKS.items():
        section = sections.get(kind.value.capitalize(), "")
        missing = [h for h in hooks if f"### `{h}`" not in section]
        assert not missing, f"docs/hooks.md '## {kind.value.capitalize()} hooks' lacks {missing}"


def test_hook_table_matches_the_specs_and_the_seed():
    for kind in ExtensionType:
        spec = spec_class(kind)
        declared = {n for n in vars(spec) if not n.startswith("_")}
        assert declared == set(HOOKS[kind]), kind
        for name in declared:
            assert getattr(spec, name).__doc__, f"{kind}.{name} has no docstring"
    required = {n for n, d in HOOKS[ExtensionType.PROVIDER].items() if d.required}
    assert required == {
        "create_server",
        "delete_server",
        "list_servers",
        "get_server_info",
        "start_server",
        "stop_server",
        "reboot_server",
    }


def test_hookimpl_is_the_projects_marker():
    assert provisioning_core.hookimpl.project_name == "provisioning"


def test_typed_package():
    assert (Path(provisioning_core.__file__).parent / "py.typed").is_file()


def test_every_hook_argument_is_documented():
    from provisioning_core.interface import spec_argnames

    sections = _kind_sections()
    for kind in ExtensionType:
        kind_text = sections[kind.value.capitalize()]
        for hook, args in spec_argnames(kind).items():
            section = kind_text.split(f"### `{hook}`", 1)[1].split("\n### ", 1)[0]
            missing = [a for a in args if f"`{a}`" not in section]
            assert not missing, f"docs/hooks.md: {hook} does not describe {missing}"
