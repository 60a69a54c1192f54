"""Faults: processes killed at random points, concurrent writers, a corrupt inventory, a
migration's backup, a full disk. Real `prov` processes, the recording fixture plugins
installed as real distributions, a real SQLite inventory."""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from provisioning_core.state import _MIGRATIONS, SCHEMA_VERSION, Inventory
from tests.cli.conftest import FAST, popen_prov, process_env

KILLS = 60  # runs; at least 50 of them are killed mid-way
SEED = 20261208


def _run(site: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 120):
    return subprocess.run(
        [sys.executable, "-m", "provisioning_core", *args],
        env=process_env(site, env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _integrity(path: Path) -> str:
    with sqlite3.connect(path) as db:
        return str(db.execute("PRAGMA integrity_check").fetchone()[0])


def _clusters(count: int) -> str:
    return "".join(
        f'\n[clusters.c{i}]\ntype = "reccluster"\nversion = "1.0.0"\n'
        f"[clusters.c{i}.settings]\ncreate_latency = 2.0\n"
        for i in range(count)
    )


def test_sigkill_at_random_points_loses_nothing_and_leaves_no_orphan(
    installed, prov_home, prov, figures
) -> None:
    rng = random.Random(SEED)
    Path("provisioning.toml").write_text(
        FAST
        # each command lasts 2 s and more after start-up: its hook, then its wait
        + "\n[providers.recording.options]\ncreate_latency = 2.0\nboot_polls = 20\n"
        + "\n[taskservs.rectask]\ncreate_latency = 2.0\nboot_polls = 20\n"
        + _clusters(KILLS),
        encoding="utf-8",
    )
    base = _run(installed, "server", "create", "base", "-p", "recording", "--plan", "small",
                "--zone", "test-1", "--wait")  # fmt: skip
    assert base.returncode == 0, base.stderr
    commands = {
        "server create": lambda i: ("server", "create", f"web-{i}", "-p", "recording",
                                    "--plan", "small", "--zone", "test-1", "--wait"),
        "taskserv install": lambda i: ("taskserv", "install", "rectask", "-s", "base", "--wait"),
        "cluster create": lambda i: ("cluster", "create", f"c{i}", "--wait"),
    }  # fmt: skip
    killed: dict[str, int] = dict.fromkeys(commands, 0)
    finished = interrupted_reported = 0
    ended: list[str] = []  # why a run ended before its kill, should one
    for i in range(KILLS):
        name = rng.choice(sorted(commands))
        proc = popen_prov(installed, *commands[name](i))
        time.sleep(rng.uniform(0.2, 1.4))  # somewhere in start-up, the hook, the wait
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            killed[name] += 1
            proc.communicate(timeout=30)
        else:
            finished += 1
            _out, err = proc.communicate(timeout=30)
            ended.append(f"run {i} ({name}) ended first, exit {proc.returncode}: {err[-300:]}")
        # the next run: whatever was cut short is reported, and nothing is half-written
        listed = prov("server", "list", "-o", "json")
        assert listed.exit_code == 0, listed.stderr
        assert "Traceback" not in listed.stderr
        if "an earlier run was interrupted" in listed.stderr:
            interrupted_reported += 1
        rows = listed.json()["servers"]
        orphans = [r for r in rows if r["where"] == "provider"]
        assert orphans == [], f"run {i} ({name}): servers the inventory lost: {orphans}"
        trail = prov("operations", "list", "--limit", "1000", "-o", "json")
        assert trail.exit_code == 0, trail.stderr
        statuses = {op["status"] for op in trail.json()["operations"]}
        assert "running" not in statuses, f"run {i}: a dead run's operation still 'running'"
        assert _integrity(prov_home / "inventory.sqlite3") == "ok"
        # the documented clean-up: acknowledge what was reported
        assert prov("operations", "ack", "--all").exit_code == 0
    with Inventory() as inventory:
        ops = inventory.operations(limit=10_000)
    assert all(op.status in {"succeeded", "failed", "interrupted"} for op in ops)
    total = sum(killed.values())
    assert total >= 50, f"too few runs were killed mid-way: {killed}; {ended}"
    figures(
        f"faults: {total} runs SIGKILLed at random points (seed {SEED}): "
        + ", ".join(f"{n} {k}" for k, n in killed.items())
        + f"; {finished} finished first; {interrupted_reported} next runs reported an "
        "interrupted operation; 0 orphaned servers, 0 operations left running, inventory "
        f"integrity ok after each ({len(ops)} operations recorded)"
    )


def test_eight_concurrent_writers_wait_or_fail_clearly(installed, prov_home, figures) -> None:
    Path("provisioning.toml").write_text(
        FAST + "lock_timeout = 60\n[providers.recording.options]\ncreate_latency = 0.2\n",
        encoding="utf-8",
    )
    procs = [
        popen_prov(
            installed,
            "server",
            "create",
            f"w-{i}",
            "-p",
            "recording",
            "--plan",
            "small",
            "--zone",
            "test-1",
            "-o",
            "json",
        )
        for i in range(8)
    ]
    results = [(p.wait(120), *p.communicate()) for p in procs]
    for code, _out, err in results:
        assert code == 0, err
        assert "database is locked" not in err
        assert "Traceback" not in err
    listed = _run(installed, "server", "list", "-o", "json")
    names = sorted(r["hostname"] for r in json.loads(listed.stdout)["servers"])
    assert names == [f"w-{i}" for i in range(8)]
    # with a lock timeout too short to wait, the losers say who holds the lock, and no record
    # of the winners is lost
    Path("provisioning.toml").write_text(
        FAST + "lock_timeout = 0.1\n[providers.recording.options]\ncreate_latency = 0.5\n",
        encoding="utf-8",
    )
    procs = [
        popen_prov(
            installed,
            "server",
            "create",
            f"x-{i}",
            "-p",
            "recording",
            "--plan",
            "small",
            "--zone",
            "test-1",
        )
        for i in range(8)
    ]
    second = [(p.wait(120), *p.communicate()) for p in procs]
    won = [i for i, (code, _o, _e) in enumerate(second) if code == 0]
    lost = [(code, err) for code, _o, err in second if code != 0]
    assert won, "at least one writer got the lock"
    for code, err in lost:
        assert code == 1, err
        assert "is locked by pid" in err, err
        assert "Traceback" not in err
        assert "database is locked" not in err
    listed = _run(installed, "server", "list", "-o", "json")
    names = {r["hostname"] for r in json.loads(listed.stdout)["servers"]}
    assert {f"x-{i}" for i in won} <= names
    figures(
        f"faults: 8 concurrent writers with lock_timeout 60: 8 waited and succeeded; with "
        f"lock_timeout 0.1: {len(won)} succeeded, {len(lost)} refused naming the lock's "
        "holder, 0 'database is locked', 0 records lost"
    )


def test_a_corrupt_inventory_is_refused_and_never_overwritten(
    installed, prov_home, figures
) -> None:
    Path("provisioning.toml").write_text(FAST, encoding="utf-8")
    made = _run(installed, "server", "create", "web", "-p", "recording", "--plan", "small",
                "--zone", "test-1")  # fmt: skip
    assert made.returncode == 0, made.stderr
    path = prov_home / "inventory.sqlite3"
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    good = path.read_bytes()
    damaged = {
        "garbage": b"this is not a database at all\n" * 100,
        "truncated": good[: len(good) // 2],
        "empty header": b"\0" * len(good),
    }
    for kind, content in damaged.items():
        path.write_bytes(content)
        for sidecar in (Path(f"{path}-wal"), Path(f"{path}-shm")):
            sidecar.unlink(missing_ok=True)
        for args in (("server", "list"), ("operations", "list"),
                     ("server", "create", "x", "-p", "recording", "--plan", "small",
                      "--zone", "test-1")):  # fmt: skip
            result = _run(installed, *args)
            assert result.returncode != 0, (kind, args, result.stdout)
            assert "Traceback" not in result.stderr, (kind, result.stderr)
            assert f"inventory {path}" in result.stderr, (kind, result.stderr)
            assert "hint:" in result.stderr
            assert path.read_bytes() == content, f"{kind}: the file was written"
    figures(
        f"faults: {len(damaged)} damaged inventories ({', '.join(damaged)}) x 3 commands: "
        "each refused naming the file with a hint, none written"
    )


def test_the_inventory_is_backed_up_before_a_migration(prov_home, figures) -> None:
    path = prov_home / "inventory.sqlite3"
    path.parent.mkdir(parents=True)
    older = SCHEMA_VERSION - 1
    with sqlite3.connect(path) as db:  # an inventory as the previous release left it
        for statements in _MIGRATIONS[:older]:
            for statement in statements:
                db.execute(statement)
        db.execute(f"PRAGMA user_version = {older}")
    with Inventory() as inventory:
        inventory.upsert_server("recording", "web-1", server_id="rec-1", status="running")
    # downgrade the schema's number only, as if the file were older: the next open migrates
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {older}")
        if SCHEMA_VERSION == 3:
            db.execute("DROP TABLE jobs")
    with Inventory() as inventory:
        assert [s.hostname for s in inventory.servers()] == ["web-1"]
        backup = inventory.backup_path(older)
    assert backup.exists()
    with sqlite3.connect(backup) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == older
        assert db.execute("SELECT hostname FROM servers").fetchall() == [("web-1",)]
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    figures(f"faults: migration {older} -> {SCHEMA_VERSION} left a backup at schema {older}")


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return mounted.returncode == 0


def test_a_full_disk_is_a_clear_error_and_the_inventory_survives(
    installed, tmp_path, monkeypatch, figures
) -> None:
    disk = tmp_path / "small-disk"
    if not _mount_tmpfs(disk, "4m"):
        pytest.skip("needs root and mount(8) to make a small tmpfs for PROV_HOME")
    try:
        home = disk / "home"
        monkeypatch.setenv("PROV_HOME", str(home))
        Path("provisioning.toml").write_text(FAST, encoding="utf-8")
        made = _run(installed, "server", "create", "web", "-p", "recording", "--plan", "small",
                    "--zone", "test-1")  # fmt: skip
        assert made.returncode == 0, made.stderr
        filler = disk / "filler"
        # unbuffered: each write meets the full disk itself, and closing has nothing to flush
        with filler.open("wb", buffering=0) as out:  # every byte left
            try:
                while True:
                    out.write(b"\0" * 65536)
                    out.flush()
            except OSError:
                pass
        tries = 0
        for args in (("server", "create", "web-2", "-p", "recording", "--plan", "small",
                      "--zone", "test-1"), ("server", "list"), ("operations", "list")):  # fmt: skip
            tries += 1
            result = _run(installed, *args)
            assert "Traceback" not in result.stderr, result.stderr
            if result.returncode != 0:
                assert "inventory" in result.stderr or "space" in result.stderr, result.stderr
        filler.unlink()
        listed = _run(installed, "server", "list", "-o", "json")
        assert listed.returncode == 0, listed.stderr
        assert "web" in [r["hostname"] for r in json.loads(listed.stdout)["servers"]]
        assert _integrity(home / "inventory.sqlite3") == "ok"
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
    figures(f"faults: a full 4 MiB tmpfs under PROV_HOME: {tries} commands, 0 tracebacks, "
            "the inventory intact")  # fmt: skip
