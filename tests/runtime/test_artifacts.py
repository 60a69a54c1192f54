"""Resolving a release asset to a URL and a verified sha256, against a local mirror."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from provisioning_core.errors import ConfigError, ProvisioningError, TransientError
from provisioning_core.runtime.artifacts import (
    latest_version,
    link_binaries,
    parse_checksums,
    release_asset,
    unlink_binaries,
    unpack_steps,
)
from provisioning_core.testing import ArtifactMirror, sha256sums

REPO = "containerd/containerd"
ASSET = "containerd-1.7.13-linux-amd64.tar.gz"
DATA = b"not really a tarball"
DIGEST = hashlib.sha256(DATA).hexdigest()


@pytest.fixture
def mirror():
    with ArtifactMirror() as m:
        m.add_release(
            REPO, "v1.7.13", {ASSET: DATA, f"{ASSET}.sha256sum": sha256sums({ASSET: DATA})}
        )
        yield m


def test_digest_from_the_release_checksum_asset(mirror):
    asset = release_asset(
        REPO, "1.7.13", ASSET, checksums=f"{ASSET}.sha256sum", download_url=mirror.download_url
    )
    assert asset.url == mirror.asset_url(REPO, "v1.7.13", ASSET)
    assert asset.sha256 == DIGEST
    assert asset.tag == "v1.7.13"
    assert asset.verified_by == mirror.asset_url(REPO, "v1.7.13", f"{ASSET}.sha256sum")
    # only the small checksum file was fetched, never the artifact itself
    assert mirror.requests == [f"/{REPO}/releases/download/v1.7.13/{ASSET}.sha256sum"]


def test_a_pinned_digest_wins_and_fetches_nothing(mirror):
    pinned = "A" * 64
    asset = release_asset(
        REPO,
        "1.7.13",
        ASSET,
        checksums=f"{ASSET}.sha256sum",
        sha256=pinned,
        download_url=mirror.download_url,
    )
    assert (asset.sha256, asset.verified_by) == ("a" * 64, "sha256")
    by_version = release_asset(
        REPO, "1.7.13", ASSET, sha256={"1.7.13": DIGEST}, download_url=mirror.download_url
    )
    assert by_version.sha256 == DIGEST
    assert mirror.requests == []


def test_no_checksum_and_no_pin_refuses_and_says_how_to_pin(mirror):
    with pytest.raises(ProvisioningError) as caught:
        release_asset(
            REPO,
            "1.7.13",
            ASSET,
            sha256={"1.6.0": DIGEST},  # pins another version only
            download_url=mirror.download_url,
            pin_setting="[taskservs.containerd] sha256",
        )
    text = str(caught.value)
    assert "publishes no checksum" in text
    assert "refusing to install" in text
    assert '[taskservs.containerd] sha256 = "<sha256>"' in text
    assert mirror.asset_url(REPO, "v1.7.13", ASSET) in text


def test_a_malformed_pin_is_a_config_error(mirror):
    with pytest.raises(ConfigError, match=r"got 'abc' @ sha256\.1\.7\.13"):
        release_asset(REPO, "1.7.13", ASSET, sha256={"1.7.13": "abc"})


def test_checksum_asset_missing_or_not_listing_the_asset(mirror):
    with pytest.raises(ProvisioningError) as caught:
        release_asset(
            REPO,
            "1.7.13",
            ASSET,
            checksums="nope.sha256",
            download_url=mirror.download_url,
            pin_setting="[taskservs.containerd] sha256",
        )
    text = str(caught.value)
    assert "has no checksum asset nope.sha256 (HTTP 404 from" in text
    assert "refusing to install" in text
    assert '[taskservs.containerd] sha256 = "<sha256>"' in text
    mirror.fail_next("/", 403)
    with pytest.raises(ProvisioningError, match=r"HTTP 403 from .*\.sha256sum"):
        release_asset(
            REPO, "1.7.13", ASSET, checksums=f"{ASSET}.sha256sum", download_url=mirror.download_url
        )
    with pytest.raises(ProvisioningError, match=r"lists no sha256 for other\.tar\.gz"):
        release_asset(
            REPO,
            "1.7.13",
            "other.tar.gz",
            checksums=f"{ASSET}.sha256sum",
            download_url=mirror.download_url,
        )


def test_rate_limit_is_transient(mirror):
    mirror.fail_next(f"/{REPO}/releases/download/", 429, {"Retry-After": "3"})
    with pytest.raises(TransientError) as caught:
        release_asset(
            REPO, "1.7.13", ASSET, checksums=f"{ASSET}.sha256sum", download_url=mirror.download_url
        )
    assert (caught.value.status, caught.value.retry_after) == (429, 3.0)
    assert "HTTP 429" in str(caught.value)


def test_unreachable_download_host():
    with ArtifactMirror() as gone:
        url = gone.download_url
    with pytest.raises(ProvisioningError, match="could not fetch the checksum asset"):
        release_asset(REPO, "1.7.13", ASSET, checksums="x", download_url=url, timeout=5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (f"{DIGEST}  {ASSET}\n", DIGEST),
        (f"{DIGEST} *{ASSET}\n", DIGEST),
        (f"{'0' * 64}  other\n{DIGEST.upper()}  ./dist/{ASSET}\n", DIGEST),
        (f"SHA256 ({ASSET}) = {DIGEST}\n", DIGEST),
        (f"{DIGEST}\n", DIGEST),  # a bare digest: the file is about one asset
        (f"{'0' * 64}  other\n", None),
        ("", None),
    ],
)
def test_parse_checksums(text, expected):
    assert parse_checksums(text, ASSET) == expected


def test_latest_version_skips_prereleases(mirror):
    mirror.add_release(REPO, "v2.0.0-rc.1", {}, prerelease=True)
    assert latest_version(REPO, api_url=mirror.api_url) == "1.7.13"
    assert latest_version(REPO, api_url=mirror.api_url, include_prereleases=True) == "2.0.0-rc.1"
    with pytest.raises(ProvisioningError, match="no stable release"):
        latest_version("no/such", api_url=mirror.api_url)


# --- unpacking on a host -------------------------------------------------------------------


@pytest.fixture
def host(tmp_path):
    from provisioning_core.runtime.host import Host
    from provisioning_core.runtime.transport import LocalTransport

    root = tmp_path / "root"
    root.mkdir()
    with Host(LocalTransport(root=root), name="sandbox") as h:
        yield h


def tree(root) -> dict[str, str]:
    """Every path under ``root`` with what it is: a link's target, a file's content."""
    found = {}
    for path in sorted(root.rglob("*")):
        rel = str(path.relative_to(root))
        if path.is_symlink():
            found[rel] = "-> " + str(path.readlink())
        elif path.is_file():
            found[rel] = path.read_bytes().decode(errors="replace")
        else:
            found[rel] = "/"
    return found


def test_unpack_link_and_unlink_a_release(mirror, host, tmp_path):
    from provisioning_core.runtime.steps import apply_steps
    from provisioning_core.testing import tarball

    archive = tarball(
        {"bin/tool": "#!/bin/sh\necho tool\n", "bin/helper": "#!/bin/sh\n", "LICENSE": "x"}
    )
    mirror.add_release("acme/tool", "v2.0.0", {"tool.tar.gz": archive})
    asset = release_asset(
        "acme/tool",
        "2.0.0",
        "tool.tar.gz",
        sha256={"2.0.0": hashlib.sha256(archive).hexdigest()},
        download_url=mirror.download_url,
    )
    steps = unpack_steps(host, asset, "/opt/tool/2.0.0", bin_dir="/usr/local/bin")
    root = tmp_path / "root"

    planned = apply_steps(host, steps, check=True)
    assert planned.changed
    assert planned.actions == [
        "would create directory /opt/tool/2.0.0",
        f"would download {asset.url} to /opt/tool/2.0.0/tool.tar.gz",
        "would extract /opt/tool/2.0.0/tool.tar.gz into /opt/tool/2.0.0",
        "would run link /opt/tool/2.0.0/bin/* into /usr/local/bin",
    ]
    assert tree(root) == {}
    assert mirror.requests == []  # check mode downloads nothing

    assert apply_steps(host, steps, check=False).changed
    real = host.path("/opt/tool/2.0.0/bin")
    assert (root / "usr/local/bin/tool").readlink() == Path(real) / "tool"
    assert (root / "usr/local/bin/helper").readlink() == Path(real) / "helper"
    assert not (root / "usr/local/bin/LICENSE").exists()
    assert host.run(host.path("/usr/local/bin/tool")).text() == "tool\n"
    again = apply_steps(host, steps, check=False)
    assert (again.changed, again.actions) == (False, [])

    (root / "usr/local/bin/mine").write_text("not a link")
    (root / "usr/local/bin/other").symlink_to("/usr/bin/env")
    unlink = [unlink_binaries(host, "/opt/tool/2.0.0", "/usr/local/bin")]
    assert apply_steps(host, unlink, check=True).changed
    assert (root / "usr/local/bin/tool").is_symlink()
    assert apply_steps(host, unlink, check=False).changed
    assert sorted(p.name for p in (root / "usr/local/bin").iterdir()) == ["mine", "other"]
    assert not apply_steps(host, unlink, check=False).changed


def test_a_wrong_digest_installs_nothing(mirror, host, tmp_path):
    from provisioning_core.runtime.steps import apply_steps

    mirror.add_release("acme/tool", "v2.0.0", {"tool.tar.gz": b"the real bytes"})
    asset = release_asset(
        "acme/tool", "2.0.0", "tool.tar.gz", sha256="0" * 64, download_url=mirror.download_url
    )
    with pytest.raises(ProvisioningError) as caught:
        apply_steps(host, unpack_steps(host, asset, "/opt/tool/2.0.0"), check=False)
    text = str(caught.value)
    assert asset.url in text
    assert "0" * 64 in text
    assert hashlib.sha256(b"the real bytes").hexdigest() in text
    assert not (tmp_path / "root/opt/tool/2.0.0/tool.tar.gz").exists()


def test_binaries_must_be_a_plain_glob(host):
    with pytest.raises(ConfigError, match="invalid binaries pattern"):
        link_binaries(host, "/opt/tool", "/usr/local/bin", "bin/*; rm -rf /")
    with pytest.raises(ConfigError):
        link_binaries(host, "/opt/tool", "/usr/local/bin", "../*")
