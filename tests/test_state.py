"""The inventory, against real SQLite files and real processes."""

from __future__ import annotations

import json
import os
import pickle
import re
import select
import socket
import sqlite3
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timezone
from pathlib import Path

import pytest

from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.models import ProviderAuth, ProviderSettings
from provisioning_core.secret import MASK, Secret
from provisioning_core.state import (
    SCHEMA_VERSION,
    Inventory,
    InventoryError,
    InventoryLocked,
)

Spawn = Callable[..., subprocess.Popen[str]]

# Each child prints one line once it is in position, then waits to be killed.
BEGIN_AND_WAIT = """
import sys, time
from pathlib import Path
from provisioning_core.state import Inventory
inventory = Inventory(Path(sys.argv[1]))
print(inventory.begin_operation("server.create", "web-1", provider="local"), flush=True)
time.sleep(600)
"""
LOCK_AND_WAIT = """
import sys, time
from pathlib import Path
from provisioning_core.state import Inventory
with Inventory(Path(sys.argv[1])).lock(sys.argv[2]):
    print("locked", flush=True)
    time.sleep(600)
"""
WRITE_FIFTY = """
import sys
from pathlib import Path
from provisioning_core.state import Inventory
with Inventory(Path(sys.argv[1])) as inventory:
    for i in range(50):
        name = f"{sys.argv[2]}-{i}"
        op = inventory.begin_operation("server.create", name, provider="local")
        inventory.upsert_server("local", name, server_id=name, status="running", operation_id=op)
        inventory.finish_operation(op, "succeeded")
"""


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "state" / "inventory.sqlite3"


@pytest.fixture
def inventory(path: Path) -> Iterator[Inventory]:
    with Inventory(path) as inventory:
        yield inventory


