"""SSH keys: the provider's client key pair and each sandbox's host key."""

from __future__ import annotations

import contextlib
import os
import socket
import tempfile
from pathlib import Path

from provisioning_provider_local.store import client_key_path

__all__ = ["ensure_client_key", "make_host_key", "parse_public_keys"]

# DSA is neither generated, offered nor accepted: OpenSSH 10 dropped it, cryptography 51
# deprecates it, and asyncssh leaves it out of its default algorithms
_DSA = ("ssh-dss", "ssh-dss-cert-v01@openssh.com")


def _write_private(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` to ``path`` atomically, never readable by others, not even briefly."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")  # created 0600
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, mode)  # noqa: PTH101 - a str path from mkstemp
        os.replace(tmp, path)  # noqa: PTH105
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)  # noqa: PTH108
        raise


def _generate(private: Path, comment: str | None) -> str:
    import asyncssh

    key = asyncssh.generate_private_key("ssh-ed25519", comment=comment)
    public = key.export_public_key("openssh").decode("ascii").strip()
    # the public half first: a private key on disk always has its .pub beside it
    _write_private(private.with_name(private.name + ".pub"), (public + "\n").encode(), 0o644)
    _write_private(private, key.export_private_key("openssh"), 0o600)
    return public


def ensure_client_key() -> str:
    """The public line of the provider's client key, generated (0600) on first use.

    Call it holding the provider's lock, so that two creates never generate
    two different keys.
    """
    private = client_key_path()
    public = private.with_name(private.name + ".pub")
    if not private.exists():
        private.parent.mkdir(parents=True, exist_ok=True)
        return _generate(private, f"prov-local@{socket.gethostname()}")
    if not public.exists():
        import asyncssh

        line = asyncssh.read_private_key(private).export_public_key("openssh").decode("ascii")
        _write_private(public, line.encode(), 0o644)
    return public.read_text(encoding="ascii").strip()


def make_host_key(private: Path) -> str:
    """Generate a sandbox's host key at ``private`` (and ``.pub``); return the public line."""
    return _generate(private, None)


def parse_public_keys(values: list[str]) -> tuple[list[str], list[str]]:
    """The OpenSSH public key lines in ``values`` (each may hold several), and problems.

    Problems read "message @ $.ssh_keys[i]".
    """
    import asyncssh

    lines: list[str] = []
    problems: list[str] = []
    for index, value in enumerate(values):
        for line in value.splitlines():
            text = line.strip()
            if not text or text.startswith("#"):
                continue
            if text.split(maxsplit=1)[0] in _DSA:
                problems.append(
                    "a DSA key (ssh-dss), which the sandboxes' SSH server does not accept: "
                    f"use an ed25519 key (ssh-keygen -t ed25519) @ $.ssh_keys[{index}]"
                )
                continue
            try:
                asyncssh.import_public_key(text)
            except (asyncssh.KeyImportError, ValueError) as exc:
                problems.append(f"not an OpenSSH public key ({exc}) @ $.ssh_keys[{index}]")
                continue
            lines.append(text)
    return lines, problems
