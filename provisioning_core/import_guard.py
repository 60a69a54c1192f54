"""Importing a plugin where a hang, or an exit, can be bounded.

Three parts, used by :class:`~provisioning_core.ExtensionManager`:

- :func:`import_with_deadline` runs an import in a worker thread and gives up
  waiting after a deadline (``[orchestrator.extensions] import_timeout``); an
  import still running is asked to stop (an exception raised in its thread,
  which ends a loop in Python code) and abandoned, a daemon thread that dies
  with the process.
- :class:`ImportLedger` writes a marker before each in-process import and
  removes it after.  A marker whose process is gone names a plugin that
  ended its importer (``os._exit``, a crash) or was being imported when the
  process was killed; the next load probes it before importing it.  It also
  keeps the verdicts of probes (:mod:`provisioning_core.probe`) per
  extension and version, so a plugin known to end or hang its importer is
  refused before it is imported.
- the probe itself lives in :mod:`provisioning_core.probe`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import attrs

from provisioning_core.models import DiscoveredExtension

__all__ = [
    "ImportAbandoned",
    "ImportLedger",
    "ImportTimedOut",
    "Verdict",
    "import_with_deadline",
    "still_importing",
]

T = TypeVar("T")


class ImportTimedOut(Exception):
    """An import did not finish within its deadline; it was abandoned."""


class ImportAbandoned(BaseException):
    """Raised inside an abandoned import's thread to stop it (never seen by callers)."""


#: target -> the thread still running its abandoned import, process-wide as
#: sys.modules is: importing it again would wait on that thread's module lock
_ABANDONED: dict[str, threading.Thread] = {}


def still_importing(target: str) -> bool:
    """Whether an abandoned import of ``target`` is still running in this process."""
    thread = _ABANDONED.get(target)
    if thread is not None and not thread.is_alive():
        del _ABANDONED[target]
        return False
    return thread is not None


def import_with_deadline(load: Callable[[], T], seconds: float | None, target: str) -> T:
    """``load()`` run in a worker thread, waited for at most ``seconds`` (None: no deadline).

    Raises :class:`ImportTimedOut` past the deadline, and whatever ``load``
    raised (``SystemExit`` included) otherwise.
    """
    if not seconds:
        return load()
    box: dict[str, Any] = {}

    def run() -> None:
        try:
            box["value"] = load()
        except BaseException as exc:  # handed to the waiting thread; ImportAbandoned ends here
            box["error"] = exc

    worker = threading.Thread(target=run, name=f"import-{target}", daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _ABANDONED[target] = worker
        _stop(worker)
        raise ImportTimedOut(seconds)
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def _stop(thread: threading.Thread) -> None:
    """Raise :class:`ImportAbandoned` in ``thread`` at its next Python instruction.

    A loop in Python code stops; a thread blocked in one C call (a sleep, a
    socket read) stops only when that call returns.
    """
    import ctypes  # only on this rare path: it costs an import

    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(thread.ident), ctypes.py_object(ImportAbandoned)
        )


@attrs.frozen
class Verdict:
    """What is known to go wrong when ``kind``/``name`` at ``version`` is imported.

    ``source`` is "probe" (a probe process saw it) or "earlier run" (a process
    ended while importing it, which may also have been killed by someone
    else: such a verdict is checked by a probe before it is trusted).
    """

    kind: str
    name: str
    version: str
    distribution: str | None
    what: str
    source: str
    at: float

    @property
    def when(self) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(self.at))


def _key(found: DiscoveredExtension) -> str:
    return f"{found.kind.value}\0{found.name}\0{found.version}\0{found.target}"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process: alive
        return True
    return True


class ImportLedger:
    """Markers of imports in flight, and verdicts on plugins, under ``directory``.

    Costs one small file written and removed per cold load (a few tens of
    microseconds), and a directory listing.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._markers = directory / "importing"
        self._verdicts = directory / "import-verdicts.json"
        self._count = 0
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def importing(self, found: DiscoveredExtension) -> Iterator[None]:
        """Mark ``found`` as being imported by this process while the block runs.

        The marker stays behind only when the process ends inside the block.
        """
        with self._lock:
            self._count += 1
            marker = self._markers / f"{os.getpid()}-{self._count}.json"
        record = {
            "key": _key(found),
            "kind": found.kind.value,
            "name": found.name,
            "version": found.version,
            "distribution": found.distribution,
            "pid": os.getpid(),
            "at": time.time(),
        }
        try:
            self._markers.mkdir(parents=True, exist_ok=True)
            marker.write_text(json.dumps(record), encoding="utf-8")
        except OSError:  # a read-only cache only loses the record of a crash
            marker = None  # type: ignore[assignment]
        try:
            yield
        finally:
            if marker is not None:
                with contextlib.suppress(OSError):
                    marker.unlink()

    def verdict(self, found: DiscoveredExtension) -> Verdict | None:
        """What is known against ``found`` at its version, if anything."""
        return self.verdicts().get(_key(found))

    def verdicts(self) -> dict[str, Verdict]:
        """Every verdict, by the key :meth:`verdict_for` gives (markers collected first)."""
        self._collect()
        found = {}
        for key, raw in self._read().items():
            try:
                found[key] = Verdict(**raw)
            except TypeError:  # written by another version: ignored
                continue
        return found

    @staticmethod
    def verdict_for(found: DiscoveredExtension, verdicts: dict[str, Verdict]) -> Verdict | None:
        """The verdict of ``found`` among ``verdicts`` (see :meth:`verdicts`)."""
        return verdicts.get(_key(found))

    def record(self, found: DiscoveredExtension, what: str, source: str = "probe") -> Verdict:
        """Remember that importing ``found`` ``what`` (e.g. "exited with code 3 ...")."""
        verdict = Verdict(
            found.kind.value,
            found.name,
            found.version,
            found.distribution,
            what,
            source,
            time.time(),
        )
        with self._lock:
            data = self._read()
            data[_key(found)] = attrs.asdict(verdict)
            self._write(data)
        return verdict

    def clear(self, found: DiscoveredExtension) -> None:
        """Forget any verdict against ``found`` (a probe found it imports fine)."""
        with self._lock:
            data = self._read()
            if data.pop(_key(found), None) is not None:
                self._write(data)

    def _collect(self) -> None:
        """Turn the markers of processes that are gone into "earlier run" verdicts."""
        try:
            markers = list(self._markers.iterdir())
        except OSError:
            return
        for marker in markers:
            pid_text = marker.name.split("-", 1)[0]
            if not pid_text.isdigit() or int(pid_text) == os.getpid() or _alive(int(pid_text)):
                continue
            try:
                record = json.loads(marker.read_text(encoding="utf-8"))
                with self._lock:
                    data = self._read()
                    data.setdefault(
                        record["key"],
                        {
                            "kind": record["kind"],
                            "name": record["name"],
                            "version": record["version"],
                            "distribution": record["distribution"],
                            "what": f"the process importing it (pid {record['pid']}) ended "
                            "before the import finished",
                            "source": "earlier run",
                            "at": record["at"],
                        },
                    )
                    self._write(data)
            except (OSError, ValueError, KeyError):
                pass
            with contextlib.suppress(OSError):
                marker.unlink()

    def _read(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self._verdicts.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def _write(self, data: dict[str, dict[str, Any]]) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            partial = self._verdicts.with_name(f"{self._verdicts.name}.{os.getpid()}.tmp")
            partial.write_text(json.dumps(data, indent=1), encoding="utf-8")
            partial.replace(self._verdicts)
        except OSError:
            pass
