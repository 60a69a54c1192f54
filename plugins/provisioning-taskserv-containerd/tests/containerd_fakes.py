"""Fake containerd releases: tarballs shaped like upstream's, with small Python stand-ins.

The fake ``containerd`` reads the ``[grpc] address`` and ``root`` of the config
it is given, listens on that unix socket (answering with its version), writes
a metadata file under ``root`` and runs until SIGTERM.  The fake ``ctr``
answers ``--address SOCKET version`` by connecting to the socket, and fails
like the real one when nothing listens there.
"""

from __future__ import annotations

import sys

from provisioning_core.testing import sha256sums, tarball

REPO = "containerd/containerd"

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
sock = args[args.index("--address") + 1] if "--address" in args else "/run/containerd/containerd.sock"
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
