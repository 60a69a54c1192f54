"""ArtifactMirror: a GitHub-shaped releases API and asset host on 127.0.0.1."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import urllib.error
import urllib.request
from datetime import datetime, timezone

import pytest

from provisioning_core.testing import ArtifactMirror, sha256sums, tarball

REPO = "containerd/containerd"


def get(url: str, headers: dict[str, str] | None = None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, dict(response.headers), response.read()


def status_of(url: str, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str]]:
    try:
        status, response_headers, _ = get(url, headers)
    except urllib.error.HTTPError as exc:
        with exc:
            return exc.code, dict(exc.headers)
    return status, response_headers


@pytest.fixture
def mirror():
    with ArtifactMirror() as m:
        yield m


def test_lists_releases_newest_first_with_assets(mirror):
    mirror.add_release(REPO, "v1.6.0", {"a.tar.gz": b"old"})
    mirror.add_release(REPO, "v1.7.0", {"a.tar.gz": b"newer", "a.tar.gz.sha256sum": b"x"})
    mirror.add_release("other/repo", "v9", {})
    _, headers, body = get(f"{mirror.api_url}/repos/{REPO}/releases")
    releases = json.loads(body)
    assert headers["Content-Type"] == "application/json"
    assert [r["tag_name"] for r in releases] == ["v1.7.0", "v1.6.0"]
    newest = releases[0]
    assert newest["name"] == "v1.7.0"
    assert newest["prerelease"] is False
    assert newest["draft"] is False
    assert newest["published_at"].endswith("Z")
    assert {a["name"]: a["size"] for a in newest["assets"]} == {
        "a.tar.gz": 5,
        "a.tar.gz.sha256sum": 1,
    }
    url = newest["assets"][0]["browser_download_url"]
    assert url == f"{mirror.download_url}/{REPO}/releases/download/v1.7.0/a.tar.gz"
    assert get(url)[2] == b"newer"
    assert mirror.requests == [
        f"/repos/{REPO}/releases",
        f"/{REPO}/releases/download/v1.7.0/a.tar.gz",
    ]


def test_published_at_orders_releases(mirror):
    mirror.add_release(REPO, "v2.0.0", {}, published_at=datetime(2023, 1, 1, tzinfo=timezone.utc))
    mirror.add_release(REPO, "v1.0.0", {}, published_at=datetime(2022, 1, 1, tzinfo=timezone.utc))
    mirror.add_release(
        REPO, "v1.0.0", {"new": b"1"}, published_at=datetime(2021, 1, 1, tzinfo=timezone.utc)
    )
    releases = json.loads(get(f"{mirror.api_url}/repos/{REPO}/releases")[2])
    assert [(r["tag_name"], r["published_at"]) for r in releases] == [
        ("v2.0.0", "2023-01-01T00:00:00Z"),
        ("v1.0.0", "2021-01-01T00:00:00Z"),  # added again: replaced
    ]


def test_latest_skips_prereleases(mirror):
    mirror.add_release(REPO, "v1.0.0", {})
    mirror.add_release(REPO, "v2.0.0-rc.1", {}, prerelease=True)
    latest = json.loads(get(f"{mirror.api_url}/repos/{REPO}/releases/latest")[2])
    assert latest["tag_name"] == "v1.0.0"
    assert status_of(f"{mirror.api_url}/repos/none/such/releases/latest")[0] == 404


def test_pagination_with_link_header(mirror):
    for n in range(5):
        mirror.add_release(REPO, f"v1.{n}.0", {})
    base = f"{mirror.api_url}/repos/{REPO}/releases"
    _, headers, body = get(f"{base}?per_page=2&page=2")
    assert [r["tag_name"] for r in json.loads(body)] == ["v1.2.0", "v1.1.0"]
    link = headers["Link"]
    assert f'<{base}?per_page=2&page=3>; rel="next"' in link
    assert f'<{base}?per_page=2&page=3>; rel="last"' in link
    assert f'<{base}?per_page=2&page=1>; rel="prev"' in link
    _, headers, body = get(f"{base}?per_page=2&page=3")
    assert [r["tag_name"] for r in json.loads(body)] == ["v1.0.0"]
    assert 'rel="next"' not in headers["Link"]
    _, headers, _ = get(base)
    assert "Link" not in headers  # one page of 30 holds them all


def test_fail_next_scripts_failures_then_recovers(mirror):
    mirror.add_release(REPO, "v1.0.0", {"a": b"1"})
    mirror.fail_next("/repos/", 429, {"Retry-After": "7"}, times=2)
    url = f"{mirror.api_url}/repos/{REPO}/releases"
    for _ in range(2):
        status, headers = status_of(url)
        assert (status, headers["Retry-After"]) == (429, "7")
    assert status_of(url)[0] == 200
    mirror.fail_next(f"/{REPO}/releases/download/", 503)
    asset = mirror.asset_url(REPO, "v1.0.0", "a")
    assert status_of(asset)[0] == 503
    assert status_of(url)[0] == 200  # other prefixes are unaffected
    assert get(asset)[2] == b"1"


def test_unknown_paths_are_404(mirror):
    mirror.add_release(REPO, "v1.0.0", {"a": b"1"})
    for path in (
        f"/{REPO}/releases/download/v1.0.0/b",
        f"/{REPO}/releases/download/v9/a",
        "/repos/containerd",
        f"/repos/{REPO}/tags",
        "/",
    ):
        assert status_of(mirror.url + path)[0] == 404, path
    assert json.loads(get(f"{mirror.api_url}/repos/no/such/releases")[2]) == []


def test_token_guards_the_api_not_downloads():
    with ArtifactMirror(token="s3cret") as mirror:
        mirror.add_release(REPO, "v1.0.0", {"a": b"1"})
        url = f"{mirror.api_url}/repos/{REPO}/releases"
        assert status_of(url)[0] == 401
        assert status_of(url, {"Authorization": "Bearer wrong"})[0] == 401
        assert status_of(url, {"Authorization": "Bearer s3cret"})[0] == 200
        assert status_of(url, {"Authorization": "token s3cret"})[0] == 200
        assert get(mirror.asset_url(REPO, "v1.0.0", "a"))[2] == b"1"


def test_closed_mirror_frees_its_port():
    mirror = ArtifactMirror().start()
    url = mirror.url
    mirror.close()
    mirror.close()
    with pytest.raises(urllib.error.URLError):
        get(url)
    with pytest.raises(RuntimeError, match="not started"):
        _ = mirror.url


def test_add_release_wants_owner_and_name(mirror):
    with pytest.raises(ValueError, match="owner/name"):
        mirror.add_release("containerd", "v1", {})


def test_tarball_modes_and_determinism():
    files = {"bin/tool": "#!/bin/sh\necho hi\n", "README": b"text", "bin/data": b"\x00"}
    data = tarball(files, modes={"bin/data": 0o700})
    assert data == tarball(files, modes={"bin/data": 0o700})
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        members = {m.name: m for m in archive.getmembers()}
        assert {name: oct(m.mode) for name, m in members.items()} == {
            "bin/tool": "0o755",
            "README": "0o644",
            "bin/data": "0o700",
        }
        extracted = archive.extractfile("bin/tool")
        assert extracted is not None
        assert extracted.read() == b"#!/bin/sh\necho hi\n"


def test_sha256sums_is_sha256sum_output():
    text = sha256sums({"a.tar.gz": b"abc"}).decode()
    assert text == f"{hashlib.sha256(b'abc').hexdigest()}  a.tar.gz\n"
