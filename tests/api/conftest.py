"""A real ``prov serve`` process on 127.0.0.1 (a free port) and a real HTTP client."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.cli.conftest import FAST, process_env

_LISTENING = re.compile(r"listening on (http://\S+)")


class Served:
    """One ``prov serve`` process: its URL, a client, and everything it logged."""

    def __init__(
        self, process: subprocess.Popen[str], url: str, log: list[str], reader: threading.Thread
    ) -> None:
        self.process = process
        self._reader = reader
        self.url = url
        self._log = log
        self.client = httpx.Client(base_url=url, timeout=60)

    @property
    def log(self) -> str:
        return "".join(self._log)

    def get(self, path: str, **kwargs: object) -> httpx.Response:
        return self.client.get(path, **kwargs)  # type: ignore[arg-type]

    def post(self, path: str, body: object = None, **kwargs: object) -> httpx.Response:
        return self.client.post(path, json=body if body is not None else {}, **kwargs)  # type: ignore[arg-type]

    def job(self, path: str, body: object, *, check: bool = False, **kwargs: object) -> dict:
        """Start a job and wait for its end; the job's data."""
        started = self.post(path, body, params={"check": "true"} if check else None, **kwargs)
        assert started.status_code == 202, started.text
        return self.wait(started.json()["data"]["id"], **kwargs)

    def wait(self, job_id: str, **kwargs: object) -> dict:
        for _ in range(10):
            answer = self.get(f"/api/v1/operations/{job_id}", params={"wait": 30}, **kwargs)
            assert answer.status_code == 200, answer.text
            data = answer.json()["data"]
            if data["finished_at"] is not None:
                return data
        raise AssertionError(f"job {job_id} did not end: {data}")

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.client.close()
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        self._reader.join(10)  # the log is read to its end
        if self.process.stdout is not None:
            self.process.stdout.close()
        return self.process.returncode


def start_server(
    site: Path, *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> Served:
    process = subprocess.Popen(
        [sys.executable, "-m", "provisioning_core", "serve", "--port", "0", *args],
        env=process_env(site, env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log: list[str] = []
    found: list[str] = []
    ready = threading.Event()

    def drain() -> None:  # the pipe is read to its end, so the server never blocks on it
        assert process.stdout is not None
        for line in process.stdout:
            log.append(line)
            match = _LISTENING.search(line)
            if match and not found:
                found.append(match.group(1))
                ready.set()
        ready.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    if not ready.wait(timeout) or not found:
        process.kill()
        process.wait(10)
        reader.join(10)
        if process.stdout is not None:
            process.stdout.close()
        raise AssertionError("prov serve did not start:\n" + "".join(log))
    return Served(process, found[0], log, reader)


@pytest.fixture
def serve(installed: Path, prov_home: Path) -> Iterator[Callable[..., Served]]:
    """``serve(toml, env=...)``: write the workspace's provisioning.toml, start a server."""
    started: list[Served] = []

    def start(toml: str = "", *args: str, env: dict[str, str] | None = None) -> Served:
        (Path.cwd() / "provisioning.toml").write_text(FAST + toml, encoding="utf-8")
        served = start_server(installed, *args, env=env)
        started.append(served)
        return served

    yield start
    for served in started:
        served.stop()
