"""The inventory: what the tool created, what it did, and who is at it now.

One SQLite file per ``PROV_HOME`` holds the servers the tool created, the audit
trail of operations and the timings of extension loads.  It runs in WAL mode
with one short transaction per write, so readers never wait for a writer and a
crash loses at most the write in progress.  A mutating command holds the
writer lock (an OS file lock beside the database, released by the kernel if
the process dies) for its whole run.  A process that dies mid-operation leaves
a "running" row; the next run marks it "interrupted" and keeps reporting it
until someone acknowledges it.

No secret reaches the file: every text written passes through
:func:`~provisioning_core.secret.redact` with the secrets the inventory was
given.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import socket
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import attrs
import filelock

from provisioning_core.errors import ConfigError, ProvisioningError
from provisioning_core.paths import inventory_path
from provisioning_core.secret import redact

logger = logging.getLogger("provisioning.state")

if TYPE_CHECKING:
    from typing_extensions import Self  # in typing from Python 3.11

__all__ = [
    "SCHEMA_VERSION",
    "ComponentRecord",
    "Inventory",
    "InventoryError",
    "InventoryLocked",
    "JobRecord",
    "LoadRecord",
    "LockHolder",
    "OperationRecord",
    "ServerRecord",
]

_FINAL_STATUSES = frozenset({"succeeded", "failed", "interrupted"})

# Each entry moves the schema up one version; entries are never edited once
# released, only appended, so any older file can be brought forward.
_MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE operations (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            action TEXT NOT NULL,
            target TEXT NOT NULL,
            provider TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('running', 'succeeded', 'failed', 'interrupted')),
            started_at TEXT NOT NULL,
            finished_at TEXT,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            run_id TEXT NOT NULL,
            details TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            acknowledged_at TEXT
        )""",
        "CREATE INDEX operations_by_status ON operations (status)",
        """CREATE TABLE servers (
            id INTEGER PRIMARY KEY,
            provider TEXT NOT NULL,
            hostname TEXT NOT NULL,
            server_id TEXT,
            status TEXT NOT NULL,
            plan TEXT,
            zone TEXT,
            ip_addresses TEXT NOT NULL DEFAULT '[]',
            tags TEXT NOT NULL DEFAULT '{}',
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            deleted INTEGER NOT NULL DEFAULT 0,
            operation_id INTEGER,
            UNIQUE (provider, server_id)
        )""",
        "CREATE INDEX servers_by_hostname ON servers (hostname)",
        """CREATE TABLE loads (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            name TEXT NOT NULL,
            version TEXT,
            seconds REAL NOT NULL,
            error TEXT,
            at TEXT NOT NULL
        )""",
    ),
    (
        # where each cluster component is deployed; "cleanup" rows are what a
        # failed rollback left behind for a person to look at
        """CREATE TABLE cluster_components (
            cluster TEXT NOT NULL,
            component TEXT NOT NULL,
            server TEXT NOT NULL,
            taskserv TEXT NOT NULL,
            version TEXT,
            status TEXT NOT NULL
                CHECK (status IN ('deploying', 'deployed', 'failed', 'cleanup')),
            message TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL,
            PRIMARY KEY (cluster, component, server)
        )""",
    ),
    (
        # the jobs of `prov serve`: one per mutating HTTP request, with its
        # progress and final report; its targets' operations carry its id
        """CREATE TABLE jobs (
            id TEXT PRIMARY KEY,
            kind TEXT NOT NULL,
            request TEXT NOT NULL DEFAULT '{}',
            status TEXT NOT NULL
                CHECK (status IN ('queued', 'running', 'succeeded', 'failed', 'interrupted')),
            created_at TEXT NOT NULL,
            started_at TEXT,
            finished_at TEXT,
            pid INTEGER NOT NULL,
            host TEXT NOT NULL,
            run_id TEXT NOT NULL,
            progress TEXT NOT NULL DEFAULT '[]',
            report TEXT,
            error TEXT,
            exit_code INTEGER
        )""",
        "CREATE INDEX jobs_by_status ON jobs (status)",
    ),
)
SCHEMA_VERSION = len(_MIGRATIONS)

_BUSY_TIMEOUT = 30.0  # seconds a write waits for another process's write to end
_LOADS_KEPT = 1000  # load timings are diagnostics, not an audit trail: keep the newest
_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"  # ISO 8601, UTC
_WRITABLE_HINT = (
    "make sure {directory} and the files in it are writable by this user, "
    "or set PROV_HOME to a writable directory"
)
_LOCK_HINT = (
    "wait for it to finish and run again, "
    "or raise operations.lock_timeout (PROV_OPERATIONS__LOCK_TIMEOUT)"
)
# A pid can come back: in a fresh container every run may get the same one.
# This token tells this process's own operations from a dead namesake's.
_RUN_ID = uuid.uuid4().hex
# os.kill(pid, 0) on Windows sends CTRL_C_EVENT, so there only the lock is asked.
_CAN_PROBE_PIDS = sys.platform != "win32"


