"""Fake BuildKit and containerd releases, shaped like upstream's, with Python stand-ins.

The fake ``buildkitd --config FILE`` reads ``root``, ``[grpc] address`` and
the containerd worker's ``address`` from its config; like the real one with
the containerd worker, it exits when containerd does not answer.  Otherwise
it listens on its unix socket (and TCP address, if configured) until
SIGTERM.  The fake ``buildctl --addr unix://SOCKET debug workers`` asks it
for its workers and fails when nothing listens.  The fake containerd is the
smallest one the containerd plugin's health check accepts.
"""

from __future__ import annotations

import sys

from provisioning_core.testing import sha256sums, tarball

REPO = "moby/buildkit"
CONTAINERD_REPO = "containerd/containerd"

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

CONTAINERD = (
    _UNIX
    + """
args = sys.argv[1:]
text = open(args[args.index("--config") + 1]).read()
sock = re.search(r'\\[grpc\\]\\s*address = "([^"]+)"', text).group(1)
server = unix_listen(sock)
signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
serve(server, VERSION)
"""
)

CTR = (
    _UNIX
    + """
args = sys.argv[1:]
try:
    print("Server:\\n  Version:  v" + unix_ask(args[args.index("--address") + 1]))
except OSError as exc:
    sys.exit(f"ctr: failed to dial: {exc}")
"""
)


def _script(body: str, version: str) -> str:
    prelude = _PRELUDE.replace("__PYTHON__", sys.executable).replace("__VERSION__", repr(version))
    return prelude + body


def asset_name(version: str, arch: str) -> str:
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


def containerd_assets(version: str, arch: str) -> dict[str, bytes]:
    """A fake containerd release with its ``.sha256sum``, as containerd publishes."""
    name = f"containerd-{version}-linux-{arch}.tar.gz"
    data = tarball(
        {"bin/containerd": _script(CONTAINERD, version), "bin/ctr": _script(CTR, version)}
    )
    return {name: data, f"{name}.sha256sum": sha256sums({name: data})}
