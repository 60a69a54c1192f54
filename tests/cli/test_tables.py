"""Tables as a person sees them: in a real pseudo-terminal at 80 columns, piped, wide,
without headers, and with ASCII rules where box drawing cannot be shown."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import sys

from tests.cli.conftest import FAST, process_env

CREATE = ("server", "create", "web", "-p", "recording", "--plan", "small", "--zone", "test-1")


def _in_a_terminal(site, *args: str, columns: int = 80, env: dict[str, str] | None = None) -> str:
    """What ``prov ARGS`` writes to a terminal ``columns`` wide (stdout and stderr)."""
    leader, follower = pty.openpty()
    extra = {"COLUMNS": str(columns), "LINES": "50", "TERM": "xterm", **(env or {})}
    proc = subprocess.Popen(
        [sys.executable, "-m", "provisioning_core", *args],
        env=process_env(site, extra),
        stdin=follower,
        stdout=follower,
        stderr=follower,
        close_fds=True,
    )
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 30)
        if not ready:
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(30)
    os.close(leader)
    text = b"".join(chunks).decode()
    return re.sub(r"\x1b\[[0-9;]*m", "", text).replace("\r\n", "\n")  # colours off


def test_a_table_fits_80_columns_without_splitting_a_token(prov, installed, workspace):
    workspace(FAST)
    assert prov(*CREATE, "--count", "3", "--tag", "team=platform-engineering").exit_code == 0
    shown = _in_a_terminal(installed, "server", "list", "-o", "table")
    lines = [line for line in shown.splitlines() if line.strip()]
    assert all(len(line) <= 80 for line in lines), shown
    assert "…" not in shown  # no token was cut: the last columns made room instead
    assert all(f"web-{n}" in shown for n in (1, 2, 3))
    assert re.search(r"rec-[0-9a-f]{6}\b", shown)  # ids whole
    # it says which columns it left out, and how to see them
    assert "(not shown: ip_addresses, note; -o wide shows every column)" in shown
    wide = _in_a_terminal(installed, "server", "list", "-o", "wide")
    assert "NOTE" in wide
    assert len(re.findall(r"127\.0\.0\.\d+\b", wide)) == 3, wide  # every column, whole
    assert "not shown" not in wide


def test_timestamps_headers_padding_and_ascii(prov, installed, workspace):
    workspace(FAST)
    assert prov(*CREATE).exit_code == 0
    shown = _in_a_terminal(installed, "operations", "list", "-o", "table", columns=80)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", shown), shown  # one line, to the second
    assert "+00:00" not in shown
    headless = prov("operations", "list", "-o", "table", "--no-headers")
    assert "ACTION" not in headless.stdout
    assert "server.create" in headless.stdout
    piped = prov("operations", "list", "-o", "table")
    assert all(line == line.rstrip() for line in piped.stdout.splitlines())
    plain = _in_a_terminal(installed, "operations", "list", "-o", "table", env={"TERM": "dumb"})
    assert "─" not in plain
    assert "--" in plain
    c_locale = _in_a_terminal(installed, "operations", "list", "-o", "table", env={"LC_ALL": "C"})
    assert "─" not in c_locale
