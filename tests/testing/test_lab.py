"""The lab's helpers that need no local provider: isolation, snapshots, reaping."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from provisioning_core.testing import isolate, reap_sandboxes, sandbox_processes, sandbox_tree

IGNORES_TERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)"


def start(root: Path, code: str = "import time; time.sleep(60)") -> subprocess.Popen[bytes]:
    env = {**os.environ, "PROV_SANDBOX_ROOT": str(root)}
    return subprocess.Popen([sys.executable, "-c", code], env=env)


def test_isolate_gives_a_home_and_a_workspace(tmp_path, monkeypatch):
    monkeypatch.setenv("PROV_STRICT", "1")
    where = tmp_path / "lab"  # the suite's own fixture already uses tmp_path/prov-home
    where.mkdir()
    home = isolate(where, monkeypatch)
    assert home == where / "prov-home"
    assert home.is_dir()
    assert os.environ["PROV_HOME"] == str(home)
    assert "PROV_STRICT" not in os.environ
    assert Path.cwd() == where / "work"


def test_reaping_kills_what_lives_under_the_directory_only(tmp_path):
    mine = [start(tmp_path / "home/servers/a"), start(tmp_path / "home/servers/b", IGNORES_TERM)]
    other = start(tmp_path / "elsewhere")
    try:
        deadline = time.monotonic() + 10
        while len(sandbox_processes(tmp_path / "home/servers/a")) < 1:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        assert {pid for pid, _ in sandbox_processes(tmp_path / "home/servers/a")} == {mine[0].pid}
        reaped = reap_sandboxes(tmp_path / "home", grace=0.5)
        assert sorted(reaped) == sorted(p.pid for p in mine)
        for proc in mine:
            assert proc.wait(5) != 0  # SIGTERM, or SIGKILL for the one ignoring it
        assert other.poll() is None
        assert reap_sandboxes(tmp_path / "home") == []
    finally:
        other.kill()
        other.wait()
        for proc in mine:
            proc.kill()
            proc.wait()


def test_the_tree_sees_links_modes_and_contents(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/app.conf").write_text("a\n")
    (tmp_path / "app").symlink_to("etc/app.conf")
    before = sandbox_tree(tmp_path)
    assert before["app"] == "link etc/app.conf"
    assert before["etc"].startswith("d")
    (tmp_path / "etc/app.conf").write_text("b\n")
    assert sandbox_tree(tmp_path) != before