@pytest.fixture
def spawn() -> Iterator[Spawn]:
    """Start ``python -c code *args``; every child is killed at teardown."""
    children: list[subprocess.Popen[str]] = []

    def start(code: str, *args: object) -> subprocess.Popen[str]:
        child = subprocess.Popen(
            [sys.executable, "-c", code, *map(str, args)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        children.append(child)
        return child

    try:
        yield start
    finally:
        for child in children:
            child.kill()
            child.communicate()


def first_line(child: subprocess.Popen[str]) -> str:
    assert child.stdout is not None
    ready, _, _ = select.select([child.stdout], [], [], 60)
    assert ready, "child printed nothing within 60 s"
    line = child.stdout.readline().strip()
    if not line:
        _, err = child.communicate()
        pytest.fail(f"child exited {child.returncode} before it was ready:\n{err}")
    return line


def kill(child: subprocess.Popen[str]) -> None:
    child.kill()
    child.communicate()


# --- servers -----------------------------------------------------------------------------


def test_servers_are_recorded_found_updated_and_deleted(inventory: Inventory) -> None:
    created = inventory.upsert_server(
        "upcloud",
        "web-1",
        server_id="uuid-1",
        status="creating",
        plan="1xCPU-1GB",
        zone="fi-hel1",
        tags={"role": "web"},
    )
    assert created.server_id == "uuid-1"
    assert created.plan == "1xCPU-1GB"
    assert created.tags == {"role": "web"}
    assert created.ip_addresses == []
    assert not created.deleted
    assert created.created_at.tzinfo == timezone.utc
    inventory.upsert_server("local", "db-1", server_id="local-7", status="running")

    assert [s.server_id for s in inventory.find_servers("uuid-1")] == ["uuid-1"]
    assert [s.server_id for s in inventory.find_servers("web-1")] == ["uuid-1"]
    assert inventory.find_servers("web-1", provider="local") == []
    assert inventory.find_servers("nothing") == []
    assert [s.hostname for s in inventory.servers()] == ["db-1", "web-1"]
    assert [s.hostname for s in inventory.servers("upcloud")] == ["web-1"]

    inventory.set_status("upcloud", "uuid-1", "running", ip_addresses=["192.0.2.10"])
    updated = inventory.upsert_server("upcloud", "web-1", server_id="uuid-1", status="running")
    assert updated.ip_addresses == ["192.0.2.10"]  # left out, so kept
    assert (updated.plan, updated.zone, updated.tags) == ("1xCPU-1GB", "fi-hel1", {"role": "web"})
    assert updated.created_at == created.created_at
    assert updated.updated_at >= created.updated_at
    inventory.set_status("upcloud", "uuid-1", "stopped", ip_addresses=[])
    assert inventory.find_servers("uuid-1")[0].ip_addresses == []
    inventory.set_status("upcloud", "unknown-id", "running")  # not ours: ignored

    inventory.mark_deleted("upcloud", "uuid-1")
    assert inventory.find_servers("web-1") == []
    assert [s.hostname for s in inventory.servers()] == ["db-1"]
    (gone,) = [s for s in inventory.servers(include_deleted=True) if s.hostname == "web-1"]
    assert gone.deleted

    inventory.forget("upcloud", "uuid-1", "web-1")
    assert [s.hostname for s in inventory.servers(include_deleted=True)] == ["db-1"]


def test_the_same_server_id_is_one_record_per_provider(inventory: Inventory) -> None:
    inventory.upsert_server("upcloud", "web-1", server_id="id-1", status="creating")
    renamed = inventory.upsert_server("upcloud", "web-one", server_id="id-1", status="running")
    inventory.upsert_server("aws", "web-1", server_id="id-1", status="running")
    assert renamed.hostname == "web-one"
    assert [(s.provider, s.hostname) for s in inventory.servers()] == [
        ("aws", "web-1"),
        ("upcloud", "web-one"),
    ]
    assert len(inventory.find_servers("id-1")) == 2
    assert [s.provider for s in inventory.find_servers("id-1", provider="aws")] == ["aws"]


def test_an_in_flight_create_is_completed_not_duplicated(inventory: Inventory) -> None:
    op = inventory.begin_operation("server.create", "web-1", provider="upcloud")
    pending = inventory.upsert_server("upcloud", "web-1", status="creating", operation_id=op)
    assert pending.server_id is None
    assert [s.server_id for s in inventory.find_servers("web-1")] == [None]

    done = inventory.upsert_server(
        "upcloud",
        "web-1",
        server_id="uuid-9",
        status="running",
        ip_addresses=["192.0.2.9"],
        operation_id=op,
    )
    assert done.server_id == "uuid-9"
    assert done.operation_id == op
    assert done.created_at == pending.created_at
    assert len(inventory.servers()) == 1

    # another operation creating the same hostname is another server
    other = inventory.begin_operation("server.create", "web-1", provider="upcloud")
    inventory.upsert_server("upcloud", "web-1", status="creating", operation_id=other)
    assert sorted(str(s.server_id) for s in inventory.find_servers("web-1")) == ["None", "uuid-9"]

    inventory.forget("upcloud", None, "web-1")  # manual cleanup of the half-created one
    assert [s.server_id for s in inventory.servers()] == ["uuid-9"]


# --- operations --------------------------------------------------------------------------


def test_operations_are_an_audit_trail(inventory: Inventory) -> None:
    first = inventory.begin_operation(
        "server.create", "web-1", provider="upcloud", details={"plan": "small"}
    )
    inventory.update_operation(first, details={"server_id": "uuid-1"})
    inventory.finish_operation(first, "succeeded", details={"seconds": 12.5})
    second = inventory.begin_operation("server.delete", "web-2")
    inventory.finish_operation(second, "failed", error="API said 500")
    third = inventory.begin_operation("taskserv.install", "containerd")

    newest, middle, oldest = inventory.operations()
    assert [op.id for op in (newest, middle, oldest)] == [third, second, first]
    assert oldest.details == {"plan": "small", "server_id": "uuid-1", "seconds": 12.5}
    assert (oldest.action, oldest.target, oldest.provider) == ("server.create", "web-1", "upcloud")
    assert oldest.status == "succeeded"
    assert oldest.finished_at is not None
    assert oldest.finished_at >= oldest.started_at
    assert (oldest.pid, oldest.host) == (os.getpid(), socket.gethostname())
    assert (middle.status, middle.error, middle.provider) == ("failed", "API said 500", None)
    assert (newest.status, newest.finished_at) == ("running", None)

    assert [op.id for op in inventory.operations(status="failed")] == [second]
    assert [op.id for op in inventory.operations(limit=1)] == [third]
    # an operation of this very process is in flight, not interrupted
    assert inventory.interrupted_operations() == []


def test_operation_misuse_is_refused(inventory: Inventory) -> None:
    op = inventory.begin_operation("server.create", "web-1")
    with pytest.raises(ValueError, match="not 'running'"):
        inventory.finish_operation(op, "running")
    with pytest.raises(ConfigError, match=r"has no operation 999"):
        inventory.update_operation(999, details={"a": 1})
    with pytest.raises(ConfigError, match="still running") as info:
        inventory.acknowledge(op)
    assert info.value.exit_code == 2
    with pytest.raises(ConfigError, match="has no operation 999"):
        inventory.acknowledge(999)


def test_extension_loads_are_recorded(inventory: Inventory) -> None:
    inventory.record_load("provider", "upcloud", "1.2.0", 0.25)
    inventory.record_load("taskserv", "broken", None, 0.01, error="ImportError: no module x")
    newest, oldest = inventory.loads()
    assert (newest.kind, newest.name, newest.version, newest.error) == (
        "taskserv",
        "broken",
        None,
        "ImportError: no module x",
    )
    assert (oldest.name, oldest.seconds, oldest.error) == ("upcloud", 0.25, None)
    assert oldest.at.tzinfo == timezone.utc
    assert len(inventory.loads(limit=1)) == 1


def test_timestamps_are_stored_as_iso_utc_text(inventory: Inventory, path: Path) -> None:
    inventory.begin_operation("server.create", "web-1")
    with sqlite3.connect(path) as db:
        (started,) = db.execute("SELECT started_at FROM operations").fetchone()
    db.close()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", started)


# --- interrupted operations --------------------------------------------------------------


def test_an_operation_whose_process_was_killed_is_reported_until_acknowledged(
    path: Path, spawn: Spawn
) -> None:
    child = spawn(BEGIN_AND_WAIT, path)
    op_id = int(first_line(child))
    with Inventory(path) as inventory:
        assert inventory.interrupted_operations() == []  # its process is alive
        assert inventory.operations()[0].status == "running"

    kill(child)

    with Inventory(path) as inventory:
        (interrupted,) = inventory.interrupted_operations()
        assert (interrupted.id, interrupted.status, interrupted.pid) == (
            op_id,
            "interrupted",
            child.pid,
        )
        assert interrupted.error is not None
        assert f"pid {child.pid}" in interrupted.error
        assert interrupted.acknowledged_at is None
        assert [op.id for op in inventory.interrupted_operations()] == [op_id]
    with Inventory(path) as inventory:  # the next run reports it again
        assert [op.id for op in inventory.interrupted_operations()] == [op_id]
        inventory.acknowledge(op_id)
        inventory.acknowledge(op_id)  # twice is fine
        assert inventory.interrupted_operations() == []
        (kept,) = inventory.operations()
        assert kept.status == "interrupted"
        assert kept.acknowledged_at is not None
    with Inventory(path) as inventory:
        assert inventory.interrupted_operations() == []


def test_another_hosts_operation_is_interrupted_once_the_lock_is_free(
    inventory: Inventory, path: Path, spawn: Spawn
) -> None:
    op_id = inventory.begin_operation("server.create", "web-1")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE operations SET host = 'elsewhere', pid = 1")
    db.close()

    child = spawn(LOCK_AND_WAIT, path, "prov server create web-1")
    assert first_line(child) == "locked"
    assert inventory.interrupted_operations() == []  # someone holds the lock: maybe that host
    kill(child)
    assert [op.id for op in inventory.interrupted_operations()] == [op_id]


def test_an_operation_of_a_dead_process_with_this_processs_pid_is_interrupted(
    inventory: Inventory, path: Path
) -> None:
    # in a fresh container each run may get the same pid as the run that died
    op_id = inventory.begin_operation("server.create", "web-1")
    with sqlite3.connect(path) as db:
        db.execute("UPDATE operations SET run_id = 'an earlier run'")
    db.close()
    assert [op.id for op in inventory.interrupted_operations()] == [op_id]


# --- the writer lock ---------------------------------------------------------------------


def test_a_lock_held_by_another_process_names_it_and_the_os_releases_it_on_kill(
    path: Path, spawn: Spawn
) -> None:
    child = spawn(LOCK_AND_WAIT, path, "prov server create web-1")
    assert first_line(child) == "locked"
    with Inventory(path) as inventory:
        with (
            pytest.raises(InventoryLocked) as info,
            inventory.lock("prov server delete web-1", 0.5),
        ):
            pass
        error = info.value
        assert error.holder is not None
        assert error.holder.pid == child.pid
        assert error.holder.command == "prov server create web-1"
        assert error.holder.host == socket.gethostname()
        assert error.holder.since.tzinfo == timezone.utc
        assert error.path == path
        assert error.exit_code == 1
        assert re.fullmatch(
            rf"inventory {re.escape(str(path))} is locked by pid {child.pid} on host \S+ "
            r"running 'prov server create web-1' since \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ \(\d+ s ago\)\n"
            r"  hint: wait for it to finish and run again, or raise operations.lock_timeout "
            r"\(PROV_OPERATIONS__LOCK_TIMEOUT\)",
            str(error),
        )
        assert pickle.loads(pickle.dumps(error)).holder == error.holder

        kill(child)
        holder_file = Path(f"{path}.lock.holder")
        with inventory.lock("prov server delete web-1", timeout=0):
            assert json.loads(holder_file.read_text())["pid"] == os.getpid()
        assert not holder_file.exists()


def test_the_lock_is_reentrant_within_one_inventory_and_its_threads(path: Path) -> None:
    with Inventory(path) as inventory, Inventory(path) as other:
        with inventory.lock("outer"):
            with inventory.lock("inner", timeout=0):
                pass
            entered: list[bool] = []

            def worker() -> None:
                with inventory.lock("from a thread", timeout=0):
                    entered.append(True)

            thread = threading.Thread(target=worker)
            thread.start()
            thread.join()
            assert entered == [True]
            # still held after the inner blocks: another object (another fd) is refused
            with pytest.raises(InventoryLocked) as info, other.lock("other", timeout=0):
                pass
            assert info.value.holder is not None
            assert info.value.holder.command == "outer"
            assert info.value.holder.pid == os.getpid()
        with other.lock("other", timeout=0):
            pass


def test_an_unreadable_holder_record_is_reported_not_fatal(path: Path) -> None:
    holder_file = Path(f"{path}.lock.holder")
    with Inventory(path) as inventory, Inventory(path) as other, inventory.lock("prov x"):
        holder_file.write_text("{not json")
        with pytest.raises(InventoryLocked, match="could not be read") as info, other.lock("y", 0):
            pass
        assert info.value.holder is None
        assert "inventory" in str(info.value)
        assert "PROV_OPERATIONS__LOCK_TIMEOUT" in str(info.value)

        holder_file.unlink()
        with pytest.raises(InventoryLocked, match="has not recorded who it is"), other.lock("y", 0):
            pass


def test_close_releases_the_lock(path: Path) -> None:
    inventory = Inventory(path)
    with inventory.lock("prov server create web-1"):
        inventory.close()
        with Inventory(path) as other, other.lock("next", timeout=0):
            pass


# --- concurrency -------------------------------------------------------------------------


def test_two_processes_writing_at_once_lose_nothing(path: Path, spawn: Spawn) -> None:
    # both start on a missing file, so they also race to create the schema
    children = [spawn(WRITE_FIFTY, path, name) for name in ("a", "b")]
    for child in children:
        _, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
    with Inventory(path) as inventory:
        assert len(inventory.servers()) == 100
        assert len(inventory.operations(limit=1000, status="succeeded")) == 100


def test_threads_share_one_inventory(inventory: Inventory) -> None:
    def work(worker: int) -> None:
        for i in range(25):
            name = f"t{worker}-{i}"
            op = inventory.begin_operation("server.create", name)
            inventory.upsert_server("local", name, status="creating", operation_id=op)
            inventory.update_operation(op, details={"server_id": name})
            inventory.upsert_server(
                "local", name, server_id=name, status="running", operation_id=op
            )
            inventory.finish_operation(op, "succeeded", details={"worker": worker})
            inventory.find_servers(name)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(work, range(8)))

    servers = inventory.servers()
    assert len(servers) == 200
    assert all(s.server_id == s.hostname for s in servers)
    operations = inventory.operations(limit=1000)
    assert len(operations) == 200
    assert all(
        op.status == "succeeded" and op.details["server_id"] == op.target for op in operations
    )


# --- the file ----------------------------------------------------------------------------


def test_the_default_file_is_in_prov_home(prov_home: Path) -> None:
    with Inventory() as inventory:
        assert inventory.path == prov_home / "inventory.sqlite3"
    assert inventory.path.is_file()


def test_a_new_file_gets_the_current_schema_in_wal_mode(inventory: Inventory, path: Path) -> None:
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"servers", "operations", "loads"} <= tables
    finally:
        db.close()
    inventory.close()
    with Inventory(path) as again:  # opening an up-to-date file migrates nothing
        assert again.servers() == []


