"""The runtime: commands, steps and downloads on a server, over SSH and locally.

Three comparisons, each against baselines measured in the same run:

- a command round trip (``true``) over SshTransport's persistent connection,
  against LocalTransport (a subprocess per command) and against a new
  SshTransport per command (connect + run + close);
- ``apply_steps`` of an idempotent recipe where nothing needs changing (a
  re-install's steady state) over SSH, against the same in check mode and
  through LocalTransport;
- a 20 MB Download: first time (fetch + verify + upload), cached (upload
  only), already on the host (the digest matches: nothing moves).

The SSH peer is an asyncssh server on 127.0.0.1 in this process
(``sshpeer.py``); the HTTP peer is http.server on 127.0.0.1.  Both, and
the sandbox they serve, live under ``root``; PROV_HOME (and so the download
cache) is run.py's temporary one.  Imported by run.py only after PROV_HOME
points at a temporary directory.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import shlex
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from cases import Report, fmt_seconds
from sshpeer import SshPeer
from timing import Timing, each, each_round

from provisioning_core.runtime import (
    Command,
    Directory,
    Download,
    File,
    Host,
    LocalTransport,
    SshTransport,
    Step,
    Transport,
    apply_steps,
    download_cache,
)

BLOB_BYTES = 20_000_000  # the Download's file (20 MB)
BLOB_PATH = "/opt/benchapp/benchapp.bin"  # logical, on the host
MARKER = "/var/lib/benchapp/.initialised"  # the Command's `creates`
TEMPLATE = """\
# written by {{ tool }}
listen: {{ listen }}:{{ port }}
workers: {{ workers }}
peers:
{%- for peer in peers %}
  - {{ peer }}
{%- endfor %}
"""


def run_runtime(report: Report, root: Path, *, quick: bool) -> None:
    """Round trips, a steady recipe and a download, over SSH against their baselines."""
    base = root / "runtime"
    sandbox = base / "sandbox"
    sandbox.mkdir(parents=True)
    sandbox = sandbox.resolve()  # Host compares real paths
    blob = os.urandom(BLOB_BYTES)
    with ExitStack() as stack:  # whatever started is stopped, in reverse, even on a failure
        peer = SshPeer(sandbox, base / "keys")
        stack.callback(peer.close)
        server = _BlobServer(blob)
        stack.callback(server.close)
        ssh_host = stack.enter_context(Host(SshTransport(peer.access()), name="bench-ssh"))
        local_host = stack.enter_context(Host(LocalTransport(root=sandbox), name="bench-local"))
        _round_trips(report, peer, ssh_host, local_host, n=10 if quick else 40)
        _recipe(report, peer, ssh_host, local_host, n=8 if quick else 25)
        _downloads(report, server, ssh_host, blob, n=3 if quick else 12)
    import asyncssh

    report.meta["runtime"] = {
        "peer": f"asyncssh {asyncssh.__version__} server on 127.0.0.1, in this process "
        "(it shares the GIL with the client)",
        "sandbox": "one directory, reached over SSH and through LocalTransport",
        "download_bytes": BLOB_BYTES,
    }


def _ok(transport: Transport, command: str = "true") -> Callable[[], None]:
    """One ``command`` through ``transport``, which must succeed."""

    def call() -> None:
        result = transport.run(command)
        if not result.ok:
            raise RuntimeError(f"{command!r} on {transport.name} exited {result.exit_status}")

    return call


def _round_trips(
    report: Report, peer: SshPeer, ssh_host: Host, local_host: Host, *, n: int
) -> None:
    """1: ``true`` over the persistent connection, a subprocess, a new connection each."""
    access = peer.access()

    def reconnect() -> None:
        transport = SshTransport(access)
        try:
            _ok(transport)()
        finally:
            transport.close()

    # the warm-up round opens the persistent connection
    persistent, local, fresh = each_round(
        [_ok(ssh_host.transport), _ok(local_host.transport), reconnect],
        n=n,
    )
    report.time("runtime.rtt.ssh", "round trip 'true', SshTransport, persistent", persistent)
    report.time(
        "runtime.rtt.local", "round trip 'true', LocalTransport: a subprocess (baseline)", local
    )
    report.time(
        "runtime.rtt.ssh_new",
        "round trip 'true', new SshTransport: connect+run+close",
        fresh,
        note="the host key is given (SshAccess.host_key): no known_hosts file",
    )
    report.ratio(
        "ratio.rtt_new_vs_persistent",
        "new connection per command / persistent",
        "runtime.rtt.ssh_new",
        "runtime.rtt.ssh",
        at_least=1.0,
        words=("persistent pays", "persistent does NOT pay"),
        target="> 1x",
        note=f"saves {_delta(fresh, persistent)} per command; " + _min_ratio(fresh, persistent),
    )
    report.ratio(
        "ratio.rtt_ssh_vs_local",
        "SSH persistent / LocalTransport",
        "runtime.rtt.ssh",
        "runtime.rtt.local",
        note=_min_ratio(persistent, local),
    )


def recipe(host: Host) -> list[Step]:
    """A Directory, three Files (one a template) and a Command with ``creates``."""
    var = shlex.quote(host.path("/var/lib/benchapp"))
    context = {
        "tool": "bench/run.py",
        "listen": "0.0.0.0",
        "port": 8080,
        "workers": 4,
        "peers": ["10.0.0.2", "10.0.0.3", "10.0.0.4"],
    }
    return [
        Directory("/etc/benchapp", 0o750),
        File("/etc/benchapp/app.env", "BENCHAPP_MODE=steady\nBENCHAPP_WORKERS=4\n", mode=0o640),
        File("/etc/benchapp/motd", "benchapp: managed by provisioning\n"),
        File("/etc/benchapp/config.yaml", template=TEMPLATE, context=context),
        Command(
            f"mkdir -p -- {var} && touch -- {shlex.quote(host.path(MARKER))}",
            creates=MARKER,
            description="initialise benchapp",
        ),
    ]


def _recipe(report: Report, peer: SshPeer, ssh_host: Host, local_host: Host, *, n: int) -> None:
    """2: the recipe where nothing needs changing; SSH, SSH in check mode, LocalTransport."""
    ssh_steps, local_steps = recipe(ssh_host), recipe(local_host)
    first = apply_steps(ssh_host, ssh_steps, check=False)  # untimed: the first install
    if first.message != f"{len(ssh_steps)} changes made":
        raise RuntimeError(f"the first apply of the recipe: {first.message}, expected one each")

    def steady(host: Host, steps: Sequence[Step], *, check: bool) -> Callable[[], None]:
        def call() -> None:
            result = apply_steps(host, steps, check=check)
            if result.changed:
                raise RuntimeError(f"the steady recipe changed on {host.name}: {result.actions}")

        return call

    cases = [
        steady(ssh_host, ssh_steps, check=False),
        steady(ssh_host, ssh_steps, check=True),
        steady(local_host, local_steps, check=False),
    ]
    counts = []
    for case in cases[:2]:  # untimed: what one apply costs in SSH commands
        before = peer.sessions
        case()
        counts.append(peer.sessions - before)
    commands, check_commands = counts
    applied, checked, local = each_round(cases, n=n)
    rtt = report.get("runtime.rtt.ssh").timing
    assert rtt is not None
    report.time(
        "runtime.recipe.ssh",
        f"apply_steps, steady recipe ({len(ssh_steps)} steps), SSH",
        applied,
        note=f"nothing to change; {commands} commands per apply",
    )
    report.time(
        "runtime.recipe.ssh_check",
        "  the same in check mode, SSH",
        checked,
        note=f"{check_commands} commands per apply",
    )
    report.time(
        "runtime.recipe.local",
        "  the same through LocalTransport (baseline)",
        local,
        note="a subprocess per command",
    )
    report.time(
        "runtime.recipe.rtt_floor",
        f"  {commands} round trips over SSH, computed (baseline)",
        Timing([commands * rtt.median]),
        note="the first row's round trip times the commands",
    )
    report.ratio(
        "ratio.recipe_check_vs_apply",
        "steady recipe, check mode / apply (SSH)",
        "runtime.recipe.ssh_check",
        "runtime.recipe.ssh",
        note=_min_ratio(checked, applied),
    )
    report.ratio(
        "ratio.recipe_ssh_vs_local",
        "steady recipe, SSH / LocalTransport",
        "runtime.recipe.ssh",
        "runtime.recipe.local",
        note=_min_ratio(applied, local),
    )
    report.ratio(
        "ratio.recipe_vs_round_trips",
        "steady recipe over SSH / its round trips",
        "runtime.recipe.ssh",
        "runtime.recipe.rtt_floor",
        note=f"ratio of mins {applied.min / (commands * rtt.min):.2f}x; "
        "over 1x: rendering, diffing, parsing",
    )


class _BlobServer:
    """http.server on 127.0.0.1 serving one body at /benchapp.bin; counts the GETs."""

    def __init__(self, body: bytes) -> None:
        self.gets = 0
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.gets += 1
                found = self.path == "/benchapp.bin"
                self.send_response(200 if found else 404)
                self.send_header("Content-Length", str(len(body) if found else 0))
                self.end_headers()
                if found:
                    self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass  # no request lines on stderr in the middle of the report

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/benchapp.bin"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="bench http", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(10)


def _downloads(report: Report, server: _BlobServer, host: Host, blob: bytes, *, n: int) -> None:
    """3: first time, from the cache, already on the host; over SSH."""
    digest = hashlib.sha256(blob).hexdigest()
    steps = [Download(server.url, BLOB_PATH, sha256=digest)]
    cached = download_cache() / digest

    def apply(*, changes: bool) -> Callable[[], None]:
        def call() -> None:
            result = apply_steps(host, steps, check=False)
            if result.changed != changes:
                raise RuntimeError(f"Download on {host.name}: {result.message}, unexpected")

        return call

    def forget_all() -> None:
        cached.unlink(missing_ok=True)
        host.remove(BLOB_PATH)

    gets_before = server.gets
    first, from_cache, present = _rounds(
        [
            (apply(changes=True), forget_all),
            (apply(changes=True), lambda: host.remove(BLOB_PATH)),
            (apply(changes=False), None),
        ],
        n=n,
    )
    gets = server.gets - gets_before
    rounds = n + 1  # with the warm-up round
    mb = BLOB_BYTES / 1e6
    report.time(
        "runtime.download.first",
        f"Download {mb:.0f} MB, first time: fetch+verify+upload, SSH",
        first,
        note=f"{gets} GETs in {rounds} rounds" + ("" if gets == rounds else ": EXPECTED ONE EACH"),
    )
    report.time(
        "runtime.download.cached",
        f"Download {mb:.0f} MB, cached: upload only, SSH (baseline)",
        from_cache,
        note=f"~{mb / from_cache.median:.0f} MB/s end to end; no GET",
    )
    report.time(
        "runtime.download.present",
        f"Download {mb:.0f} MB, on the host already: nothing moves",
        present,
        note="one remote sha256sum and a stat",
    )
    report.ratio(
        "ratio.download_first_vs_cached",
        "Download, first time / cached",
        "runtime.download.first",
        "runtime.download.cached",
        note=f"the fetch and verify cost {_delta(first, from_cache)}; "
        + _min_ratio(first, from_cache),
    )
    report.ratio(
        "ratio.download_cached_vs_present",
        "Download, cached / already on the host",
        "runtime.download.cached",
        "runtime.download.present",
        note=f"the upload costs {_delta(from_cache, present)}; " + _min_ratio(from_cache, present),
    )


def _rounds(
    cases: Sequence[tuple[Callable[[], object], Callable[[], object] | None]],
    *,
    n: int,
    warmup: int = 1,
) -> list[Timing]:
    """Like timing.each_round, with untimed preparation (``before``) ahead of each call."""
    samples: list[list[float]] = [[] for _ in cases]
    order = list(enumerate(cases))
    for i in range(warmup + n):
        for k, (fn, before) in order if i % 2 == 0 else reversed(order):
            timing = each(fn, n=1, before=before, warmup=0)
            if i >= warmup:
                samples[k].extend(timing.samples)
    return [Timing(times) for times in samples]


def _delta(top: Timing, bottom: Timing) -> str:
    """The difference of the medians; negative when noise outweighs it."""
    difference = top.median - bottom.median
    return ("-" if difference < 0 else "") + fmt_seconds(abs(difference))


def _min_ratio(top: Timing, bottom: Timing) -> str:
    return f"ratio of mins {top.min / bottom.min:.2f}x"


SECTIONS: dict[str, Callable[..., None]] = {"runtime": run_runtime}
