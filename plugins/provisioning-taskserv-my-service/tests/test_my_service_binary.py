"""The shipped service program itself, run as a real process on 127.0.0.1."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

from provisioning_taskserv_my_service import payload

LISTENING = re.compile(r"listening on ([\d.]+):(\d+) \(metrics on port (\d+)\)")


@attrs.define
class Running:
    process: subprocess.Popen[str]
    api: str
    metrics: str
    data_dir: Path

    def get(self, path: str) -> tuple[int, Any]:
        try:
            with urllib.request.urlopen(self.api + path, timeout=5) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as exc:
            with exc:
                return exc.code, json.loads(exc.read())

    def metrics_text(self) -> str:
        with urllib.request.urlopen(self.metrics + "/metrics", timeout=5) as response:
            assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            return response.read().decode()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(timeout=10)
        self.process.stdout.close()  # type: ignore[union-attr]
        self.process.stderr.close()  # type: ignore[union-attr]
        return code


def _binary(tmp_path: Path, version: str) -> Path:
    path = tmp_path / f"my-service-{version}"
    if not path.exists():
        path.write_bytes(payload.binary(version))
    return path


@pytest.fixture
def start(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    started: list[subprocess.Popen[str]] = []

    def run(version: str, **overrides: Any) -> Running:
        config = {
            "listen": "127.0.0.1",
            "port": 0,
            "metrics_port": 0,
            "data_dir": str(tmp_path / "data"),
            "log_level": "info",
            "greeting": "hello, tests",
            **overrides,
        }
        config_file = tmp_path / "config.json"
        config_file.write_text(json.dumps(config))
        process = subprocess.Popen(
            [sys.executable, str(_binary(tmp_path, version)), "--config", str(config_file)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        started.append(process)
        line = process.stdout.readline()  # type: ignore[union-attr]
        found = LISTENING.search(line)
        assert found, f"no listening line, got {line!r}; stderr: {process.stderr.read()}"  # type: ignore[union-attr]
        host, port, metrics = found.groups()
        return Running(
            process,
            f"http://{host}:{port}",
            f"http://{host}:{metrics}",
            Path(config["data_dir"]),
        )

    yield run
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            if stream is not None and not stream.closed:
                stream.close()


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_health_version_and_greeting(start: Callable[..., Running], version: str) -> None:
    service = start(version)
    assert service.get("/health") == (200, {"status": "ok", "version": version})
    assert service.get("/version") == (200, {"version": version})
    assert service.get("/") == (200, {"message": "hello, tests", "version": version})
    status, body = service.get("/nope")
    assert status == 404
    assert body["path"] == "/nope"
    assert service.stop() == 0


def test_info_endpoint_is_new_in_1_1_0(start: Callable[..., Running]) -> None:
    old = start("1.0.0")
    assert old.get("/info")[0] == 404
    assert old.stop() == 0
    new = start("1.1.0")
    status, info = new.get("/info")
    assert status == 200
    assert info["version"] == "1.1.0"
    assert info["starts"] == 2  # the data directory remembers 1.0.0's start
    assert info["uptime_seconds"] >= 0
    assert new.stop() == 0


def test_metrics_are_prometheus_text(start: Callable[..., Running]) -> None:
    service = start("1.1.0")
    for _ in range(3):
        service.get("/health")
    text = service.metrics_text()
    assert 'my_service_info{version="1.1.0"} 1' in text
    assert "# TYPE my_service_requests_total counter" in text
    assert re.search(r"^my_service_requests_total 3$", text, re.MULTILINE)
    assert re.search(r"^my_service_uptime_seconds \d+\.\d{3}$", text, re.MULTILINE)
    assert re.search(r"^my_service_starts_total 1$", text, re.MULTILINE)
    assert service.stop() == 0


def test_requests_are_counted_in_the_data_dir_across_restarts(
    start: Callable[..., Running],
) -> None:
    first = start("1.0.0")
    first.get("/")
    first.get("/health")
    assert first.stop() == 0
    state = json.loads((first.data_dir / "state.json").read_text())
    assert state["requests"] == 2
    second = start("1.1.0")
    second.get("/")
    assert second.get("/info")[1]["requests"] == 4
    assert second.stop() == 0
    assert json.loads((second.data_dir / "state.json").read_text())["requests"] == 4


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ("{not json", "cannot read config"),
        ('{"listen": "127.0.0.1"}', "lacks port, metrics_port, data_dir, log_level, greeting"),
        (
            json.dumps(
                {
                    **dict.fromkeys(("listen", "port", "metrics_port", "data_dir")),
                    "log_level": "loud",
                    "greeting": "x",
                }
            ),
            "log_level must be one of debug, info, warning, error",
        ),
    ],
)
def test_a_bad_config_exits_with_a_message(tmp_path: Path, config: str, expected: str) -> None:
    config_file = tmp_path / "config.json"
    config_file.write_text(config)
    done = subprocess.run(
        [sys.executable, str(_binary(tmp_path, "1.1.0")), "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert expected in done.stderr
    assert str(config_file) in done.stderr


def test_a_taken_port_is_reported(start: Callable[..., Running], tmp_path: Path) -> None:
    first = start("1.1.0")
    port = int(first.api.rsplit(":", 1)[1])
    config_file = tmp_path / "second.json"
    config_file.write_text(
        json.dumps(
            {
                "listen": "127.0.0.1",
                "port": port,
                "metrics_port": 0,
                "data_dir": str(tmp_path / "other"),
                "log_level": "info",
                "greeting": "x",
            }
        )
    )
    done = subprocess.run(
        [sys.executable, str(_binary(tmp_path, "1.1.0")), "--config", str(config_file)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1 ports {port}/0" in done.stderr
    assert first.stop() == 0


@pytest.mark.parametrize("version", ["1.0.0", "1.1.0"])
def test_shebang_and_version_flag(tmp_path: Path, version: str) -> None:
    assert payload.binary(version).startswith(b"#!/usr/bin/env python3\n")
    done = subprocess.run(
        [sys.executable, str(_binary(tmp_path, version)), "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout == f"my-service {version}\n"
