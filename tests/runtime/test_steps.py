"""Steps are idempotent, check mode changes nothing, and diffs say what would change."""

from __future__ import annotations

import io
import os
import stat
import sys
import tarfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from provisioning_core.errors import ProvisioningError
from provisioning_core.models import OperationResult
from provisioning_core.runtime import (
    Absent,
    Change,
    Command,
    CommandError,
    Directory,
    Download,
    Extract,
    File,
    Service,
    ServiceDefinition,
    apply_steps,
)
from provisioning_core.runtime.steps import download_cache
from provisioning_core.secret import Secret

from .conftest import free_port, sandbox_pids, sha256


def tree(root: Path) -> dict[str, tuple[int, str]]:
    """Every path under ``root`` with its mode and content digest."""
    found = {}
    if not root.exists():
        return found
    for path in sorted(root.rglob("*")):
        st = path.lstat()
        digest = sha256(path.read_bytes()) if path.is_file() else "dir"
        found[str(path.relative_to(root))] = (stat.S_IMODE(st.st_mode), digest)
    return found


def tar_gz(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o755
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


# --- File ---------------------------------------------------------------------------


def diff_lines(result: OperationResult, i: int) -> list[str]:
    """The diff of change ``i`` of ``result``, a line each."""
    diff = result.details["changes"][i]["diff"]
    assert diff is not None
    return str(diff).rstrip("\n").split("\n")


def test_file_create_update_and_idempotence(host, sandbox):
    step = File("/etc/app/config.yaml", "a: 1\nb: 2\n", mode=0o640)
    result = apply_steps(host, [step], check=False)
    # one line per change in actions; the diff is the change's record, for --diff
    assert result == OperationResult(
        changed=True,
        message="1 change made",
        actions=["create /etc/app/config.yaml"],
        details={
            "changes": [
                {
                    "step": "file /etc/app/config.yaml",
                    "change": "create /etc/app/config.yaml",
                    "diff": "--- /etc/app/config.yaml\n+++ /etc/app/config.yaml\n"
                    "@@ -0,0 +1,2 @@\n+a: 1\n+b: 2\n",
                }
            ]
        },
    )
    real = sandbox / "etc/app/config.yaml"
    assert real.read_text() == "a: 1\nb: 2\n"
    assert stat.S_IMODE(real.stat().st_mode) == 0o640
    again = apply_steps(host, [step], check=False)
    assert again == OperationResult(changed=False, message="nothing to change", actions=[])

    update = apply_steps(
        host, [File("/etc/app/config.yaml", "a: 1\nb: 3\n", mode=0o640)], check=False
    )
    assert update.actions == ["update /etc/app/config.yaml"]
    assert diff_lines(update, 0) == [
        "--- /etc/app/config.yaml",
        "+++ /etc/app/config.yaml",
        "@@ -1,2 +1,2 @@",
        " a: 1",
        "-b: 2",
        "+b: 3",
    ]


def test_file_mode_alone_is_fixed(local_host, sandbox):
    apply_steps(local_host, [File("/f", "x\n", mode=0o644)], check=False)
    result = apply_steps(local_host, [File("/f", "x\n", mode=0o600)], check=False)
    assert result.actions == ["chmod 0600 /f"]
    assert stat.S_IMODE((sandbox / "f").stat().st_mode) == 0o600
    assert not apply_steps(local_host, [File("/f", "x\n", mode=0o600)], check=False).changed


def test_file_template_with_strict_undefined_and_trailing_newline(local_host, sandbox):
    step = File(
        "/t.conf",
        template="port={{ port }}\nname={{ name }}\n",
        context={"port": 8080, "name": "x"},
    )
    apply_steps(local_host, [step], check=False)
    assert (sandbox / "t.conf").read_text() == "port=8080\nname=x\n"
    missing = File("/u.conf", template="port={{ nope }}\n")
    with pytest.raises(ProvisioningError) as info:
        apply_steps(local_host, [missing], check=False)
    assert str(info.value).startswith(
        "file /u.conf on sandbox-local: the template of /u.conf cannot be rendered: 'nope' is undefined"
    )
    assert not (sandbox / "u.conf").exists()


def test_secret_files_show_no_diff_and_no_value(local_host, sandbox):
    token = Secret("s3cr3t-value")
    steps = [
        File("/etc/a.env", template="TOKEN={{ token }}\n", context={"token": token}, mode=0o600),
        File("/etc/b.env", "PASSWORD=hunter2\n", secret=True),
        File("/etc/c.env", token),
    ]
    result = apply_steps(local_host, steps, check=False)
    assert result.actions == [
        "create /etc/a.env (secret)",
        "create /etc/b.env (secret)",
        "create /etc/c.env (secret)",
    ]
    assert (sandbox / "etc/a.env").read_text() == "TOKEN=s3cr3t-value\n"
    assert (sandbox / "etc/c.env").read_text() == "s3cr3t-value"
    assert "s3cr3t" not in repr(result)
    assert "hunter2" not in repr(result)


def test_binary_files_have_no_diff(local_host):
    result = apply_steps(local_host, [File("/bin.dat", b"\x00\xff\x01")], check=False)
    assert result.actions == ["create /bin.dat"]


def test_file_needs_content_or_template():
    with pytest.raises(ProvisioningError, match="needs exactly one of content= and template="):
        File("/x")


# --- Directory, Absent, Command --------------------------------------------------------


def test_directory_and_absent(host, sandbox):
    result = apply_steps(host, [Directory("/var/lib/app/data", 0o750)], check=False)
    assert result.actions == ["create directory /var/lib/app/data"]
    assert stat.S_IMODE((sandbox / "var/lib/app/data").stat().st_mode) == 0o750
    assert not apply_steps(host, [Directory("/var/lib/app/data", 0o750)], check=False).changed
    assert apply_steps(host, [Directory("/var/lib/app/data", 0o700)], check=False).actions == [
        "chmod 0700 /var/lib/app/data"
    ]
    host.write("/var/lib/app/file", b"x")
    with pytest.raises(
        ProvisioningError,
        match=r"directory /var/lib/app/file on sandbox-\w+: /var/lib/app/file exists and is not a directory",
    ):
        apply_steps(host, [Directory("/var/lib/app/file")], check=False)

    result = apply_steps(host, [Absent("/var/lib/app")], check=False)
    assert result.actions == ["remove /var/lib/app"]
    assert not (sandbox / "var/lib/app").exists()
    assert not apply_steps(host, [Absent("/var/lib/app")], check=False).changed


def test_command_creates_and_unless(host, sandbox):
    made = host.path("/made")
    step = Command(f"echo run >> {made}", creates="/made")
    assert apply_steps(host, [step], check=False).actions == [f"run command 'echo run >> {made}'"]
    assert not apply_steps(host, [step], check=False).changed
    assert (sandbox / "made").read_text() == "run\n"

    counter = host.path("/count")
    guarded = Command(f"echo x >> {counter}", unless=f"test -s {counter}", description="count once")
    assert apply_steps(host, [guarded], check=False).actions == ["run count once"]
    assert not apply_steps(host, [guarded], check=False).changed
    assert (sandbox / "count").read_text() == "x\n"


def test_a_failing_step_is_named_and_earlier_steps_stay(local_host, sandbox):
    steps = [
        File("/before", "1\n"),
        Command("echo broken >&2; exit 9", description="the broken one"),
    ]
    with pytest.raises(CommandError) as info:
        apply_steps(local_host, steps, check=False)
    assert str(info.value).startswith(
        "the broken one on sandbox-local: command failed on sandbox-local (exit status 9)"
    )
    assert "  | broken" in str(info.value)
    assert (sandbox / "before").exists()


# --- Download and Extract ------------------------------------------------------------


def test_download_verifies_caches_and_is_idempotent(host, sandbox, http_server, prov_home):
    data = b"#!/bin/sh\necho tool\n"
    url = http_server.serve("/tool", data)
    step = Download(url, "/usr/local/bin/tool", sha256=sha256(data), mode=0o755)
    assert apply_steps(host, [step], check=False).actions == [
        f"download {url} to /usr/local/bin/tool"
    ]
    real = sandbox / "usr/local/bin/tool"
    assert real.read_bytes() == data
    assert stat.S_IMODE(real.stat().st_mode) == 0o755
    assert (download_cache() / sha256(data)).read_bytes() == data
    assert download_cache() == prov_home / "cache" / "downloads"
    assert len(http_server.requests) == 1

    assert not apply_steps(host, [step], check=False).changed  # the host has it: no fetch
    assert len(http_server.requests) == 1

    real.unlink()
    del http_server.routes["/tool"]  # gone from the server: the cache serves it
    assert apply_steps(host, [step], check=False).changed
    assert real.read_bytes() == data
    assert len(http_server.requests) == 1


def test_one_download_fetched_by_many_threads_at_once(local_host, http_server, prov_home):
    """A cluster installs one artifact on several servers in parallel: one cache, no clash."""
    data = os.urandom(512 * 1024)
    url = http_server.serve("/blob", data)
    step = Download(url, "/opt/blob", sha256=sha256(data))
    with ThreadPoolExecutor(8) as pool:
        fetched = list(pool.map(lambda _: step.fetch(), range(16)))
    assert all(f == data for f in fetched)
    assert sorted(p.name for p in download_cache().iterdir()) == [sha256(data)]


def test_download_with_the_wrong_digest_installs_nothing(local_host, sandbox, http_server):
    url = http_server.serve("/tool", b"evil")
    wrong = "0" * 64
    with pytest.raises(ProvisioningError) as info:
        apply_steps(local_host, [Download(url, "/bin/tool", sha256=wrong)], check=False)
    assert str(info.value).startswith(
        f"download {url} to /bin/tool on sandbox-local: the download {url} has sha256 "
        f"{sha256(b'evil')}, expected {wrong}"
    )
    assert not (sandbox / "bin/tool").exists()
    assert not (download_cache() / wrong).exists()


def test_download_http_errors_name_the_url(local_host, http_server):
    url = http_server.url + "/missing"
    with pytest.raises(ProvisioningError, match=f"download: HTTP 404 Not Found from {url}"):
        apply_steps(local_host, [Download(url, "/x", sha256="0" * 64)], check=False)


def test_extract_a_real_tar_gz(host, sandbox):
    archive = tar_gz({"pkg-1.0/bin/tool": b"tool\n", "pkg-1.0/README": b"read me\n"})
    host.write("/tmp/pkg.tar.gz", archive)
    step = Extract("/tmp/pkg.tar.gz", "/opt/pkg", strip_components=1)
    assert apply_steps(host, [step], check=False).actions == [
        "extract /tmp/pkg.tar.gz into /opt/pkg"
    ]
    assert (sandbox / "opt/pkg/bin/tool").read_bytes() == b"tool\n"
    assert (sandbox / "opt/pkg/README").read_bytes() == b"read me\n"
    assert (sandbox / "opt/pkg/.prov-extracted").read_text() == sha256(archive) + "\n"
    assert not apply_steps(host, [step], check=False).changed

    newer = tar_gz({"pkg-1.1/bin/tool": b"tool 1.1\n"})
    host.write("/tmp/pkg.tar.gz", newer)
    assert apply_steps(host, [step], check=False).changed  # a different archive: again
    assert (sandbox / "opt/pkg/bin/tool").read_bytes() == b"tool 1.1\n"

    creates = Extract("/tmp/pkg.tar.gz", "/opt/other", creates="/opt/pkg/bin/tool")
    assert not apply_steps(host, [creates], check=False).changed
    assert not (sandbox / "opt/other").exists()


def test_extract_of_a_missing_archive(local_host):
    with pytest.raises(ProvisioningError, match=r"the archive /nope\.tgz does not exist"):
        apply_steps(local_host, [Extract("/nope.tgz", "/opt/x")], check=False)
    assert apply_steps(local_host, [Extract("/nope.tgz", "/opt/x")], check=True).actions == [
        "would extract /nope.tgz into /opt/x"
    ]


# --- check mode ---------------------------------------------------------------------------


def test_check_mode_changes_nothing_and_reports_diffs(
    host, sandbox, http_server, prov_home, tmp_path
):
    data = b"binary\n"
    url = http_server.serve("/tool", data)
    host.write("/etc/app/config.yaml", b"a: 1\n")
    host.write("/old/file", b"old")
    port = free_port()
    service = ServiceDefinition(
        name="web",
        exec=[sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
    )
    steps = [
        File("/etc/app/config.yaml", "a: 2\n"),
        Directory("/var/lib/app"),
        Absent("/old"),
        Download(url, "/usr/local/bin/tool", sha256=sha256(data)),
        Extract("/tmp/none.tgz", "/opt/none"),
        Command("touch /should-not-exist", description="touch it"),
        Service(service),
    ]
    before = (tree(sandbox), tree(prov_home), sandbox_pids(tmp_path))
    result = apply_steps(host, steps, check=True)
    assert (tree(sandbox), tree(prov_home), sandbox_pids(tmp_path)) == before
    assert http_server.requests == []  # no download, not even into the cache
    assert result.changed
    assert result.message == "7 changes would be made"
    assert result.actions[0] == "would update /etc/app/config.yaml"
    assert diff_lines(result, 0) == [
        "--- /etc/app/config.yaml",
        "+++ /etc/app/config.yaml",
        "@@ -1 +1 @@",
        "-a: 1",
        "+a: 2",
    ]
    assert result.actions[1:6] == [
        "would create directory /var/lib/app",
        "would remove /old",
        f"would download {url} to /usr/local/bin/tool",
        "would extract /tmp/none.tgz into /opt/none",
        "would run touch it",
    ]
    assert result.actions[6] == "would install service web, start service web"
    assert diff_lines(result, 6)[:2] == [
        "--- service web (supervisor unit)",
        "+++ service web (supervisor unit)",
    ]
    assert '+  "name": "web",' in diff_lines(result, 6)


def test_check_mode_on_an_applied_state_says_nothing_to_change(local_host):
    steps = [File("/a", "1\n"), Directory("/d")]
    apply_steps(local_host, steps, check=False)
    assert apply_steps(local_host, steps, check=True) == OperationResult(
        changed=False, message="nothing to change", actions=[]
    )


def test_change_is_a_value():
    assert Change("create /x") == Change("create /x", None)
