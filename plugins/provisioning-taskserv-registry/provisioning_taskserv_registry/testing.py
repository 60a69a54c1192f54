"""Fake CNCF distribution releases for tests: tarballs shaped like upstream's, with a
Python stand-in.

The fake ``registry serve CONFIG`` reads ``http.addr`` and the filesystem
``rootdirectory`` from its config, creates the storage layout under the root
and answers ``GET /v2/`` with 200 on that address, as the real one does.

They live in the package (not in tests/) so that ``prov plugin test
registry`` works from an installed plugin, and so that the buildkit cluster
serves the same fakes.  Nothing here imports pytest; the hooks never import
this module.
"""

from __future__ import annotations

import sys

from provisioning_core.testing import ArtifactMirror, sha256sums, tarball

__all__ = [
    "PRERELEASE",
    "REGISTRY",
    "REPO",
    "VERSIONS",
    "add_releases",
    "asset_name",
    "assets",
    "checksums_name",
    "release",
]

REPO = "distribution/distribution"
#: the stable releases :func:`add_releases` serves, oldest first, and its prerelease
VERSIONS = ("2.8.3", "3.0.0")
PRERELEASE = "3.1.0-beta.1"

REGISTRY = """#!__PYTHON__
import os, re, signal, sys
from http.server import BaseHTTPRequestHandler, HTTPServer

VERSION = __VERSION__
args = sys.argv[1:]
if args[:1] == ["--version"]:
    print("registry github.com/distribution/distribution/v3 v" + VERSION)
    sys.exit(0)
if args[:1] != ["serve"] or len(args) != 2:
    sys.exit("usage: registry serve CONFIG")
text = open(args[1]).read()
addr = re.search(r'addr: "?([^"\\n]+)"?', text).group(1)
root = re.search(r"rootdirectory: (\\S+)", text).group(1)
host, port = addr.rsplit(":", 1)
os.makedirs(os.path.join(root, "docker/registry/v2/repositories"), exist_ok=True)


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        status = 200 if self.path == "/v2/" else 404
        self.send_response(status)
        self.send_header("Docker-Distribution-Api-Version", "registry/2.0")
        self.send_header("X-Fake-Registry-Version", VERSION)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


server = HTTPServer((host.strip("[]"), int(port)), Handler)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
print("registry", VERSION, "listening on", addr, flush=True)
server.serve_forever()
"""


def asset_name(version: str, arch: str) -> str:
    """The release tarball's name for ``arch``, as upstream names it."""
    return f"registry_{version}_linux_{arch}.tar.gz"


def checksums_name(version: str) -> str:
    """The checksum asset's name, as upstream names it."""
    return f"registry_{version}_checksums.txt"


def release(version: str, arch: str = "amd64") -> bytes:
    """The release tarball of fake registry ``version``: the binary, LICENSE, README.md."""
    return tarball(
        {
            "ARCH": arch,
            "registry": REGISTRY.replace("__PYTHON__", sys.executable).replace(
                "__VERSION__", repr(version)
            ),
            "LICENSE": "Apache License 2.0\n",
            "README.md": "# fake distribution\n",
        }
    )


def assets(version: str, arch: str, *, checksum: bool = True) -> dict[str, bytes]:
    """Release assets as upstream names them: one tarball per arch and one checksums.txt."""
    found = {asset_name(version, a): release(version, a) for a in ("arm64", arch)}
    if checksum:
        found[checksums_name(version)] = sha256sums(found)
    return found


def add_releases(
    mirror: ArtifactMirror,
    versions: tuple[str, ...] = VERSIONS,
    prerelease: str | None = PRERELEASE,
) -> None:
    """Serve ``versions`` (oldest first) and ``prerelease``, for amd64 and arm64 alike."""
    tags = [(v, False) for v in versions] + ([(prerelease, True)] if prerelease else [])
    for version, pre in tags:
        mirror.add_release(REPO, f"v{version}", assets(version, "amd64"), prerelease=pre)
