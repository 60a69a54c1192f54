"""Fake containerd releases for tests: tarballs shaped like upstream's, with Python stand-ins.

The fake ``containerd`` reads the ``[grpc] address`` and ``root`` of the config
it is given, listens on that unix socket (answering with its version), writes
a metadata file under ``root`` and runs until SIGTERM.  The fake ``ctr``
answers ``--address SOCKET version`` by connecting to the socket, and fails
like the real one when nothing listens there.

They live in the package (not in tests/) so that ``prov plugin test
containerd`` works from an installed plugin, and so that plugins building on
containerd (buildkit, the buildkit cluster) serve the same fakes.  Nothing
here imports pytest; the hooks never import this module.
"""

from __future__ import annotations

import sys

from provisioning_core.testing import ArtifactMirror, sha256sums, tarball

__all__ = [
    "ARCHES",
    "PRERELEASE",
    "REPO",
    "VERSIONS",
    "add_releases",
    "asset_name",
    "assets",
    "release",
]

REPO = "containerd/containerd"
#: the stable releases :func:`add_releases` serves, oldest first, and its prerelease
VERSIONS = ("1.7.13", "2.0.0")
PRERELEASE = "2.1.0-rc.0"
#: the architectures served: the fakes are scripts, any machine a sandbox reports will do
ARCHES = ("amd64", "arm64")

_PRELUDE = f"#!{sys.executable}\nimport os, re, signal, socket, sys\nVERSION = {{version!r}}\n"

CONTAINERD = """
args = sys.argv[1:]
text = open(args[args.index("--config") + 1]).read()
sock = re.search(r'\\[grpc\\]\\s*address = "([^"]+)"', text).group(1)
root = re.search(r'^root = "([^"]+)"', text, re.M).group(1)
os.makedirs(root, exist_ok=True)
with open(os.path.join(root, "meta.db"), "w") as f:
    f.write("containerd data\\n")
os.makedirs(os.path.dirname(sock), exist_ok=True)
os.chdir(os.path.dirname(sock))  # bind relative: sandbox paths outgrow sun_path
name = os.path.basename(sock)
if os.path.exists(name):
    os.unlink(name)
server = socket.socket(socket.AF_UNIX)
server.bind(name)
server.listen(8)


def stop(*_):
    try:
        os.unlink(name)
    except OSError:
        pass
    sys.exit(0)


signal.signal(signal.SIGTERM, stop)
print("containerd", VERSION, "serving on", sock, flush=True)
while True:
    conn, _ = server.accept()
    conn.sendall(VERSION.encode())
    conn.close()
"""

CTR = """
args = sys.argv[1:]
sock = "/run/containerd/containerd.sock"
if "--address" in args:
    sock = args[args.index("--address") + 1]
if "version" not in args:
    sys.exit("ctr (fake): only `version` is known")
print("Client:\\n  Version:  v" + VERSION)
client = socket.socket(socket.AF_UNIX)
try:
    os.chdir(os.path.dirname(sock))
    client.connect(os.path.basename(sock))
    server_version = client.recv(100).decode()
except OSError as exc:
    sys.exit(f"ctr: failed to dial {sock}: {exc}")
print("Server:\\n  Version:  v" + server_version)
"""


def asset_name(version: str, arch: str) -> str:
    """The release tarball's name, as upstream names it."""
    return f"containerd-{version}-linux-{arch}.tar.gz"


def release(version: str) -> bytes:
    """The release tarball of fake containerd ``version``."""

    def script(body: str) -> str:
        return _PRELUDE.format(version=version) + body

    return tarball(
        {
            "bin/containerd": script(CONTAINERD),
            "bin/ctr": script(CTR),
            "bin/containerd-shim-runc-v2": "#!/bin/sh\nexit 0\n",
        }
    )


def assets(version: str, arch: str, *, checksum: bool = True) -> dict[str, bytes]:
    """Release assets as upstream names them: the tarball and its ``.sha256sum``."""
    name = asset_name(version, arch)
    data = release(version)
    found = {name: data}
    if checksum:
        found[f"{name}.sha256sum"] = sha256sums({name: data})
    return found


def add_releases(
    mirror: ArtifactMirror,
    versions: tuple[str, ...] = VERSIONS,
    prerelease: str | None = PRERELEASE,
) -> None:
    """Serve ``versions`` (oldest first) and ``prerelease`` for every arch in ``ARCHES``."""
    tags = [(v, False) for v in versions] + ([(prerelease, True)] if prerelease else [])
    for version, pre in tags:
        served: dict[str, bytes] = {}
        for arch in ARCHES:
            served.update(assets(version, arch))
        mirror.add_release(REPO, f"v{version}", served, prerelease=pre)
