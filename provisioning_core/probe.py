"""The import probe: import one plugin in a child process, bounded in time and memory.

``prov plugin validate`` and ``prov plugin test`` probe a plugin before they
import it, and a load whose earlier import ended its process probes it again,
so that a plugin that calls ``os._exit``, hangs, crashes the interpreter or
eats memory at import is named instead of ending or hanging ``prov``.

The child is ``python -c`` running :func:`main` with the parent's
``sys.path`` (set before anything else is imported, so the working directory
cannot shadow the core or the plugin): it reads the extension as JSON on
stdin, imports it, and writes one result line on stdout.  Costs one
interpreter start and the import of the core and the plugin: about 0.12 s.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys

import attrs

from provisioning_core.models import DiscoveredExtension

__all__ = ["ProbeFailure", "probe_import"]


@attrs.frozen
class ProbeFailure:
    """What went wrong importing a plugin in the probe.

    ``fatal``: importing it in process would end, hang or exhaust the
    process (an exit, a signal, the deadline, memory), so it must not be
    imported there; otherwise the import only raised an ordinary error.
    """

    what: str
    fatal: bool


_RESULT = "PROV-PROBE-RESULT "
# sys is built in: nothing on the path can stand in for it
_BOOT = "import sys; sys.path[:] = sys.argv[1:]; from provisioning_core.probe import main; main()"
_FIELDS = ("kind", "name", "version", "source", "target", "distribution", "root")


def probe_import(
    found: DiscoveredExtension, *, timeout: float | None, memory_mb: int | None = None
) -> ProbeFailure | None:
    """None if ``found`` imports cleanly in a child process; else what went wrong.

    What went wrong reads after the plugin's name: "exited with code 3 while
    importing", "did not finish importing within 5 s", "was killed by signal
    SIGSEGV while importing", or the import's own error.  ``timeout`` (None:
    none) bounds the child's time, ``memory_mb`` (None or 0: none) its
    address space.
    """
    payload = json.dumps(
        {
            "extension": {f: getattr(found, f) for f in _FIELDS},
            "memory_mb": memory_mb,
        }
    )
    env = dict(os.environ)
    env.pop("PYTHONSTARTUP", None)
    with subprocess.Popen(  # noqa: S603 - our interpreter running our own module
        [sys.executable, "-c", _BOOT, *sys.path],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
        errors="replace",
        start_new_session=True,  # its own group: a timeout kills what it started
    ) as child:
        try:
            out, err = child.communicate(payload, timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.pid, signal.SIGKILL)
            child.communicate()
            return ProbeFailure(
                f"did not finish importing within {timeout:g} s (in a probe process, stopped)",
                fatal=True,
            )
    for line in reversed(out.splitlines()):
        if line.startswith(_RESULT):
            result = json.loads(line[len(_RESULT) :])
            error = result.get("error")
            if error is None:
                return None
            # in process there is no memory limit: a hog would eat the machine
            return ProbeFailure(str(error), fatal=str(error).startswith("ran out of memory"))
    code = child.returncode
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = str(-code)
        limit = f" (the probe's memory limit is {memory_mb} MiB)" if memory_mb else ""
        return ProbeFailure(f"was killed by signal {name} while importing{limit}", fatal=True)
    said = [line for line in err.splitlines() if line.strip()][-1:]
    return ProbeFailure(
        f"exited with code {code} while importing" + (f": {said[0]}" if said else ""),
        fatal=True,
    )


def _limit_memory(megabytes: int) -> None:
    """Cap this process's address space at ``megabytes`` (never above its hard limit)."""
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    size = megabytes * 1024 * 1024
    if hard != resource.RLIM_INFINITY:
        size = min(size, hard)
    resource.setrlimit(resource.RLIMIT_AS, (size, hard))


def main() -> None:
    """The child: import the extension described on stdin, say how it went."""
    request = json.loads(sys.stdin.read())
    if request.get("memory_mb"):
        _limit_memory(int(request["memory_mb"]))
    found = DiscoveredExtension(**request["extension"])
    # the result goes to the real stdout, whatever the plugin does with sys.stdout
    out = os.fdopen(os.dup(1), "w")
    from provisioning_core.errors import ProvisioningError
    from provisioning_core.extensions import import_plugin

    try:
        import_plugin(found)
    except ProvisioningError as exc:
        message = exc.message.split(": ", 1)[-1]  # without the label the parent adds
        cause = exc.__cause__
        if message.startswith("ran out of memory"):
            message += f" in a probe process limited to {request.get('memory_mb')} MiB"
        elif cause is not None:
            message = f"raised {type(cause).__name__} while importing: {cause}"
        result: dict[str, str | None] = {"error": message}
    else:
        result = {"error": None}
    out.write(_RESULT + json.dumps(result) + "\n")
    out.flush()
    os._exit(0)  # the plugin's threads and atexit handlers are not ours to wait for


if __name__ == "__main__":
    main()
