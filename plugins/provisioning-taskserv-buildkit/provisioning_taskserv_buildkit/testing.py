"""Fake BuildKit releases for tests, shaped like upstream's, with Python stand-ins.

The fake ``buildkitd --config FILE`` reads ``root``, ``[grpc] address`` and
the containerd worker's ``address`` from its config; like the real one with
the containerd worker, it exits when containerd does not answer.  Otherwise
it listens on its unix socket (and TCP address, if configured) until
SIGTERM.  The fake ``buildctl --addr unix://SOCKET debug workers`` asks it
for its workers and fails when nothing listens.  The containerd it needs is
the containerd plugin's fake (:mod:`provisioning_taskserv_containerd.testing`).

They live in the package (not in tests/) so that ``prov plugin test buildkit``
works from an installed plugin, and so that the buildkit cluster serves the
same fakes.  Nothing here imports pytest; the hooks never import this module.
"""

from __future__ import annotations

import hashlib
import sys

from provisioning_core.testing import ArtifactMirror, tarball

__all__ = [
    "ARCHES",
    "REPO",
    "VERSIONS",
    "add_releases",
    "asset_name",
    "pins",
    "release",
]

REPO = "moby/buildkit"
#: the releases :func:`add_releases` serves, oldest first
VERSIONS = ("0.12.5", "0.13.0")
#: the architectures served: the fakes are scripts, any machine a sandbox reports will do
ARCHES = ("amd64", "arm64")

_PRELUDE = "#!__PYTHON__\nimport os, re, signal, socket, sys, threading\nVERSION = __VERSION__\n"

_UNIX = """
def unix_listen(path):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.chdir(os.path.dirname(path))  # bind relative: sandbox paths outgrow sun_path
    name = os.path.basename(path)
    if os.path.exists(name):
        os.unlink(name)
    server = socket.socket(socket.AF_UNIX)
    server.bind(name)
    server.listen(8)
    return server


def unix_ask(path):
    client = socket.socket(socket.AF_UNIX)
    os.chdir(os.path.dirname(path))
    client.connect(os.path.basename(path))
    return client.recv(200).decode()


def serve(server, answer):
    while True:
        conn, _ = server.accept()
        conn.sendall(answer.encode())
        conn.close()
"""

BUILDKITD = (
    _UNIX
    + """
args = sys.argv[1:]
text = open(args[args.index("--config") + 1]).read()
root = re.search(r'^root = "([^"]+)"', text, re.M).group(1)
addresses = re.findall(r'"((?:unix|tcp)://[^"]+)"', text)
worker = re.search(r'\\[worker\\.containerd\\][^\\[]*address = "([^"]+)"', text).group(1)
try:
    unix_ask(worker)
except OSError as exc:
    sys.exit(f"buildkitd: containerd worker: failed to dial {worker}: {exc}")
os.makedirs(root, exist_ok=True)
with open(os.path.join(root, "cache.db"), "w") as f:
    f.write("build cache\\n")
answer = f"buildkitd {VERSION} worker containerd linux/amd64"
listeners = []
for address in addresses:
    if address.startswith("unix://"):
        listeners.append(unix_listen(address[len("unix://"):]))
    else:
        host, port = address[len("tcp://"):].rsplit(":", 1)
        tcp = socket.create_server((host.strip("[]"), int(port)))
        listeners.append(tcp)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
for listener in listeners[1:]:
    threading.Thread(target=serve, args=(listener, answer), daemon=True).start()
print("buildkitd", VERSION, "listening on", addresses, flush=True)
serve(listeners[0], answer)
"""
)

BUILDCTL = (
    _UNIX
    + """
args = sys.argv[1:]
if "--version" in args:
    print("buildctl github.com/moby/buildkit v" + VERSION)
    sys.exit(0)
address = args[args.index("--addr") + 1] if "--addr" in args else "unix:///run/buildkit/buildkitd.sock"
if args[-2:] != ["debug", "workers"]:
    sys.exit("buildctl (fake): only `debug workers` is known")
try:
    print(unix_ask(address[len("unix://"):]))
except OSError as exc:
    sys.exit(f"error: failed to dial {address}: {exc}")
"""
)


def _script(body: str, version: str) -> str:
    prelude = _PRELUDE.replace("__PYTHON__", sys.executable).replace("__VERSION__", repr(version))
    return prelude + body


def asset_name(version: str, arch: str) -> str:
    """The release tarball's name, as upstream names it."""
    return f"buildkit-v{version}.linux-{arch}.tar.gz"


def release(version: str) -> bytes:
    """The release tarball of fake BuildKit ``version`` (everything under ``bin/``)."""
    return tarball(
        {
            "bin/buildkitd": _script(BUILDKITD, version),
            "bin/buildctl": _script(BUILDCTL, version),
            "bin/buildkit-runc": "#!/bin/sh\nexit 0\n",
        }
    )


def pins(versions: tuple[str, ...] = VERSIONS) -> dict[str, str]:
    """BuildKit publishes no checksums: the ``sha256`` setting that pins ``versions``."""
    return {v: hashlib.sha256(release(v)).hexdigest() for v in versions}


def add_releases(mirror: ArtifactMirror, versions: tuple[str, ...] = VERSIONS) -> None:
    """Serve ``versions`` (oldest first) for every arch in ``ARCHES``, without checksums."""
    for version in versions:
        data = release(version)
        mirror.add_release(REPO, f"v{version}", {asset_name(version, a): data for a in ARCHES})