def test_a_file_from_a_newer_version_is_refused(path: Path) -> None:
    Inventory(path).close()
    db = sqlite3.connect(path)
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    db.close()
    with pytest.raises(InventoryError) as info:
        Inventory(path)
    message = str(info.value)
    assert str(path) in message
    assert f"schema version {SCHEMA_VERSION + 5}" in message
    assert "newer provisioning-core" in message
    assert "pip install -U provisioning-core" in message
    assert info.value.path == path


def test_a_file_that_is_not_sqlite_is_refused(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_bytes(b"these are not the pages you are looking for\n" * 200)
    with pytest.raises(InventoryError) as info:
        Inventory(path)
    assert isinstance(info.value, ProvisioningError)
    assert not isinstance(info.value, sqlite3.Error)
    assert f"inventory {path} is not a valid SQLite database" in str(info.value)
    assert "restore it from a backup" in str(info.value)


def test_a_directory_that_cannot_be_created_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the directory should be")
    with pytest.raises(InventoryError) as info:
        Inventory(blocker / "inventory.sqlite3")
    assert f"cannot create the directory {blocker}" in str(info.value)
    assert "set PROV_HOME to a writable directory" in str(info.value)


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root writes anywhere")
def test_an_unwritable_directory_is_reported(tmp_path: Path) -> None:
    locked_dir = tmp_path / "ro"
    locked_dir.mkdir()
    locked_dir.chmod(0o500)
    try:
        with pytest.raises(InventoryError) as info:
            Inventory(locked_dir / "inventory.sqlite3")
        assert str(locked_dir) in str(info.value)
        assert "writable" in str(info.value)
    finally:
        locked_dir.chmod(0o700)


# --- secrets -----------------------------------------------------------------------------


def test_secrets_never_reach_the_files(path: Path) -> None:
    token = "hunter2-token"
    secret = Secret(token)
    settings = ProviderSettings(name="upcloud", auth=ProviderAuth(password=Secret("pw-424242")))
    files = [path, Path(f"{path}-wal"), Path(f"{path}.lock.holder")]

    def assert_clean() -> None:
        for file in files:
            if file.exists():
                data = file.read_bytes()
                assert token.encode() not in data, file
                assert b"pw-424242" not in data, file

    inventory = Inventory(path, secrets=[secret, settings])
    with inventory.lock(f"prov server create web-1 --token {token}"):
        op = inventory.begin_operation(
            "server.create",
            f"https://api.example/?token={token}",
            details={
                "url": f"https://api.example/?token={token}",
                "token": secret,
                token: "as a key",
                "nested": [{"auth": f"Bearer {token}"}, ("pw-424242",)],
            },
        )
        inventory.update_operation(op, details={"response": f"echo {token}"})
        inventory.finish_operation(op, "failed", error=f"401 Unauthorized for {token} / pw-424242")
        inventory.record_load("provider", "upcloud", "1.0", 0.1, error=f"bad token {token}")
        inventory.upsert_server(
            "upcloud", "web-1", server_id="u1", status="error", tags={"t": token}
        )
        assert_clean()
        assert Path(f"{path}-wal").stat().st_size > 0  # the writes are really in the WAL
        holder = json.loads(Path(f"{path}.lock.holder").read_text())
        assert holder["command"] == f"prov server create web-1 --token {MASK}"

        (recorded,) = inventory.operations()
        assert recorded.details["url"] == f"https://api.example/?token={MASK}"
        assert recorded.details["token"] == MASK
        assert recorded.details[MASK] == "as a key"
        assert recorded.details["nested"] == [{"auth": f"Bearer {MASK}"}, [MASK]]
        assert recorded.error == f"401 Unauthorized for {MASK} / {MASK}"
        assert recorded.target == f"https://api.example/?token={MASK}"
    inventory.close()
    assert_clean()


def test_a_file_of_the_first_schema_is_brought_forward(path: Path) -> None:
    # schema 1 as the first release wrote it: no cluster_components table
    from provisioning_core.state import _MIGRATIONS

    path.parent.mkdir()
    db = sqlite3.connect(path)
    for statement in _MIGRATIONS[0]:
        db.execute(statement)
    db.execute("INSERT INTO loads (kind, name, seconds, at) VALUES ('provider', 'x', 0.1, 'now')")
    db.execute("PRAGMA user_version = 1")
    db.commit()
    db.close()
    with Inventory(path) as inventory:
        inventory.set_component("ci", "db", "web-1", taskserv="rectask", status="deployed")
        (row,) = inventory.components("ci")
        assert (row.component, row.server, row.status) == ("db", "web-1", "deployed")
    db = sqlite3.connect(path)
    try:
        assert db.execute("PRAGMA user_version").fetchone() == (SCHEMA_VERSION,)
        assert db.execute("SELECT name FROM loads").fetchall() == [("x",)]
    finally:
        db.close()


def test_cluster_components_are_recorded_updated_and_removed(inventory: Inventory) -> None:
    inventory.set_component("ci", "db", "web-1", taskserv="rectask", status="deploying")
    inventory.set_component(
        "ci", "db", "web-1", taskserv="rectask", status="deployed", version="1.0.0"
    )
    inventory.set_component(
        "ci", "db", "web-1", taskserv="rectask", status="cleanup", message="rollback failed"
    )
    (row,) = inventory.components("ci")
    # a later record without a version keeps the one recorded
    assert (row.status, row.version, row.message) == ("cleanup", "1.0.0", "rollback failed")
    assert inventory.components("other") == []
    inventory.remove_component("ci", "db", "web-1")
    assert inventory.components("ci") == []