class InventoryError(ProvisioningError):
    """The inventory file cannot be opened, read or written; ``path`` is the file."""

    def __init__(self, message: str, *, path: Path, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.path = path


@attrs.frozen
class LockHolder:
    """Who holds the writer lock: ``since`` is an aware UTC datetime."""

    pid: int
    host: str
    command: str
    since: datetime


class InventoryLocked(InventoryError):
    """Another process holds the writer lock; ``holder`` is None if it cannot be told."""

    def __init__(self, path: Path, holder: LockHolder | None, *, unknown: str = "") -> None:
        if holder is None:
            who = f"another process ({unknown})"
        else:
            since = holder.since.strftime("%Y-%m-%dT%H:%M:%SZ")
            age = _ago((_now() - holder.since).total_seconds())
            who = (
                f"pid {holder.pid} on host {holder.host} running {holder.command!r} "
                f"since {since} ({age} ago)"
            )
        super().__init__(f"inventory {path} is locked by {who}", path=path, hint=_LOCK_HINT)
        self.holder = holder


@attrs.frozen
class ServerRecord:
    """A server the tool created, as last recorded."""

    provider: str
    hostname: str
    server_id: str | None
    status: str
    plan: str | None
    zone: str | None
    ip_addresses: list[str]
    tags: dict[str, str]
    created_at: datetime
    updated_at: datetime
    deleted: bool
    operation_id: int | None


@attrs.frozen
class ComponentRecord:
    """Where one cluster component is deployed, as last recorded.

    ``status`` is "deploying" (in flight, or its run died), "deployed",
    "failed" (its deploy failed and was rolled back) or "cleanup" (a rollback
    or removal failed: ``message`` says what a person must clean up).
    """

    cluster: str
    component: str
    server: str
    taskserv: str
    version: str | None
    status: str
    message: str
    updated_at: datetime


@attrs.frozen
class OperationRecord:
    """One entry of the audit trail; ``acknowledged_at`` is set by :meth:`Inventory.acknowledge`."""

    id: int
    action: str
    target: str
    provider: str | None
    status: str
    started_at: datetime
    finished_at: datetime | None
    pid: int
    host: str
    details: dict[str, Any]
    error: str | None
    acknowledged_at: datetime | None = None


@attrs.frozen
class JobRecord:
    """A job of ``prov serve`` as recorded: ``progress`` holds ``{at, target, message}``
    entries, ``report`` the final report (what ``-o json`` prints), ``exit_code``
    what the CLI would have exited with."""

    id: str
    kind: str
    request: dict[str, Any]
    status: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    pid: int
    host: str
    progress: list[dict[str, Any]]
    report: dict[str, Any] | None
    error: str | None
    exit_code: int | None


@attrs.frozen
class LoadRecord:
    """One cold load of an extension and how long it took."""

    kind: str
    name: str
    version: str | None
    seconds: float
    error: str | None
    at: datetime


class Inventory:
    """The SQLite inventory at ``path`` (default ``$PROV_HOME/inventory.sqlite3``).

    One object may be shared by the threads of a process.  ``secrets`` are
    :class:`~provisioning_core.secret.Secret` objects, or anything holding them,
    whose values are masked in everything written.
    """

    def __init__(
        self,
        path: Path | None = None,
        *,
        secrets: Sequence[object] = (),
        lock_timeout: float = 30.0,
    ) -> None:
        self.path = Path(path) if path is not None else inventory_path()
        self.lock_timeout = lock_timeout
        self._secrets = tuple(secrets)
        self._host = socket.gethostname()
        self._holder_path = Path(f"{self.path}.lock.holder")
        # thread_local=False: the lock belongs to the object, so the last of
        # several threads inside lock() may be the one that releases it
        self._file_lock = filelock.FileLock(f"{self.path}.lock", thread_local=False)
        self._lock_guard = threading.Lock()
        self._lock_depth = 0
        self._db_guard = threading.Lock()
        self._db = self._open()

    # --- opening ---------------------------------------------------------------

    def _open(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise InventoryError(
                f"cannot create the directory {self.path.parent} for inventory {self.path}: "
                f"{error.strerror or error}",
                path=self.path,
                hint="make sure this user may create it, or set PROV_HOME to a writable directory",
            ) from error
        try:
            # timeout= is SQLite's busy timeout; isolation_level=None lets each
            # write open its own BEGIN IMMEDIATE
            db = sqlite3.connect(
                self.path, timeout=_BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as error:
            raise self._db_error(error, "opened") from error
        try:
            db.row_factory = sqlite3.Row
            _use_wal(db)
            # safe with WAL: a power cut may lose the last commit, never corrupt the file
            db.execute("PRAGMA synchronous = NORMAL")
            self._migrate(db)
        except sqlite3.Error as error:
            db.close()
            raise self._db_error(error, "opened") from error
        except BaseException:
            db.close()
            raise
        return db

    def _migrate(self, db: sqlite3.Connection) -> None:
        version = self._schema_version(db)
        if version == SCHEMA_VERSION:
            return
        if version > 0:  # an inventory with records: keep a copy of it as it was
            self._back_up(db, version)
        db.execute("BEGIN IMMEDIATE")
        try:
            # read again inside the transaction: another process may have migrated meanwhile
            version = self._schema_version(db)
            for number in range(version + 1, SCHEMA_VERSION + 1):
                for statement in _MIGRATIONS[number - 1]:
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {number:d}")
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                db.execute("ROLLBACK")
            raise

    def backup_path(self, version: int) -> Path:
        """Where the inventory is copied before it is migrated from schema ``version``."""
        return self.path.with_name(f"{self.path.name}.v{version}.bak")

    def _back_up(self, db: sqlite3.Connection, version: int) -> None:
        """Copy the inventory (a consistent snapshot, SQLite's backup API) before migrating."""
        target = self.backup_path(version)
        partial = target.with_name(f"{target.name}.{os.getpid()}.partial")
        try:
            copy = sqlite3.connect(partial)
            try:
                db.backup(copy)
            finally:
                copy.close()
            partial.replace(target)  # whole or not at all
        except (OSError, sqlite3.Error) as error:
            with contextlib.suppress(OSError):
                partial.unlink()
            raise InventoryError(
                f"cannot back up inventory {self.path} to {target} before migrating it "
                f"from schema version {version} to {SCHEMA_VERSION}: {error}",
                path=self.path,
                hint="free some disk space or make the directory writable; the inventory "
                "was left as it was",
            ) from error
        logger.info("inventory %s backed up to %s before migrating", self.path, target)

    def _schema_version(self, db: sqlite3.Connection) -> int:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        if version > SCHEMA_VERSION:
            raise InventoryError(
                f"inventory {self.path} was written by a newer provisioning-core "
                f"(schema version {version}; this one understands up to {SCHEMA_VERSION})",
                path=self.path,
                hint="upgrade provisioning-core (pip install -U provisioning-core), "
                "or set PROV_HOME to another directory",
            )
        return version

    def _db_error(self, error: sqlite3.Error, done: str) -> InventoryError:
        reason = str(error)
        name = getattr(error, "sqlite_errorname", "")  # Python 3.11+
        if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or any(
            words in reason for words in ("not a database", "malformed")
        ):
            return InventoryError(
                f"inventory {self.path} is not a valid SQLite database ({reason})",
                path=self.path,
                hint="restore it from a backup, or move it aside (with any -wal and -shm "
                "files beside it) to start an empty inventory",
            )
        if "locked" in reason or "busy" in reason:
            hint = "another process kept it busy; run again"
        else:
            hint = _WRITABLE_HINT.format(directory=self.path.parent)
        return InventoryError(
            f"inventory {self.path} could not be {done}: {reason}", path=self.path, hint=hint
        )

    def close(self) -> None:
        """Release the writer lock if held and close the database."""
        with self._lock_guard:
            if self._lock_depth:
                self._lock_depth = 1
                self._unlock()
        with self._db_guard:
            self._db.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # --- one place for every statement -------------------------------------------

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        # IMMEDIATE takes the write lock up front: a deferred transaction that
        # reads first can fail to upgrade without the busy timeout helping
        with self._db_guard:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    yield self._db
                except BaseException:
                    if self._db.in_transaction:  # some errors end the transaction themselves
                        self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                raise self._db_error(error, "written") from error

    def _query(self, sql: str, params: Sequence[object] = ()) -> list[sqlite3.Row]:
        with self._db_guard:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise self._db_error(error, "read") from error

    def _redact(self, text: str) -> str:
        return redact(text, *self._secrets) if self._secrets else text

    def _clean(self, value: Any) -> Any:
        """``value`` made JSON-able with every secret masked, strings and keys alike."""
        if isinstance(value, str):
            return self._redact(value)
        if isinstance(value, Mapping):
            return {self._redact(str(k)): self._clean(v) for k, v in value.items()}
        if isinstance(value, (list, tuple, set, frozenset)):
            return [self._clean(v) for v in value]
        if value is None or isinstance(value, bool):
            return value
        if isinstance(value, (int, float)):  # a numeric PIN is a secret too
            return value if self._redact(str(value)) == str(value) else self._redact(str(value))
        return self._redact(str(value))  # a Secret gives its mask, a datetime or Path its text

    def _json(self, value: Mapping[str, Any] | Sequence[str]) -> str:
        return json.dumps(self._clean(value), ensure_ascii=False, sort_keys=True)

    # --- the writer lock ---------------------------------------------------------

    @contextlib.contextmanager
    def lock(self, command: str, timeout: float | None = None) -> Iterator[None]:
        """Hold the writer lock while the block runs; re-entrant within this object.

        Waits up to ``timeout`` seconds (default ``lock_timeout``; negative:
        forever) and raises :class:`InventoryLocked` naming the holder if it
        is not released by then.
        """
        with self._lock_guard:
            if self._lock_depth == 0:
                self._acquire(command, self.lock_timeout if timeout is None else timeout)
            self._lock_depth += 1
        try:
            yield
        finally:
            with self._lock_guard:
                if self._lock_depth:  # close() may have released it already
                    self._unlock()

    def _acquire(self, command: str, timeout: float) -> None:
        try:
            self._file_lock.acquire(timeout=timeout)
        except filelock.Timeout:  # a TimeoutError, so before OSError
            raise self._locked() from None
        except OSError as error:
            raise InventoryError(
                f"cannot take the lock {self._file_lock.lock_file} of inventory {self.path}: "
                f"{error.strerror or error}",
                path=self.path,
                hint=_WRITABLE_HINT.format(directory=self.path.parent),
            ) from error
        holder = {
            "pid": os.getpid(),
            "host": self._host,
            "command": self._redact(command),
            "since": _iso(_now()),
        }
        try:
            # written aside and renamed, so a waiting process never reads half of it
            partial = self._holder_path.with_name(f"{self._holder_path.name}.{os.getpid()}")
            partial.write_text(json.dumps(holder), encoding="utf-8")
            partial.replace(self._holder_path)
        except OSError as error:
            self._file_lock.release()
            raise InventoryError(
                f"cannot record the holder of the lock of inventory {self.path} in "
                f"{self._holder_path}: {error.strerror or error}",
                path=self.path,
                hint=_WRITABLE_HINT.format(directory=self.path.parent),
            ) from error

    def _unlock(self) -> None:
        self._lock_depth -= 1
        if self._lock_depth == 0:
            with contextlib.suppress(OSError):  # a stale record is overwritten by the next holder
                self._holder_path.unlink(missing_ok=True)
            self._file_lock.release()

    def _locked(self) -> InventoryLocked:
        try:
            data = json.loads(self._holder_path.read_text(encoding="utf-8"))
            holder = LockHolder(
                pid=int(data["pid"]),
                host=str(data["host"]),
                command=str(data["command"]),
                since=_parse(data["since"]),
            )
        except FileNotFoundError:
            return InventoryLocked(self.path, None, unknown="it has not recorded who it is yet")
        except (OSError, ValueError, KeyError, TypeError) as error:
            unknown = f"its holder record {self._holder_path} could not be read: {error}"
            return InventoryLocked(self.path, None, unknown=unknown)
        return InventoryLocked(self.path, holder)

    def _no_other_writer(self) -> bool:
        """Whether no other process holds the writer lock right now."""
        with self._lock_guard:
            if self._lock_depth:
                return True
            try:
                self._file_lock.acquire(timeout=0)
            except OSError:  # filelock.Timeout included: someone holds it
                return False
            self._file_lock.release()
            return True

    # --- operations ----------------------------------------------------------------

    def begin_operation(
        self,
        action: str,
        target: str,
        *,
        provider: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> int:
        """Record that ``action`` on ``target`` started; returns the operation's id."""
        with self._write() as db:
            cursor = db.execute(
                "INSERT INTO operations (action, target, provider, status, started_at,"
                " pid, host, run_id, details) VALUES (?, ?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    action,
                    self._redact(target),
                    provider,
                    _iso(_now()),
                    os.getpid(),
                    self._host,
                    _RUN_ID,
                    self._json(details or {}),
                ),
            )
        return cast("int", cursor.lastrowid)

    def update_operation(self, op_id: int, *, details: Mapping[str, Any]) -> None:
        """Merge ``details`` into the operation's details (e.g. the server id once known)."""
        with self._write() as db:
            merged = {**self._details(db, op_id), **details}
            db.execute(
                "UPDATE operations SET details = ? WHERE id = ?", (self._json(merged), op_id)
            )

    def finish_operation(
        self,
        op_id: int,
        status: str,
        *,
        error: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record how the operation ended: "succeeded", "failed" or "interrupted"."""
        if status not in _FINAL_STATUSES:
            raise ValueError(
                f"an operation ends {', '.join(sorted(_FINAL_STATUSES))}, not {status!r}"
            )
        with self._write() as db:
            merged = {**self._details(db, op_id), **(details or {})}
            db.execute(
                "UPDATE operations SET status = ?, finished_at = ?, error = ?, details = ?"
                " WHERE id = ?",
                (
                    status,
                    _iso(_now()),
                    None if error is None else self._redact(error),
                    self._json(merged),
                    op_id,
                ),
            )

    def _details(self, db: sqlite3.Connection, op_id: int) -> dict[str, Any]:
        row = db.execute("SELECT details FROM operations WHERE id = ?", (op_id,)).fetchone()
        if row is None:
            raise self._no_operation(op_id)
        return cast("dict[str, Any]", json.loads(row["details"]))

    def _no_operation(self, op_id: int) -> ConfigError:
        return ConfigError(
            f"inventory {self.path} has no operation {op_id}",
            hint="list the recorded operations to find the right id",
        )

    def interrupted_operations(self) -> list[OperationRecord]:
        """Operations whose process ended before they finished, not yet acknowledged.

        "running" rows whose process is gone are marked "interrupted" first, so
        each run keeps reporting them until :meth:`acknowledge`.  Oldest first.
        """
        no_other_writer: bool | None = None
        gone: list[tuple[str, int]] = []
        for row in self._query(
            "SELECT id, pid, host, run_id FROM operations WHERE status = 'running'"
        ):
            if row["host"] == self._host and _CAN_PROBE_PIDS:
                alive = (
                    row["run_id"] == _RUN_ID if row["pid"] == os.getpid() else _alive(row["pid"])
                )
            else:
                # another host's process cannot be asked; while it runs it holds the lock
                if no_other_writer is None:
                    no_other_writer = self._no_other_writer()
                alive = not no_other_writer
            if not alive:
                why = f"pid {row['pid']} on host {row['host']} ended before the operation finished"
                gone.append((why, row["id"]))
        if gone:
            with self._write() as db:
                db.executemany(
                    "UPDATE operations SET status = 'interrupted', error = ?"
                    " WHERE id = ? AND status = 'running'",
                    gone,
                )
        return self._operations(
            "SELECT * FROM operations WHERE status = 'interrupted' AND acknowledged_at IS NULL"
            " ORDER BY id"
        )

    def acknowledge(self, op_id: int) -> None:
        """Stop reporting an interrupted operation (someone has looked at it)."""
        with self._write() as db:
            row = db.execute("SELECT status FROM operations WHERE id = ?", (op_id,)).fetchone()
            if row is None:
                raise self._no_operation(op_id)
            if row["status"] == "running":
                raise ConfigError(
                    f"operation {op_id} in inventory {self.path} is still running",
                    hint="wait for it to end; if its process died, the next command "
                    "marks it interrupted and it can be acknowledged then",
                )
            db.execute(
                "UPDATE operations SET acknowledged_at = ?"
                " WHERE id = ? AND acknowledged_at IS NULL",
                (_iso(_now()), op_id),
            )

    def operations(
        self,
        *,
        limit: int = 50,
        status: str | None = None,
        target: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
    ) -> list[OperationRecord]:
        """The newest ``limit`` operations, newest first; filtered by each filter given.

        ``target`` matches a target exactly or as the part before or after ``@``
        (``web-1`` finds ``my-service@web-1``); ``action`` exactly or as its
        verb (``create`` finds ``server.create``); ``since``: started then or later.
        """
        return self._operations(
            "SELECT * FROM operations WHERE (?1 IS NULL OR status = ?1)"
            " AND (?2 IS NULL OR target = ?2 OR (instr(target, '@') > 0 AND ("
            "substr(target, 1, instr(target, '@') - 1) = ?2"
            " OR substr(target, instr(target, '@') + 1) = ?2)))"
            " AND (?3 IS NULL OR action = ?3 OR substr(action, instr(action, '.') + 1) = ?3)"
            " AND (?4 IS NULL OR started_at >= ?4)"
            " ORDER BY id DESC LIMIT ?5",
            (status, target, action, None if since is None else _iso(since), limit),
        )

    def operation(self, op_id: int) -> OperationRecord | None:
        """The operation ``op_id``, or None."""
        found = self._operations("SELECT * FROM operations WHERE id = ?", (op_id,))
        return found[0] if found else None

    def _operations(self, sql: str, params: Sequence[object] = ()) -> list[OperationRecord]:
        return [
            OperationRecord(
                id=row["id"],
                action=row["action"],
                target=row["target"],
                provider=row["provider"],
                status=row["status"],
                started_at=_parse(row["started_at"]),
                finished_at=_parse_optional(row["finished_at"]),
                pid=row["pid"],
                host=row["host"],
                details=json.loads(row["details"]),
                error=row["error"],
                acknowledged_at=_parse_optional(row["acknowledged_at"]),
            )
            for row in self._query(sql, params)
        ]

    # --- jobs (prov serve) -------------------------------------------------------------

    def create_job(self, job_id: str, kind: str, request: Mapping[str, Any]) -> None:
        """Record a job accepted by ``prov serve`` ("queued"), its request masked."""
        with self._write() as db:
            db.execute(
                "INSERT INTO jobs (id, kind, request, status, created_at, pid, host, run_id)"
                " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?)",
                (job_id, kind, self._json(request), _iso(_now()), os.getpid(), self._host, _RUN_ID),
            )

    def start_job(self, job_id: str) -> None:
        """The job began to run."""
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = 'running', started_at = ? WHERE id = ?",
                (_iso(_now()), job_id),
            )

    def add_job_progress(self, job_id: str, entry: Mapping[str, Any]) -> None:
        """Append one progress entry to the job's."""
        with self._write() as db:
            row = db.execute("SELECT progress FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return
            progress = [*json.loads(row["progress"]), self._clean(entry)]
            db.execute(
                "UPDATE jobs SET progress = ? WHERE id = ?",
                (json.dumps(progress, ensure_ascii=False), job_id),
            )

    def finish_job(
        self,
        job_id: str,
        status: str,
        *,
        report: Mapping[str, Any] | None = None,
        error: str | None = None,
        exit_code: int | None = None,
    ) -> None:
        """Record how the job ended: "succeeded", "failed" or "interrupted"."""
        if status not in _FINAL_STATUSES:
            raise ValueError(f"a job ends {', '.join(sorted(_FINAL_STATUSES))}, not {status!r}")
        with self._write() as db:
            db.execute(
                "UPDATE jobs SET status = ?, finished_at = ?, report = ?, error = ?, exit_code = ?"
                " WHERE id = ?",
                (
                    status,
                    _iso(_now()),
                    None if report is None else self._json(report),
                    None if error is None else self._redact(error),
                    exit_code,
                    job_id,
                ),
            )

    def job(self, job_id: str) -> JobRecord | None:
        """The job ``job_id``, or None."""
        found = self._jobs("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return found[0] if found else None

    def jobs(self, *, limit: int = 50, status: str | None = None) -> list[JobRecord]:
        """The newest ``limit`` jobs, newest first, optionally of one status."""
        return self._jobs(
            "SELECT * FROM jobs WHERE ?1 IS NULL OR status = ?1"
            " ORDER BY created_at DESC, rowid DESC LIMIT ?2",
            (status, limit),
        )

    def interrupt_orphaned_jobs(self) -> list[str]:
        """Mark "interrupted" the queued or running jobs whose server process is gone.

        A job of this host is orphaned when its process has ended, or when its
        pid is this process's but it was recorded by an earlier run (a pid can
        come back); another host's job is left alone.  Returns their ids.
        """
        gone: list[tuple[str, str, str]] = []
        for row in self._query(
            "SELECT id, pid, host, run_id FROM jobs WHERE status IN ('queued', 'running')"
        ):
            if row["host"] != self._host or not _CAN_PROBE_PIDS:
                continue
            alive = row["run_id"] == _RUN_ID if row["pid"] == os.getpid() else _alive(row["pid"])
            if not alive:
                why = (
                    f"the server (pid {row['pid']} on host {row['host']}) ended before the "
                    "job finished"
                )
                gone.append((why, _iso(_now()), row["id"]))
        if gone:
            with self._write() as db:
                db.executemany(
                    "UPDATE jobs SET status = 'interrupted', error = ?, finished_at = ?"
                    " WHERE id = ? AND status IN ('queued', 'running')",
                    gone,
                )
        return [job_id for _, _, job_id in gone]

    def job_operations(self, job_id: str) -> list[OperationRecord]:
        """The audit-trail operations a job ran (their details name it), oldest first."""
        return self._operations(
            "SELECT * FROM operations WHERE json_extract(details, '$.job') = ? ORDER BY id",
            (job_id,),
        )

    def _jobs(self, sql: str, params: Sequence[object] = ()) -> list[JobRecord]:
        return [
            JobRecord(
                id=row["id"],
                kind=row["kind"],
                request=json.loads(row["request"]),
                status=row["status"],
                created_at=_parse(row["created_at"]),
                started_at=_parse_optional(row["started_at"]),
                finished_at=_parse_optional(row["finished_at"]),
                pid=row["pid"],
                host=row["host"],
                progress=json.loads(row["progress"]),
                report=None if row["report"] is None else json.loads(row["report"]),
                error=row["error"],
                exit_code=row["exit_code"],
            )
            for row in self._query(sql, params)
        ]

    # --- extension loads -------------------------------------------------------------

    def record_load(
        self, kind: str, name: str, version: str | None, seconds: float, error: str | None = None
    ) -> None:
        """Record one cold load of an extension (only the newest 1000 are kept)."""
        with self._write() as db:
            db.execute(
                "INSERT INTO loads (kind, name, version, seconds, error, at)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (
                    kind,
                    name,
                    version,
                    seconds,
                    None if error is None else self._redact(error),
                    _iso(_now()),
                ),
            )
            db.execute(
                "DELETE FROM loads WHERE id <= (SELECT max(id) FROM loads) - ?", (_LOADS_KEPT,)
            )

    def loads(self, *, limit: int = 50) -> list[LoadRecord]:
        """The newest ``limit`` extension loads, newest first."""
        return [
            LoadRecord(
                kind=row["kind"],
                name=row["name"],
                version=row["version"],
                seconds=row["seconds"],
                error=row["error"],
                at=_parse(row["at"]),
            )
            for row in self._query("SELECT * FROM loads ORDER BY id DESC LIMIT ?", (limit,))
        ]

    # --- servers -----------------------------------------------------------------------

    def upsert_server(
        self,
        provider: str,
        hostname: str,
        *,
        server_id: str | None = None,
        status: str,
        plan: str | None = None,
        zone: str | None = None,
        ip_addresses: Sequence[str] = (),
        tags: Mapping[str, str] | None = None,
        operation_id: int | None = None,
    ) -> ServerRecord:
        """Record a server the tool created, or update its record; returns the record.

        The record is found by ``(provider, server_id)``; failing that, a record
        of the same provider, hostname and operation still without a server id
        (its create was in flight) is completed.  Arguments left at None (or
        no ``ip_addresses``) keep what is recorded.
        """
        record = {
            "provider": provider,
            "hostname": hostname,
            "server_id": server_id,
            "status": status,
            "plan": plan,
            "zone": zone,
            "ip_addresses": self._json(list(ip_addresses)) if ip_addresses else None,
            "tags": None if tags is None else self._json(tags),
            "operation_id": operation_id,
            "now": _iso(_now()),
        }
        with self._write() as db:
            found = None
            if server_id is not None:
                found = db.execute(
                    "SELECT id FROM servers WHERE provider = :provider AND server_id = :server_id",
                    record,
                ).fetchone()
            if found is None:
                found = db.execute(
                    "SELECT id FROM servers WHERE provider = :provider AND hostname = :hostname"
                    " AND server_id IS NULL AND operation_id IS :operation_id AND NOT deleted"
                    " ORDER BY id DESC LIMIT 1",
                    record,
                ).fetchone()
            if found is None:
                key = db.execute(
                    "INSERT INTO servers (provider, hostname, server_id, status, plan, zone,"
                    " ip_addresses, tags, created_at, updated_at, operation_id)"
                    " VALUES (:provider, :hostname, :server_id, :status, :plan, :zone,"
                    " coalesce(:ip_addresses, '[]'), coalesce(:tags, '{}'), :now, :now,"
                    " :operation_id)",
                    record,
                ).lastrowid
            else:
                key = found["id"]
                db.execute(
                    "UPDATE servers SET hostname = :hostname,"
                    " server_id = coalesce(:server_id, server_id), status = :status,"
                    " plan = coalesce(:plan, plan), zone = coalesce(:zone, zone),"
                    " ip_addresses = coalesce(:ip_addresses, ip_addresses),"
                    " tags = coalesce(:tags, tags),"
                    " operation_id = coalesce(:operation_id, operation_id),"
                    " deleted = 0, updated_at = :now WHERE id = :key",
                    {**record, "key": key},
                )
            return _server(db.execute("SELECT * FROM servers WHERE id = ?", (key,)).fetchone())

    def set_status(
        self,
        provider: str,
        server_id: str,
        status: str,
        *,
        ip_addresses: Sequence[str] | None = None,
    ) -> None:
        """Record a server's new status (and addresses, if given); unknown servers are ignored."""
        addresses = None if ip_addresses is None else self._json(list(ip_addresses))
        with self._write() as db:
            db.execute(
                "UPDATE servers SET status = ?, ip_addresses = coalesce(?, ip_addresses),"
                " updated_at = ? WHERE provider = ? AND server_id = ?",
                (status, addresses, _iso(_now()), provider, server_id),
            )

    def mark_deleted(self, provider: str, server_id: str) -> None:
        """Record that a server was deleted; it stays in the inventory as history."""
        with self._write() as db:
            db.execute(
                "UPDATE servers SET deleted = 1, updated_at = ?"
                " WHERE provider = ? AND server_id = ?",
                (_iso(_now()), provider, server_id),
            )

    def forget(self, provider: str, server_id: str | None, hostname: str) -> None:
        """Drop a record altogether (manual cleanup); ``server_id`` None means an in-flight one."""
        with self._write() as db:
            db.execute(
                "DELETE FROM servers WHERE provider = ? AND server_id IS ? AND hostname = ?",
                (provider, server_id, hostname),
            )

    def find_servers(self, ref: str, provider: str | None = None) -> list[ServerRecord]:
        """Servers not deleted whose id or hostname is ``ref``, oldest record first."""
        rows = self._query(
            "SELECT * FROM servers WHERE NOT deleted AND (server_id = ?1 OR hostname = ?1)"
            " AND (?2 IS NULL OR provider = ?2) ORDER BY id",
            (ref, provider),
        )
        return [_server(row) for row in rows]

    def servers(
        self, provider: str | None = None, *, include_deleted: bool = False
    ) -> list[ServerRecord]:
        """Every recorded server, by provider and hostname."""
        rows = self._query(
            "SELECT * FROM servers WHERE (?1 IS NULL OR provider = ?1) AND (?2 OR NOT deleted)"
            " ORDER BY provider, hostname, id",
            (provider, include_deleted),
        )
        return [_server(row) for row in rows]

    # --- cluster components --------------------------------------------------------------

    def set_component(
        self,
        cluster: str,
        component: str,
        server: str,
        *,
        taskserv: str,
        status: str,
        version: str | None = None,
        message: str = "",
    ) -> None:
        """Record where ``component`` of ``cluster`` stands on ``server``."""
        with self._write() as db:
            db.execute(
                "INSERT INTO cluster_components (cluster, component, server, taskserv, version,"
                " status, message, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (cluster, component, server) DO UPDATE SET"
                " taskserv = excluded.taskserv, version = coalesce(excluded.version, version),"
                " status = excluded.status, message = excluded.message,"
                " updated_at = excluded.updated_at",
                (
                    cluster,
                    component,
                    server,
                    taskserv,
                    version,
                    status,
                    self._redact(message),
                    _iso(_now()),
                ),
            )

    def remove_component(self, cluster: str, component: str, server: str) -> None:
        """Forget ``component`` of ``cluster`` on ``server``: it is no longer there."""
        with self._write() as db:
            db.execute(
                "DELETE FROM cluster_components WHERE cluster = ? AND component = ? AND server = ?",
                (cluster, component, server),
            )

    def components(self, cluster: str) -> list[ComponentRecord]:
        """Every recorded placement of ``cluster``'s components, by component and server."""
        rows = self._query(
            "SELECT * FROM cluster_components WHERE cluster = ? ORDER BY component, server",
            (cluster,),
        )
        return [
            ComponentRecord(
                cluster=row["cluster"],
                component=row["component"],
                server=row["server"],
                taskserv=row["taskserv"],
                version=row["version"],
                status=row["status"],
                message=row["message"],
                updated_at=_parse(row["updated_at"]),
            )
            for row in rows
        ]


_MINUTE = 60
_HOUR = 3600


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime(_TIME_FORMAT)


def _parse(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z")  # %z reads the "Z"


def _parse_optional(text: str | None) -> datetime | None:
    return None if text is None else _parse(text)


def _ago(seconds: float) -> str:
    whole = max(0, int(seconds))
    if whole < 2 * _MINUTE:
        return f"{whole} s"
    if whole < 2 * _HOUR:
        return f"{whole // _MINUTE} min"
    return f"{whole // _HOUR} h"


def _use_wal(db: sqlite3.Connection) -> None:
    # Two processes creating the file at once can get SQLITE_BUSY here without
    # SQLite's busy handler being consulted, so wait here instead.  Where WAL is
    # impossible (some network filesystems) SQLite keeps its rollback journal,
    # which is slower but as safe.
    deadline = time.monotonic() + _BUSY_TIMEOUT
    while True:
        try:
            db.execute("PRAGMA journal_mode = WAL")
        except sqlite3.OperationalError as error:
            if "locked" not in str(error) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)
        else:
            return


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, under another user
        return True
    return True


def _server(row: sqlite3.Row) -> ServerRecord:
    return ServerRecord(
        provider=row["provider"],
        hostname=row["hostname"],
        server_id=row["server_id"],
        status=row["status"],
        plan=row["plan"],
        zone=row["zone"],
        ip_addresses=json.loads(row["ip_addresses"]),
        tags=json.loads(row["tags"]),
        created_at=_parse(row["created_at"]),
        updated_at=_parse(row["updated_at"]),
        deleted=bool(row["deleted"]),
        operation_id=row["operation_id"],
    )
