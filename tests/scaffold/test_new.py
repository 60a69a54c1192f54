"""``prov plugin new``: names, targets, the files generated, and that they are a valid plugin."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet

from provisioning_core import __version__, scaffold
from provisioning_core.compat import check_core_compatibility
from provisioning_core.scaffold import core_requirement, new_plugin
from provisioning_core.testing import run_prov

from .conftest import KINDS, expected_files, generate

if sys.version_info >= (3, 11):
    import tomllib
else:
    import tomli as tomllib


@pytest.fixture
def where(tmp_path) -> Path:
    """An empty directory to generate into (tmp_path also holds PROV_HOME and the workspace)."""
    path = tmp_path / "plugins"
    path.mkdir()
    return path


@pytest.mark.parametrize(
    "name",
    ["Demo", "1demo", "demo_x", "demo-", "de--mo", "-demo", "demo x", "dé", "demo/x", "demo\n", ""],
)
def test_bad_names_exit_2_with_the_rule_and_write_nothing(where, name):
    # `--`: "-demo" is a name here, not an option
    result = run_prov("plugin", "new", "--dir", str(where), "--", "provider", name)
    assert result.exit_code == 2, result.output
    assert f"invalid plugin name {name!r}" in result.stderr
    assert "a lowercase letter first, then lowercase letters, digits and '-'" in result.stderr
    assert "for example: prov plugin new provider my-provider" in result.stderr
    assert list(where.iterdir()) == []


def test_an_existing_directory_exits_2_naming_it_and_is_left_alone(where):
    target = where / "provisioning-taskserv-web"
    target.mkdir()
    (target / "mine.txt").write_text("keep me")
    result = run_prov("plugin", "new", "taskserv", "web", "--dir", str(where))
    assert result.exit_code == 2, result.output
    assert f"{target} already exists; nothing was written" in result.stderr
    assert "choose another NAME or --dir" in result.stderr
    assert [p.name for p in where.iterdir()] == [target.name]
    assert [p.name for p in target.iterdir()] == ["mine.txt"]


def test_an_unknown_kind_is_a_usage_error(where):
    result = run_prov("plugin", "new", "widget", "web", "--dir", str(where))
    assert result.exit_code == 2
    assert "'widget' is not one of" in result.stderr
    assert list(where.iterdir()) == []


def test_a_dir_that_is_a_file_exits_2(where):
    not_a_dir = where / "file"
    not_a_dir.write_text("")
    result = run_prov("plugin", "new", "cluster", "web", "--dir", str(not_a_dir))
    assert result.exit_code == 2, result.output
    assert f"{not_a_dir} is not a directory; nothing was written" in result.stderr
    assert [p.name for p in where.iterdir()] == ["file"]


def test_a_failure_while_writing_leaves_no_half_directory(where, monkeypatch):
    render = scaffold._render

    def with_a_file_the_file_system_refuses(kind, context):
        # a name longer than any file system allows: a real OSError mid-write
        return {**render(kind, context), "z" * 300: "never written"}

    monkeypatch.setattr(scaffold, "_render", with_a_file_the_file_system_refuses)
    with pytest.raises(OSError, match="too long"):
        new_plugin("provider", "half", where)
    assert list(where.iterdir()) == []


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_generates_the_listed_files(tmp_path, kind):
    result = run_prov(
        "plugin", "new", kind, "my-thing", "--dir", str(tmp_path / "new"), "-o", "json"
    )
    assert result.exit_code == 0, result.output
    data = result.json()
    path = tmp_path / "new" / f"provisioning-{kind}-my-thing"
    assert data == {
        "path": str(path),
        "files": sorted(data["files"]),
        "kind": kind,
        "name": "my-thing",
    }
    assert set(data["files"]) == expected_files(kind, "my-thing")
    on_disk = {p.relative_to(path).as_posix() for p in path.rglob("*") if p.is_file()}
    assert on_disk == expected_files(kind, "my-thing")
    # no staging directory left next to it
    assert [p.name for p in (tmp_path / "new").iterdir()] == [path.name]
    backend = (path / f"provisioning_{kind}_my_thing" / "backend.py").read_text()
    assert "REPLACE: call your real API here" in backend


def test_the_table_output_says_what_to_do_next(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = run_prov("plugin", "new", "provider", "cloud-9", "-o", "table")
    assert result.exit_code == 0, result.output
    path = tmp_path / "provisioning-provider-cloud-9"
    assert path.is_dir()  # the current directory is the default
    for line in (
        f"created provider plugin 'cloud-9' in {path}:",
        "  provisioning_provider_cloud_9/backend.py",
        "pip install -e '.[test]'",
        "prov plugin list --kind provider",
        "prov plugin validate cloud-9 --kind provider",
        "  pytest",
        "prov plugin test cloud-9",
        "replace the tiny backend in provisioning_provider_cloud_9/backend.py",
    ):
        assert line in result.stdout


@pytest.mark.parametrize("kind", KINDS)
def test_pyproject_declares_the_entry_points_and_the_core_range(tmp_path, kind):
    path = generate(kind, "web-2", tmp_path)
    data = tomllib.loads((path / "pyproject.toml").read_text())
    project = data["project"]
    module = f"provisioning_{kind}_web_2"
    assert project["name"] == f"provisioning-{kind}-web-2"
    assert project["version"] == "0.1.0"
    assert project["description"]
    assert project["readme"] == "README.md"
    assert project["requires-python"] == ">=3.10"
    assert project["dependencies"] == [f"provisioning-core{core_requirement()}"]
    assert "pytest>=7.4" in project["optional-dependencies"]["test"]
    assert project["entry-points"][f"provisioning.{kind}s"] == {"web-2": f"{module}.plugin"}
    assert project["entry-points"]["provisioning.conformance"] == {
        "web-2": f"{module}.testing:Conformance"
    }
    assert data["build-system"]["build-backend"] == "hatchling.build"
    assert data["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [module]
    pytest_options = data["tool"]["pytest"]["ini_options"]
    assert pytest_options["filterwarnings"][0] == "error"  # the rest: tests/test_warnings_policy.py
    assert pytest_options["testpaths"] == ["tests"]
    changelog = (path / "CHANGELOG.md").read_text()
    assert "## [0.1.0] - Unreleased" in changelog


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("0.1.0", ">=0.1,<0.2"),
        ("0.7.3", ">=0.7,<0.8"),
        ("1.4.2", ">=1.4,<1.5"),
        ("2", ">=2.0,<2.1"),
        # a pre-release core must fit the range it writes
        ("0.2.0.dev1", ">=0.2.0.dev1,<0.3"),
        ("1.0.0rc1", ">=1.0.0rc1,<1.1"),
    ],
)
def test_the_core_range_is_the_running_minor_version(version, expected):
    assert core_requirement(version) == expected
    assert SpecifierSet(expected).contains(version, prereleases=True)


def test_the_running_core_fits_the_range_it_writes():
    assert check_core_compatibility(core_requirement()) is None
    assert core_requirement() == core_requirement(__version__)


@pytest.mark.parametrize("kind", KINDS)
def test_validate_by_path_passes_strictly(tmp_path, monkeypatch, kind):
    path = generate(kind, "checked", tmp_path)
    monkeypatch.setenv("PROV_STRICT", "1")
    result = run_prov("plugin", "validate", str(path), "--kind", kind, "-o", "json")
    assert result.exit_code == 0, result.output
    report = result.json()
    assert report["valid"], report
    assert set(report["checks"].values()) == {"passed"}, report
    assert report["warnings"] == []


def _tool(name: str) -> list[str] | None:
    """How to run ruff or mypy here, or None when it is not installed."""
    try:
        __import__(name)
    except ImportError:
        found = shutil.which(name)
        return [found] if found else None
    return [sys.executable, "-m", name]


@pytest.fixture(scope="module")
def all_kinds(tmp_path_factory) -> list[Path]:
    where = tmp_path_factory.mktemp("generated")
    return [new_plugin(kind, "lint-me", where) for kind in KINDS]


@pytest.mark.parametrize("kind", KINDS)
def test_generated_code_is_ruff_clean(all_kinds, kind):
    ruff = _tool("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed")
    path = next(p for p in all_kinds if p.name.startswith(f"provisioning-{kind}-"))
    # the plain `ruff check` an author runs: default rules, the project's own pyproject
    result = subprocess.run(
        [*ruff, "check", "--no-cache", "."], cwd=path, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_generated_code_is_mypy_strict_clean(all_kinds, tmp_path):
    mypy = _tool("mypy")
    if mypy is None:
        pytest.skip("mypy is not installed")
    # the three packages in one run (what their [tool.mypy] says: strict, 3.10)
    packages = [str(p / p.name.replace("-", "_")) for p in all_kinds]
    result = subprocess.run(
        [
            *mypy,
            "--strict",
            "--python-version",
            "3.10",
            "--cache-dir",
            str(tmp_path / "mypy"),
            *packages,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues found in 12 source files" in result.stdout


def test_the_name_of_an_installed_plugin_is_refused(installed, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = run_prov("plugin", "new", "provider", "recording", "--dir", str(out))
    assert result.exit_code == 2
    assert "an installed provider is already called 'recording' (prov-fixture-recording)" in (
        result.stderr
    )
    assert list(out.iterdir()) == []
    # the same name as another kind is fine: kinds are separate namespaces
    assert run_prov("plugin", "new", "taskserv", "recording", "--dir", str(out)).exit_code == 0
