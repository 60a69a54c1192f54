"""Jobs: operations run in the background of a long-lived process (``prov serve``).

A job is one :class:`~provisioning_core.operations.requests.JobKind` with its
request, accepted at once and run on a small pool of threads, each on its own
:class:`Engine`.  Its progress (what the CLI prints on stderr while it works)
and its final report (what ``-o json`` prints) are kept with it.  A job that
changes something is recorded in the inventory before it runs ("queued"),
and every audit-trail operation it records names it, so ``prov operations
list`` shows HTTP work beside CLI work.  When the process ends with jobs in
flight they are cancelled and marked "interrupted"; one that was killed is
marked so by the next process to start (:meth:`Jobs.recover`).

A check-mode job writes nothing anywhere, its own record included: it lives
in memory only (the newest 1,000 finished ones), for as long as the process
does.

Jobs that change something run one at a time: each holds the inventory's
writer lock for its whole run, as a ``prov`` command does, so a second one
waits its turn ("queued", with a progress line saying so) instead of failing
on the lock.  Reads and check-mode jobs run beside them.  The worker threads
are daemons: a shutdown waits for running jobs as long as it says, then the
process may end.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from provisioning_core.convert import unstructure
from provisioning_core.errors import ProvisioningError
from provisioning_core.operations.engine import Engine
from provisioning_core.operations.report import error_message, report_data
from provisioning_core.operations.requests import JOB_KINDS, JobKind

if TYPE_CHECKING:
    from provisioning_core.config import Config
    from provisioning_core.state import Inventory, JobRecord

__all__ = ["Job", "Jobs"]

logger = logging.getLogger("provisioning.jobs")

_KEPT_IN_MEMORY = 1000  # finished jobs remembered by a process (persisted ones stay on disk)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


class Job:
    """One job: its request, where it is, what it said, how it ended."""

    def __init__(self, kind: JobKind, request: Any, *, check: bool) -> None:
        self.id = uuid.uuid4().hex
        self.kind = kind
        self.request = request
        self.check = check
        self.status = "queued"
        self.created_at = _now()
        self.started_at: datetime | None = None
        self.finished_at: datetime | None = None
        self.progress: list[dict[str, Any]] = []
        self.report: dict[str, Any] | None = None
        self.error: str | None = None
        self.hint: str | None = None
        self.exit_code: int | None = None
        self.engine: Engine | None = None
        self.cancelled = False
        self.done = threading.Event()
        #: held while the job's end is written: the first end written is the one kept
        self.ending = threading.Lock()
        self._when_done: list[Callable[[], object]] = []

    def when_done(self, callback: Callable[[], object]) -> None:
        """Call ``callback`` (from whichever thread ends the job) once it has ended."""
        with self.ending:
            if not self.done.is_set():
                self._when_done.append(callback)
                return
        callback()

    @property
    def persisted(self) -> bool:
        """Whether the job is recorded in the inventory (check-mode jobs are not)."""
        return not self.check

    def data(self, operations: list[int] | None = None) -> dict[str, Any]:
        """The job as the HTTP API returns it."""
        return {
            "id": self.id,
            "kind": self.kind.name,
            "target": self.kind.target(self.request),
            "check": self.check,
            "status": self.status,
            "request": unstructure(self.request),
            "created_at": _iso(self.created_at),
            "started_at": _iso(self.started_at),
            "finished_at": _iso(self.finished_at),
            "progress": list(self.progress),
            "report": self.report,
            "error": self.error,
            "hint": self.hint,
            "exit_code": self.exit_code,
            "operations": operations or [],
        }


def record_data(record: JobRecord, operations: list[int]) -> dict[str, Any]:
    """A job read back from the inventory (an earlier process's), as the API returns it."""
    kind = JOB_KINDS.get(record.kind)
    target = ""
    if kind is not None:
        try:
            target = kind.target(kind.parse(record.request))
        except ProvisioningError:
            target = ""
    return {
        "id": record.id,
        "kind": record.kind,
        "target": target,
        "check": False,
        "status": record.status,
        "request": record.request,
        "created_at": _iso(record.created_at),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "progress": record.progress,
        "report": record.report,
        "error": record.error,
        "hint": None,
        "exit_code": record.exit_code,
        "operations": operations,
    }


class Jobs:
    """Runs jobs on ``workers`` threads, each with an engine built from ``config()``.

    ``config`` is called once per job, so a job sees the configuration as it
    is when it starts (its secrets are resolved from this process's
    environment).  ``command`` names the process in the inventory lock.
    """

    def __init__(
        self, config: Callable[[], Config], *, workers: int = 4, command: str = "prov serve"
    ) -> None:
        self._config = config
        self._command = command
        self._queue: queue.SimpleQueue[Job | None] = queue.SimpleQueue()
        self._workers = [
            threading.Thread(target=self._work, name=f"prov-job-{i}", daemon=True)
            for i in range(workers)
        ]
        for worker in self._workers:
            worker.start()
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        #: held by the job that changes something, for its whole run
        self._writer = threading.Lock()
        self._inventory: Inventory | None = None
        self._inventory_lock = threading.Lock()
        self._closing = False

    # -- the inventory of jobs ---------------------------------------------------

    def _store(self) -> Inventory:
        with self._inventory_lock:
            if self._inventory is None:
                from provisioning_core.state import Inventory

                config = self._config()
                self._inventory = Inventory(
                    secrets=config.secrets(), lock_timeout=config.operations.lock_timeout
                )
            return self._inventory

    def recover(self) -> list[str]:
        """Mark "interrupted" the jobs an earlier server left unfinished; their ids."""
        from provisioning_core.paths import inventory_path

        if not inventory_path().exists():
            return []
        return self._store().interrupt_orphaned_jobs()

    # -- submitting -----------------------------------------------------------------

    def submit(self, kind: JobKind, request: Any, *, check: bool = False) -> Job:
        """Accept a job (already parsed and checked by ``kind.prepare``) and queue it."""
        job = Job(kind, request, check=check)
        with self._lock:  # against a shutdown beginning meanwhile
            if self._closing:
                raise ProvisioningError(
                    "the server is shutting down and takes no new jobs",
                    hint="send the request again once it is back",
                )
            if job.persisted:
                self._store().create_job(job.id, kind.name, unstructure(request))
            self._jobs[job.id] = job
            self._forget_old()
            self._queue.put(job)
        return job

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:  # the shutdown's signal to this worker
                return
            try:
                self._run(job)
            except BaseException as exc:  # a worker outlives any job (a plugin's SystemExit too)
                logger.exception("job %s (%s) failed unexpectedly", job.id, job.kind.name)
                self._finish(job, "failed", error=f"internal error: {error_message(exc)}")

    def _forget_old(self) -> None:
        finished = [j for j in self._jobs.values() if j.done.is_set()]
        for job in finished[: max(0, len(self._jobs) - _KEPT_IN_MEMORY)]:
            del self._jobs[job.id]

    # -- running ------------------------------------------------------------------------

    def _hear(self, job: Job) -> Callable[[str, str], None]:
        def hear(target: str, message: str) -> None:
            entry = {"at": _iso(_now()), "target": target, "message": message}
            job.progress.append(entry)
            if job.persisted:
                try:
                    self._store().add_job_progress(job.id, entry)
                except ProvisioningError as exc:  # progress is not worth failing the job
                    logger.warning("job %s: progress not recorded: %s", job.id, exc.message)

        return hear

    def _run(self, job: Job) -> None:
        if job.cancelled:
            self._finish(job, "interrupted", error="the server shut down before the job started")
            return
        if job.check:
            self._execute(job)
            return
        if not self._writer.acquire(blocking=False):
            self._hear(job)("", "waiting for the job that is changing things to finish")
            while not self._writer.acquire(timeout=0.5):
                if job.cancelled:
                    self._finish(
                        job, "interrupted", error="the server shut down before the job started"
                    )
                    return
        try:
            if job.cancelled:
                self._finish(
                    job, "interrupted", error="the server shut down before the job started"
                )
                return
            self._execute(job)
        finally:
            self._writer.release()

    def _execute(self, job: Job) -> None:
        job.status = "running"
        job.started_at = _now()
        try:
            if job.persisted:
                self._store().start_job(job.id)
            engine = Engine(
                self._config(),
                check=job.check,
                reporter=self._hear(job),
                command=f"{self._command}: job {job.id} ({job.kind.name})",
                job=job.id,
            )
        except ProvisioningError as exc:
            job.hint = exc.hint
            self._finish(job, "failed", error=exc.message, exit_code=exc.exit_code)
            return
        job.engine = engine
        try:
            with engine:
                report = job.kind.run(engine, job.request)
        except ProvisioningError as exc:
            job.hint = exc.hint
            status = "interrupted" if job.cancelled else "failed"
            self._finish(job, status, error=exc.message, exit_code=exc.exit_code)
        except Exception as exc:  # a bug: the job fails, named; the server keeps serving
            logger.exception("job %s (%s) failed unexpectedly", job.id, job.kind.name)
            self._finish(job, "failed", error=f"internal error: {error_message(exc)}", exit_code=1)
        else:
            # the report says what happened, a cancellation included (an interrupted wait
            # is its own outcome): work that ended well during a shutdown succeeded
            if report.interrupted or report.exit_code == 130:  # noqa: PLR2004 - interrupted
                status = "interrupted"
            else:
                status = "succeeded" if report.ok else "failed"
            self._finish(job, status, report=report_data(report), exit_code=report.exit_code)
        finally:
            job.engine = None

    def _finish(
        self,
        job: Job,
        status: str,
        *,
        report: dict[str, Any] | None = None,
        error: str | None = None,
        exit_code: int | None = None,
    ) -> bool:
        """Write the job's end, once: False if it had ended already (the first end is kept)."""
        with job.ending:
            if job.done.is_set():
                return False
            job.report = report
            job.error = error
            job.exit_code = (
                exit_code if exit_code is not None else (0 if status == "succeeded" else 1)
            )
            job.finished_at = _now()
            job.status = status  # last: a reader seeing the end sees all of it
            if job.persisted:
                try:
                    self._store().finish_job(
                        job.id, status, report=report, error=error, exit_code=job.exit_code
                    )
                except ProvisioningError as exc:
                    logger.warning("job %s: its end was not recorded: %s", job.id, exc.message)
            job.done.set()
            callbacks, job._when_done = job._when_done, []
        for callback in callbacks:
            callback()
        return True

    # -- reading ------------------------------------------------------------------------

    def get(self, job_id: str) -> dict[str, Any] | None:
        """The job ``job_id`` (this process's, or one recorded earlier), or None."""
        with self._lock:
            job = self._jobs.get(job_id)
        from provisioning_core.paths import inventory_path

        stored = inventory_path().exists()
        if job is not None:
            ops = [o.id for o in self._store().job_operations(job.id)] if job.persisted else []
            return job.data(ops)
        if not stored:
            return None
        record = self._store().job(job_id)
        if record is None:
            return None
        return record_data(record, [o.id for o in self._store().job_operations(job_id)])

    def job(self, job_id: str) -> Job | None:
        """This process's job ``job_id`` (for waiting on it), or None."""
        with self._lock:
            return self._jobs.get(job_id)

    def recent(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        """The newest jobs first: this process's check-mode jobs and every recorded one."""
        with self._lock:
            live = {j.id: j for j in self._jobs.values()}
        rows: dict[str, dict[str, Any]] = {}
        from provisioning_core.paths import inventory_path

        if inventory_path().exists():
            for record in self._store().jobs(limit=limit, status=status):
                rows[record.id] = (
                    live[record.id].data() if record.id in live else record_data(record, [])
                )
        for job in live.values():
            if job.check and (status is None or job.status == status):
                rows[job.id] = job.data()
        ordered = sorted(rows.values(), key=lambda r: r["created_at"] or "", reverse=True)
        for row in ordered:  # listings stay small: the progress is in each job's own view
            row.pop("progress", None)
        return ordered[:limit]

    # -- ending -------------------------------------------------------------------------

    def shutdown(self, timeout: float = 10.0) -> list[str]:
        """Take no new jobs, cancel those in flight, give them ``timeout`` seconds to end.

        Jobs still running then are recorded "interrupted" (their threads are
        daemons: they end with the process; a job that ends later keeps the
        record written here).  Returns the ids of the jobs interrupted.
        """
        with self._lock:
            self._closing = True
            pending = [j for j in self._jobs.values() if not j.done.is_set()]
        for job in pending:
            job.cancelled = True
            if job.engine is not None:
                job.engine.executor.cancelled.set()
        deadline = _now().timestamp() + timeout
        for job in pending:
            job.done.wait(max(0.0, deadline - _now().timestamp()))
        interrupted = []
        for job in pending:
            self._finish(
                job,
                "interrupted",
                error="the server shut down while the job ran; what it did so far is in "
                "the audit trail",
            )
            if job.status == "interrupted":
                interrupted.append(job.id)
        for _ in self._workers:
            self._queue.put(None)
        with self._inventory_lock:
            if self._inventory is not None:
                self._inventory.close()
                self._inventory = None
        return interrupted
