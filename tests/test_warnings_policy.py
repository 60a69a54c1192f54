"""One warnings policy for every test suite we ship: the core's, each reference
plugin's and the one ``prov plugin new`` generates.

Our own warnings fail the tests ("error" first); each third-party deprecation
is ignored narrowly (message, category and module), never by a blanket rule.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pytest

from provisioning_core.scaffold import new_plugin

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PLUGINS = sorted(p for p in (REPO / "plugins").iterdir() if (p / "pyproject.toml").is_file())


def _policy(pyproject: Path) -> list[str]:
    data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    policy: list[str] = data["tool"]["pytest"]["ini_options"]["filterwarnings"]
    return policy


CORE = _policy(REPO / "pyproject.toml")


def test_the_core_fails_on_warnings_and_filters_each_third_party_one_narrowly():
    assert CORE[0] == "error"
    for entry in CORE[1:]:
        action, message, category, module = entry.split(":")[:4]
        assert action == "ignore"
        assert message, f"{entry!r} names no message"
        assert "." in category, f"{entry!r} names no category of its own"
        assert category not in ("Warning", "DeprecationWarning", "UserWarning")
        assert module, f"{entry!r} names no module"
        assert not module.startswith(("provisioning", "tests")), "our own warnings are errors"


@pytest.mark.parametrize("plugin", PLUGINS, ids=[p.name for p in PLUGINS])
def test_each_reference_plugin_follows_the_policy(plugin):
    assert _policy(plugin / "pyproject.toml") == CORE


@pytest.mark.parametrize("kind", ["provider", "taskserv", "cluster"])
def test_a_generated_plugin_follows_the_policy(kind, tmp_path):
    assert _policy(new_plugin(kind, "fresh", tmp_path) / "pyproject.toml") == CORE


def test_the_filter_ignores_exactly_the_deprecation_it_names():
    """Applied as pytest applies it: asyncssh's DSA deprecation is ignored, the same
    warning raised by our code is an error, another of asyncssh's is an error."""
    from _pytest.config import apply_warning_filters  # as pytest applies them
    from cryptography.utils import CryptographyDeprecationWarning

    def outcome(message: str, module: str) -> str:
        with warnings.catch_warnings():
            apply_warning_filters(CORE, [])
            try:
                warnings.warn_explicit(
                    message, CryptographyDeprecationWarning, f"{module}.py", 1, module=module
                )
            except CryptographyDeprecationWarning:
                return "error"
            return "ignored"

    dsa = "DSA is deprecated and support will be removed in a future release."
    assert outcome(dsa, "asyncssh.crypto.misc") == "ignored"
    assert outcome(dsa, "asyncssh.crypto.dsa") == "ignored"
    assert outcome(dsa, "provisioning_core.runtime.transport") == "error"
    assert outcome("Blowfish is deprecated", "asyncssh.crypto.cipher") == "error"
