"""The HTTP API (``prov serve``) against a bare hello-world of the same framework, same run.

- throughput and latency of ``GET /api/v1/extensions/loaded`` (one extension
  loaded; token auth on, the masked envelope, the access log) at 1, 10 and 50
  concurrent clients, against a bare FastAPI endpoint on uvicorn returning
  the same-sized body, started the same way in a process of its own (goal:
  >= 0.7x its throughput); both are taken in turn, round by round;
- errors over every request sent (goal: 0 of at least 1,000);
- the server's resident memory after its first 100 requests and after
  10,000 more (no growth beyond noise), measured first, on the fresh server.

The clients are one asyncio loop in this process (httpx, keep-alive
connections), the same for both servers, so the ratio is the servers' own.
On 2 cores client and server share the machine: absolute figures are low,
the ratio is what to read.  Needs the ``[api]`` extra and httpx; the section
reports itself as failed without them.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cases import Report
from timing import Timing

CONCURRENCY = (1, 10, 50)
TOKEN = "bench-token-0123456789abcdef"
_LISTENING = re.compile(r"listening on (http://\S+)")

# the baseline: the same framework and server, one endpoint, nothing of ours
_HELLO = textwrap.dedent(
    """
    import socket, sys
    import uvicorn
    from fastapi import FastAPI

    app = FastAPI()
    BODY = {"success": True, "data": [{"metadata": {"name": "x" * 12}, "path": None}]}

    @app.get("/hello")
    def hello():
        return BODY

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)  # as prov serve
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    print("listening on http://127.0.0.1:%d" % sock.getsockname()[1], file=sys.stderr, flush=True)
    uvicorn.Server(uvicorn.Config(app, log_config=None)).run(sockets=[sock])
    """
)


class _Process:
    """A server process whose output is drained, and its URL once it says where it listens."""

    def __init__(self, argv: list[str], env: dict[str, str], cwd: Path) -> None:
        self.process = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, text=True,
        )  # fmt: skip
        self.lines: list[str] = []
        ready = threading.Event()
        found: list[str] = []

        def drain() -> None:
            assert self.process.stdout is not None
            for line in self.process.stdout:
                self.lines.append(line)
                match = _LISTENING.search(line)
                if match and not found:
                    found.append(match.group(1))
                    ready.set()
            ready.set()

        self.reader = threading.Thread(target=drain, daemon=True)
        self.reader.start()
        if not ready.wait(60) or not found:
            self.stop()
            raise RuntimeError("a server did not start:\n" + "".join(self.lines[-20:]))
        self.url = found[0]

    def rss_kib(self) -> int:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self.reader.join(10)
        if self.process.stdout is not None:
            self.process.stdout.close()


async def _load(
    url: str, path: str, headers: dict[str, str], clients: int, requests: int
) -> tuple[float, list[float], int]:
    """``requests`` GETs spread over ``clients`` connections: wall seconds, latencies, errors."""
    import httpx

    latencies: list[float] = []
    errors = 0
    per_client = max(1, requests // clients)
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, headers=headers, limits=limits, timeout=60) as c:
        await c.get(path)  # connections warm, imports done

        async def client() -> None:
            nonlocal errors
            for _ in range(per_client):
                started = time.perf_counter()
                try:
                    answer = await c.get(path)
                    if answer.status_code != 200:
                        errors += 1
                except httpx.HTTPError:
                    errors += 1
                latencies.append(time.perf_counter() - started)

        started = time.perf_counter()
        await asyncio.gather(*(client() for _ in range(clients)))
        return time.perf_counter() - started, latencies, errors


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def run_api(report: Report, root: Path, *, quick: bool) -> None:
    import fastapi  # noqa: F401 - the section needs the [api] extra
    import httpx  # noqa: F401

    work = root / "api-work"
    work.mkdir()
    env = dict(os.environ)
    env["PROV_HOME"] = str(root / "api-home")
    env["PROV_API_TOKEN"] = TOKEN
    api = _Process([sys.executable, "-m", "provisioning_core", "serve", "--port", "0"], env, work)
    hello = _Process([sys.executable, "-c", _HELLO], env, work)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    try:
        loaded = _load_one(api.url, auth)
        memory = _memory_row(api, auth)  # on the fresh server, before the throughput runs
        rounds = 3 if quick else 5
        total_requests = total_errors = 0
        for clients in CONCURRENCY:
            requests = 200 if clients == 1 else (600 if quick else 1500)
            timings: dict[str, list[float]] = {"api": [], "hello": []}
            lat: dict[str, list[float]] = {"api": [], "hello": []}
            targets: dict[str, tuple[str, str, dict[str, str]]] = {
                "api": (api.url, "/api/v1/extensions/loaded", auth),
                "hello": (hello.url, "/hello", {}),
            }
            for _ in range(rounds):
                for name, (url, path, headers) in targets.items():
                    wall, latencies, errors = asyncio.run(
                        _load(url, path, headers, clients, requests)
                    )
                    timings[name].append(wall / len(latencies))
                    lat[name] += latencies
                    if name == "api":
                        total_requests += len(latencies)
                        total_errors += errors
            for name in ("api", "hello"):
                t = Timing(timings[name], calls_per_sample=requests)
                what = "GET /api/v1/extensions/loaded" if name == "api" else "bare hello (baseline)"
                report.time(
                    f"api.{name}.c{clients}",
                    f"{what}, {clients} client(s), per request",
                    t,
                    note=f"{1 / t.median:,.0f} req/s; p50 {_ms(lat[name], 0.5)}, "
                    f"p99 {_ms(lat[name], 0.99)}",
                )
            report.ratio(
                f"ratio.api_throughput_c{clients}",
                f"throughput: prov serve / bare hello, {clients} client(s)",
                f"api.hello.c{clients}",
                f"api.api.c{clients}",
                at_least=0.7,
                note="token check, the masked envelope, the access log",
            )
        report.rows.append(_errors_row(total_requests, total_errors))
        report.rows.append(memory)
    finally:
        api.stop()
        hello.stop()
    report.meta["api"] = {
        "servers": "prov serve and a bare FastAPI app, each on uvicorn in its own process",
        "loaded": loaded,
    }


def _load_one(url: str, auth: dict[str, str]) -> str:
    """Load one installed provider, so /loaded has something to show; which one."""
    import httpx

    with httpx.Client(base_url=url, headers=auth, timeout=60) as client:
        found = client.get("/api/v1/extensions/discover", params={"extension_type": "provider"})
        names = [row["name"] for row in found.json()["data"]]
        for name in names:
            answer = client.post(
                "/api/v1/extensions/load", json={"extension_type": "provider", "name": name}
            )
            if answer.status_code == 200:
                return name
    return "none (no provider installed)"


def _ms(values: list[float], q: float) -> str:
    return f"{_percentile(values, q) * 1000:.1f} ms"


def _errors_row(requests: int, errors: int) -> Any:
    from cases import Row

    return Row(
        "api.errors",
        f"errors over {requests:,} requests to prov serve",
        target="0",
        verdict="ok" if errors == 0 and requests >= 1000 else "OVER",
        note=f"{errors} errors",
    )


def _memory_row(api: _Process, auth: dict[str, str]) -> Any:
    from cases import Row

    path = "/api/v1/extensions/loaded"
    asyncio.run(_load(api.url, path, auth, 10, 100))
    after_100 = api.rss_kib()
    asyncio.run(_load(api.url, path, auth, 10, 10_000))  # 10,100 in all
    after_10k = api.rss_kib()
    growth = after_10k / after_100
    return Row(
        "api.memory",
        "prov serve RSS after 10,000 requests / after 100",
        ratio=growth,
        target="<= 1.05x",
        verdict="ok" if growth <= 1.05 else "OVER",
        note=f"{after_100 / 1024:.1f} MiB -> {after_10k / 1024:.1f} MiB",
    )


SECTIONS: dict[str, Callable[..., None]] = {"api": run_api}
