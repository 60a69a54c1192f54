"""The HTTP API end to end: a real ``prov serve`` process, a real client, the recording
fixture providers installed as real distributions, a real inventory."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pytest

from provisioning_core.operations.requests import JOB_KINDS
from tests.api.conftest import start_server
from tests.cli.conftest import calls, process_env

TOKEN = "write-token-0123456789abcdef"
READ_TOKEN = "read-token-0123456789abcdef"
CREATE = {"hostname": "web-1", "provider": "recording", "plan": "small", "zone": "test-1"}
_GUIDE_METADATA = [
    "name", "version", "description", "extension_type", "dependencies", "author", "repository"
]  # fmt: skip
RFC3339 = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def _until_running(api, job_id: str) -> None:
    """Wait (10 s at most) until job ``job_id`` of ``api`` runs."""
    for _ in range(200):
        if api.get(f"/api/v1/operations/{job_id}").json()["data"]["status"] == "running":
            return
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} never ran")


def test_the_seeds_extension_endpoints_answer_as_the_guide_prints(serve) -> None:
    api = serve()
    assert api.get("/api/v1/extensions/loaded").json() == {"success": True, "data": []}
    loaded = api.post(
        "/api/v1/extensions/load", {"extension_type": "taskserv", "name": "containerd"}
    )
    assert loaded.status_code == 200, loaded.text
    listed = api.get("/api/v1/extensions/loaded").json()
    assert listed["success"] is True
    [ext] = listed["data"]
    # the keys, in the order, of the loading guide's example
    assert list(ext) == ["metadata", "path", "loaded_at"]
    assert list(ext["metadata"]) == [
        "name", "version", "description", "extension_type", "dependencies", "author",
        "repository",
    ]  # fmt: skip
    assert isinstance(ext["path"], str)
    assert ext["metadata"]["name"] == "containerd"
    assert ext["metadata"]["extension_type"] == "Taskserv"
    assert isinstance(ext["metadata"]["dependencies"], list)
    assert RFC3339.match(ext["loaded_at"]), ext["loaded_at"]
    assert ext == loaded.json()["data"]
    # the guide's request, byte for byte, and its answer
    reloaded = api.client.post(
        "/api/v1/extensions/reload",
        content=b'{ "extension_type": "taskserv", "name": "containerd" }',
        headers={"Content-Type": "application/json"},
    )
    assert reloaded.content == b'{"success": true, "data": "Extension containerd reloaded"}'
    discovered = api.get("/api/v1/extensions/discover", params={"extension_type": "provider"})
    names = {row["name"] for row in discovered.json()["data"]}
    assert {"recording", "nocheck"} <= names
    assert all(list(row) == _GUIDE_METADATA for row in discovered.json()["data"])
    one = api.get(
        "/api/v1/extensions/discover", params={"extension_type": "Provider", "name": "recording"}
    ).json()["data"]
    assert one["name"] == "recording"
    assert one["extension_type"] == "provider"  # discover speaks as prov module discover -o json
    metrics = api.get("/api/v1/extensions/metrics").json()["data"]
    assert metrics["total_extension_loads"] >= 2
    assert 0.0 <= metrics["hit_ratio"] <= 1.0
    assert set(metrics) >= {"total_extension_loads", "cache_hits", "hit_ratio"}
    cleared = api.client.delete("/api/v1/extensions/cache")
    assert cleared.json() == {"success": True, "data": "Extension cache cleared"}
    assert api.get("/api/v1/extensions/loaded").json()["data"] == []


def test_extension_errors_are_the_clis_messages_with_a_status(serve) -> None:
    api = serve()
    missing = api.post("/api/v1/extensions/reload", {"extension_type": "taskserv", "name": "nope"})
    assert missing.status_code == 404
    body = missing.json()
    assert body["success"] is False
    assert "taskserv 'nope'" in body["error"]
    assert "Traceback" not in missing.text
    kind = api.post("/api/v1/extensions/load", {"extension_type": "robot", "name": "x"})
    assert kind.status_code == 422
    assert any("@ $.extension_type" in p for p in kind.json()["problems"])
    query = api.get("/api/v1/extensions/discover")
    assert query.status_code == 400
    assert "@ $.extension_type" in query.json()["problems"][0]
    version = api.post(
        "/api/v1/extensions/load",
        {"extension_type": "provider", "name": "recording", "version": "!!"},
    )
    assert version.status_code == 422
    assert any("@ $.version" in p for p in version.json()["problems"])
    extra = api.post("/api/v1/extensions/load", {"extension_type": "provider", "name": "x", "y": 1})
    assert extra.status_code == 422
    assert any("y" in p for p in extra.json()["problems"])
    bad_type = api.get("/api/v1/extensions/discover", params={"extension_type": "robot"})
    assert bad_type.status_code == 400


def test_recorded_loads_are_listed_and_forgotten_over_http(serve) -> None:
    api = serve()
    assert api.get("/api/v1/extensions/recorded").json()["data"] == []
    body = {"extension_type": "provider", "name": "recording", "version": "1.0.0"}
    assert api.post("/api/v1/extensions/load", body).status_code == 200
    [record] = api.get("/api/v1/extensions/recorded").json()["data"]
    assert (record["name"], record["kind"], record["version"]) == ("recording", "provider", "1.0.0")
    forgotten = api.post("/api/v1/extensions/unload", body)
    assert forgotten.json() == {"success": True, "data": "Extension recording unloaded"}
    assert api.get("/api/v1/extensions/recorded").json()["data"] == []
    again = api.post("/api/v1/extensions/unload", body)
    assert again.status_code == 400
    assert "is not loaded" in again.json()["error"]


def test_a_job_runs_in_the_background_and_is_recorded_like_a_cli_run(
    serve, installed, prov_home
) -> None:
    api = serve()
    started = api.post("/api/v1/servers/create", {**CREATE, "wait": True})
    assert started.status_code == 202
    data = started.json()["data"]
    assert started.headers["Location"] == data["url"] == f"/api/v1/operations/{data['id']}"
    assert (data["kind"], data["check"]) == ("server.create", False)
    job = api.wait(data["id"])
    assert job["status"] == "succeeded", job
    assert job["exit_code"] == 0
    # the report is what `prov server create -o json` prints
    assert job["report"]["operation"] == "server.create"
    assert job["report"]["ok"] is True
    assert [r["target"] for r in job["report"]["results"]] == ["web-1"]
    assert job["progress"], "progress is kept with the job"
    assert job["operations"], "the audit trail's operations name the job"
    # another process sees it in the audit trail, as it sees CLI runs
    listed = subprocess.run(
        [sys.executable, "-m", "provisioning_core", "operations", "list", "-o", "json"],
        env=process_env(installed),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    trail = json.loads(listed.stdout)["operations"]
    assert any(op["id"] in job["operations"] and op["status"] == "succeeded" for op in trail)
    history = api.get("/api/v1/history").json()["data"]["operations"]
    assert {op["id"] for op in history} >= set(job["operations"])
    servers = api.get("/api/v1/servers").json()["data"]["servers"]
    assert [s["hostname"] for s in servers] == ["web-1"]
    info = api.get("/api/v1/servers/web-1").json()["data"]
    assert info["hostname"] == "web-1"
    assert api.get("/api/v1/operations").json()["data"][0]["id"] == data["id"]
    deleted = api.job("/api/v1/servers/delete", {"servers": ["web-1"], "wait": True})
    assert deleted["status"] == "succeeded", deleted
    assert api.get("/api/v1/servers").json()["data"]["servers"] == []


def test_check_mode_over_http_changes_nothing(serve, prov_home) -> None:
    api = serve()
    job = api.job("/api/v1/servers/create", CREATE, check=True)
    assert job["status"] == "succeeded", job
    assert job["check"] is True
    assert job["report"]["check"] is True
    assert [r["outcome"] for r in job["report"]["results"]] == ["planned"]
    creates = [c for c in calls(prov_home) if c["hook"] == "create_server"]
    assert creates, "the plugin was asked for its plan"
    assert all(c.get("check") for c in creates)
    assert not (prov_home / "inventory.sqlite3").exists()
    assert api.get("/api/v1/servers").json()["data"]["servers"] == []


def test_reads_answer_what_the_cli_prints(serve) -> None:
    api = serve()
    plans = api.get("/api/v1/providers/recording/plans").json()["data"]["plans"]
    assert {p["name"] for p in plans} == {"small", "medium", "large"}
    zones = api.get("/api/v1/providers/recording/zones").json()["data"]["zones"]
    assert {z["name"] for z in zones} == {"test-1", "test-2"}
    assert api.get("/api/v1/providers/recording/pricing").json()["data"]["pricing"]
    described = api.get("/api/v1/providers/recording").json()["data"]
    assert described["name"] == "recording"
    tested = api.get("/api/v1/providers/recording/test").json()["data"]
    assert tested["ok"] is True
    unknown = api.get("/api/v1/servers/nowhere-1")
    assert unknown.status_code == 404
    assert "nowhere-1" in unknown.json()["error"]
    no_provider = api.get("/api/v1/providers/nope/plans")
    assert no_provider.status_code == 404
    assert "provider 'nope'" in no_provider.json()["error"]
    missing = api.get("/api/v1/nothing/here")
    assert missing.status_code == 404
    assert missing.json()["error"] == "no endpoint GET /api/v1/nothing/here"


def test_requests_are_checked_with_the_records_before_anything_runs(serve, prov_home) -> None:
    api = serve("\n[api]\nmax_body_bytes = 2000\n")
    unknown = api.post("/api/v1/servers/create", {**CREATE, "colour": "red"})
    assert unknown.status_code == 422
    assert any("colour" in p for p in unknown.json()["problems"])
    hostname = api.post("/api/v1/servers/create", {**CREATE, "hostname": "web_1!"})
    assert hostname.status_code == 422
    assert any("@ $.hostname" in p for p in hostname.json()["problems"])
    zero = api.post("/api/v1/servers/create", {**CREATE, "count": 0})
    assert zero.status_code == 422
    assert zero.json()["problems"] == ["expected at least 1, got 0 @ $.count"]
    wrong_type = api.post("/api/v1/servers/create", {**CREATE, "count": "ten"})
    assert wrong_type.status_code == 422
    assert any("@ $.count" in p for p in wrong_type.json()["problems"])
    not_json = api.client.post("/api/v1/servers/create", content=b"{nope")
    assert not_json.status_code == 400
    assert "not JSON" in not_json.json()["error"]
    array = api.post("/api/v1/servers/create", [1, 2])
    assert array.status_code == 422
    huge = api.post("/api/v1/servers/create", {**CREATE, "tags": {"x": "y" * 5000}})
    assert huge.status_code == 413
    assert "larger than 2000 bytes" in huge.json()["error"]
    provider = api.post("/api/v1/servers/create", {**CREATE, "provider": "nope"})
    assert provider.status_code == 404
    # nothing reached a plugin or the inventory
    assert [c for c in calls(prov_home) if c["hook"] == "create_server"] == []
    assert api.get("/api/v1/operations").json()["data"] == []


def test_tokens_guard_reading_and_changing(serve) -> None:
    api = serve(f'\n[api]\nread_token = "{READ_TOKEN}"\n', env={"PROV_API_TOKEN": TOKEN})
    anonymous = api.get("/api/v1/extensions/loaded")
    assert anonymous.status_code == 401
    assert anonymous.headers["WWW-Authenticate"] == "Bearer"
    assert anonymous.json()["success"] is False
    wrong = api.get("/api/v1/servers", headers={"Authorization": "Bearer " + "x" * 28})
    assert wrong.status_code == 401
    read = {"Authorization": f"Bearer {READ_TOKEN}"}
    write = {"Authorization": f"Bearer {TOKEN}"}
    assert api.get("/api/v1/servers", headers=read).status_code == 200
    refused = api.post("/api/v1/servers/create", CREATE, headers=read)
    assert refused.status_code == 403
    assert "only read" in refused.json()["error"]
    accepted = api.post("/api/v1/servers/create", CREATE, headers=write)
    assert accepted.status_code == 202
    assert api.wait(accepted.json()["data"]["id"], headers=write)["status"] == "succeeded"
    # the documentation is readable without a token; it holds no secret
    assert api.get("/api/v1/openapi.json").status_code == 200
    for text in (api.log, api.get("/api/v1/operations", headers=read).text):
        assert TOKEN not in text
        assert READ_TOKEN not in text


def test_prov_serve_refuses_unsafe_or_impossible_settings(installed) -> None:
    def serve_once(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        return subprocess.run(
            [sys.executable, "-m", "provisioning_core", "serve", *args],
            env=process_env(installed, env),
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    exposed = serve_once("--host", "0.0.0.0")
    assert exposed.returncode == 2
    assert "refuses to listen on 0.0.0.0 without a token" in exposed.stderr
    assert "Traceback" not in exposed.stderr
    short = serve_once("--port", "0", env={"PROV_API_TOKEN": "Zq9xY"})
    assert short.returncode == 2
    assert "shorter than 16 characters" in short.stderr
    assert "Zq9xY" not in short.stderr
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        taken = serve_once("--port", str(busy.getsockname()[1]))
    assert taken.returncode == 2
    assert "cannot listen on 127.0.0.1" in taken.stderr
    assert "--port" in taken.stderr
    out_of_range = serve_once("--port", "70000")
    assert out_of_range.returncode == 2


def test_without_the_extra_prov_serve_says_what_to_install(prov, monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "fastapi", None)  # as if it were not installed
    result = prov("serve")
    assert result.exit_code == 2
    assert "pip install 'provisioning-core[api]'" in result.stderr
    assert "Traceback" not in result.output


def test_the_cli_never_imports_the_http_stack() -> None:
    code = (
        "import sys\n"
        "from provisioning_core.cli import main\n"
        "try:\n"
        "    main(['serve', '--help'])\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('fastapi', 'uvicorn', 'starlette') if m in sys.modules))\n"
    )
    shown = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert shown.stdout.strip().endswith("[]"), shown.stdout


def test_a_client_that_disconnects_does_not_stop_its_job(serve) -> None:
    api = serve("\n[providers.recording.options]\ncreate_latency = 1.5\n")
    with httpx.Client(base_url=api.url, timeout=0.3) as impatient:
        started = impatient.post("/api/v1/servers/create", json=CREATE)
        job_id = started.json()["data"]["id"]
        with pytest.raises(httpx.ReadTimeout):  # gives up waiting, and goes away
            impatient.get(f"/api/v1/operations/{job_id}", params={"wait": 30})
    job = api.wait(job_id)
    assert job["status"] == "succeeded", job
    assert api.get("/api/v1/servers").json()["data"]["servers"][0]["hostname"] == "web-1"


def test_two_jobs_on_one_server_take_turns(serve) -> None:
    api = serve("\n[providers.recording.options]\nlatency = 0.2\nboot_polls = 3\n")
    assert api.job("/api/v1/servers/create", {**CREATE, "wait": True})["status"] == "succeeded"
    ids = []
    barrier = threading.Barrier(2)

    def reboot() -> None:
        barrier.wait()
        answer = api.post("/api/v1/servers/reboot", {"servers": ["web-1"], "wait": True})
        ids.append(answer.json()["data"]["id"])

    threads = [threading.Thread(target=reboot) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    jobs = [api.wait(job_id) for job_id in ids]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    history = api.get("/api/v1/history").json()["data"]["operations"]
    spans = sorted(
        (op["started_at"], op["finished_at"]) for op in history if op["action"] == "server.reboot"
    )
    assert len(spans) == 2
    assert spans[0][1] <= spans[1][0], f"the second waited for the first: {spans}"


def test_a_broken_plugin_is_a_named_500_and_the_server_keeps_serving(serve) -> None:
    api = serve()
    broken = api.get("/api/v1/servers", params={"provider": "raising"})
    assert broken.status_code == 500
    body = broken.json()
    assert body["success"] is False
    assert "raising" in body["error"]
    assert "backend on fire" in body["error"]
    assert "--debug" not in body.get("hint", "")
    assert "the server's log has the traceback" in body["hint"]
    assert "RuntimeError: backend on fire" in api.log  # the plugin's traceback, for the operator
    assert "Traceback" not in broken.text
    assert api.get("/api/v1/extensions/loaded").status_code == 200
    assert api.get("/api/v1/providers/recording/zones").status_code == 200


def test_jobs_running_when_the_server_was_killed_are_interrupted(serve, installed) -> None:
    api = serve("\n[providers.recording.options]\ncreate_latency = 30\n")
    job_id = api.post("/api/v1/servers/create", CREATE).json()["data"]["id"]
    _until_running(api, job_id)
    api.process.send_signal(signal.SIGKILL)
    api.process.wait(30)
    again = start_server(installed)
    try:
        job = again.get(f"/api/v1/operations/{job_id}").json()["data"]
        assert job["status"] == "interrupted", job
        assert job["error"]
    finally:
        assert again.stop() == 0


def test_secrets_never_leave_the_server(serve, prov_home) -> None:
    canary = "canary-9f8e7d6c5b4a3210"
    api = serve(
        '\n[providers.recording.auth]\ntoken = "${REC_API_TOKEN}"\n'
        '[providers.recording.options]\nexpected_token = "${REC_API_TOKEN}"\n'
        'raise_in = ["get_zones", "create_server"]\n',
        env={"REC_API_TOKEN": canary},
    )
    answers = [
        api.get("/api/v1/providers/recording"),
        api.get("/api/v1/providers/recording/zones"),
        api.get("/api/v1/providers/recording/plans"),
    ]
    answers.append(
        api.client.get(
            "/api/v1/operations/"
            + api.wait(api.post("/api/v1/servers/create", CREATE).json()["data"]["id"])["id"]
        )
    )
    for answer in answers:
        assert canary not in answer.text
    # the plugin's errors did carry it (raise_in echoes the token): masked, not dropped
    assert "********" in answers[1].json()["error"]
    assert "********" in answers[-1].json()["data"]["error"]
    assert canary not in api.log
    for path in prov_home.rglob("*"):
        if path.is_file():
            assert canary.encode() not in path.read_bytes(), path


def test_the_openapi_document_is_generated_from_the_records(serve) -> None:
    api = serve()
    document = api.get("/api/v1/openapi.json").json()
    paths = document["paths"]
    for kind in JOB_KINDS.values():
        group, action = kind.name.split(".")
        operation = paths[f"/api/v1/{group}s/{action.replace('_', '-')}"]["post"]
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": f"#/components/schemas/{kind.request.__name__}"}
    schemas = document["components"]["schemas"]
    assert schemas["ServerCreateRequest"]["required"] == ["hostname", "provider"]
    assert "ServerStorage" in schemas
    assert "/api/v1/extensions/loaded" in paths
    assert document["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    docs = api.get("/api/v1/docs")
    assert docs.status_code == 200
    assert "swagger" in docs.text.lower()


def test_a_shutdown_lets_a_running_job_end_and_records_the_truth(serve, installed) -> None:
    api = serve("\n[providers.recording.options]\ncreate_latency = 1.5\n")
    job_id = api.post("/api/v1/servers/create", CREATE).json()["data"]["id"]
    _until_running(api, job_id)
    assert api.stop(signal.SIGTERM) == 0, api.log
    again = start_server(installed)
    try:
        job = again.get(f"/api/v1/operations/{job_id}").json()["data"]
        # it ended well within the shutdown's grace: succeeded, not "interrupted"
        assert job["status"] == "succeeded", job
        assert again.get("/api/v1/servers").json()["data"]["servers"][0]["hostname"] == "web-1"
    finally:
        assert again.stop() == 0


def test_jobs_that_change_things_queue_instead_of_failing_on_the_lock(serve) -> None:
    api = serve("lock_timeout = 0.5\n[providers.recording.options]\ncreate_latency = 1.5\n")
    first = api.post("/api/v1/servers/create", CREATE).json()["data"]["id"]
    second = api.post("/api/v1/servers/create", {**CREATE, "hostname": "web-2"}).json()["data"]
    jobs = [api.wait(first), api.wait(second["id"])]
    assert [j["status"] for j in jobs] == ["succeeded", "succeeded"], jobs
    assert any("waiting for the job" in p["message"] for p in jobs[1]["progress"])


def test_clients_waiting_on_a_job_do_not_hold_up_other_requests(serve) -> None:
    import asyncio

    api = serve("\n[providers.recording.options]\ncreate_latency = 5\n")
    job_id = api.post("/api/v1/servers/create", CREATE).json()["data"]["id"]

    async def crowd() -> tuple[str, int]:
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as client:
            waiting = [
                asyncio.create_task(client.get(f"/api/v1/operations/{job_id}", params={"wait": 30}))
                for _ in range(45)  # more than the server's threads
            ]
            await asyncio.sleep(0.5)
            answer = await client.get("/api/v1/extensions/loaded")
            status = (await client.get(f"/api/v1/operations/{job_id}")).json()["data"]["status"]
            done = await asyncio.gather(*waiting)
            assert all(r.json()["data"]["status"] == "succeeded" for r in done)
            return status, answer.status_code

    status, code = asyncio.run(crowd())
    assert code == 200
    assert status == "running", "the read was answered while 45 clients waited on the job"


def test_stopping_the_server_is_clean(serve) -> None:
    for sig in (signal.SIGTERM, signal.SIGINT):
        api = serve()
        assert api.get("/api/v1/operations").status_code == 200
        assert api.stop(sig) == 0, api.log
        assert api.log.rstrip().endswith("stopped"), api.log


def test_answers_on_a_kept_alive_connection_are_not_held_back() -> None:
    # asyncio sets TCP_NODELAY on accepted connections only when the listening socket is
    # IPPROTO_TCP; without it each keep-alive answer waits ~40 ms for a delayed ACK
    from provisioning_core.cli.serve import _bind

    listener = _bind("127.0.0.1", 0)
    try:
        assert listener.proto == socket.IPPROTO_TCP
        assert listener.getsockname()[1] != 0
    finally:
        listener.close()


def test_every_taskserv_cluster_and_server_action_over_http(serve) -> None:
    api = serve('\n[clusters.ci]\ntype = "reccluster"\nversion = "1.0.0"\n')
    created = api.job("/api/v1/servers/create", {**CREATE, "count": 2, "hostname": "web"})
    assert created["status"] == "succeeded", created
    for action in ("stop", "start", "reboot"):
        done = api.job(f"/api/v1/servers/{action}", {"servers": ["web-1"], "wait": True})
        assert done["status"] == "succeeded", (action, done)
    firewall = api.job(
        "/api/v1/servers/firewall", {"server": "web-1", "rules": ["in,tcp,22,accept"]}
    )
    assert firewall["status"] == "succeeded", firewall
    install = {"name": "rectask", "servers": ["web-1", "web-2"], "version": "1.1.0"}
    assert api.job("/api/v1/taskservs/install", install)["status"] == "succeeded"
    status = api.get("/api/v1/taskservs/rectask/status", params={"server": ["web-1", "web-2"]})
    assert [s["server"] for s in status.json()["data"]["statuses"]] == ["web-1", "web-2"]
    installed = api.get("/api/v1/taskservs", params={"server": "web-1"}).json()["data"]
    assert [(r["server"], r["taskserv"]) for r in installed["taskservs"]] == [("web-1", "rectask")]
    versions = api.get("/api/v1/taskservs/rectask/versions").json()["data"]["versions"]
    assert versions[0]["version"] == "2.0.0"
    updates = api.get("/api/v1/taskservs/rectask/updates", params={"server": "web-2"})
    assert updates.json()["data"]["updates"][0]["update_available"] is True
    assert api.get("/api/v1/taskservs/rectask/status").status_code == 400  # no server named
    for action in ("configure", "restart", "upgrade"):
        done = api.job(f"/api/v1/taskservs/{action}", {"name": "rectask", "servers": ["web-2"]})
        assert done["status"] == "succeeded", (action, done)
    removed = api.job("/api/v1/taskservs/uninstall", {"name": "rectask", "servers": ["web-1"]})
    assert removed["status"] == "succeeded", removed
    missing = api.post("/api/v1/taskservs/install", {"name": "nosuch", "servers": ["web-1"]})
    assert missing.status_code == 404
    planned = api.job("/api/v1/clusters/create", {"name": "ci"}, check=True)
    assert planned["report"]["results"][0]["outcome"] == "planned"
    assert api.job("/api/v1/clusters/create", {"name": "ci", "wait": True})["status"] == "succeeded"
    [listed] = api.get("/api/v1/clusters").json()["data"]["clusters"]
    assert (listed["name"], listed["last_action"]) == ("ci", "create")
    components = api.get("/api/v1/clusters/ci/components").json()["data"]["components"]
    assert [c["name"] for c in components] == ["db", "api", "web"]
    scale = {"name": "ci", "component": "web", "replicas": 3}
    assert api.job("/api/v1/clusters/scale", scale)["status"] == "succeeded"
    assert "3" in api.get("/api/v1/clusters/ci/components/web").text
    restart = {"name": "ci", "component": "api"}
    assert api.job("/api/v1/clusters/restart-component", restart)["status"] == "succeeded"
    upgrade = {"name": "ci", "version": "1.1.0"}
    assert api.job("/api/v1/clusters/upgrade", upgrade)["status"] == "succeeded"
    assert api.get("/api/v1/clusters/ci").json()["data"]["status"] == "running"
    bad = api.job("/api/v1/clusters/scale", {"name": "ci", "component": "cache", "replicas": 2})
    assert bad["status"] == "failed"
    assert bad["exit_code"] == 2
    assert "unknown component 'cache'" in bad["error"]
    assert api.post("/api/v1/clusters/scale", {"name": "ci"}).status_code == 422
    deleted = api.job("/api/v1/clusters/delete", {"name": "ci", "wait": True})
    assert deleted["status"] == "succeeded", deleted
    gone = api.job("/api/v1/servers/delete", {"servers": ["web-1", "web-2"], "wait": True})
    assert gone["status"] == "succeeded", gone
    history = api.get("/api/v1/servers", params={"all": "true"}).json()["data"]["servers"]
    assert {(r["hostname"], r["status"]) for r in history} == {
        ("web-1", "deleted"),
        ("web-2", "deleted"),
    }


def test_the_audit_trail_is_read_and_acknowledged_over_http(serve, installed) -> None:
    api = serve("\n[providers.recording.options]\ncreate_latency = 30\n")
    api.post("/api/v1/servers/create", CREATE)
    for _ in range(200):
        if api.get("/api/v1/history").json()["data"]["operations"]:
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the job never began its operation")
    api.process.send_signal(signal.SIGKILL)
    api.process.wait(30)
    again = start_server(installed)
    try:
        trail = again.get("/api/v1/history", params={"status": "interrupted"}).json()["data"]
        [op] = trail["operations"]
        assert op["action"] == "server.create"
        one = again.get(f"/api/v1/history/{op['id']}").json()["data"]
        assert (one["id"], one["status"], one["job"]) == (op["id"], "interrupted", op["job"])
        assert again.get("/api/v1/history/9999").status_code == 404
        assert again.get("/api/v1/history", params={"since": "soon"}).status_code == 400
        assert again.get("/api/v1/history", params={"action": "create"}).json()["data"][
            "operations"
        ]
        assert again.post("/api/v1/history/ack", {}).status_code == 400  # say which
        assert again.post("/api/v1/history/ack", {"ids": ["x"]}).status_code == 422
        acked = again.post("/api/v1/history/ack", {"ids": [op["id"]]})
        assert acked.json() == {"success": True, "data": {"acknowledged": [op["id"]]}}
        assert again.post("/api/v1/history/ack", {"all": True}).json()["data"] == {
            "acknowledged": []
        }
        assert again.get("/api/v1/history", params={"status": "bogus"}).status_code == 400
    finally:
        assert again.stop() == 0
