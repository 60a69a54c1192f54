"""Loopback addresses for sandboxes, claimed machine-wide.

Every sandbox listens on an address of its own (127.0.0.N), so its services
can use fixed ports (my-service on 8080) without colliding.  Two PROV_HOMEs
on one machine (two users, two test runs, the main job beside a test run)
must therefore never hand out the same address: each address is claimed by
creating ``<claims>/127.0.0.N`` with ``O_EXCL`` (atomic, whoever comes
first), in a directory every user of the machine shares
(``$TMPDIR/prov-local-addresses``, sticky and world-writable, like /tmp).

A claim records the PROV_HOME and the sandbox it belongs to.  It is released
when the sandbox is deleted; a claim whose sandbox directory is gone (its
home was removed, or a crash left it) is stale and taken over, by renaming it
away first, so two processes never take over the same one.  An address on
which anything already listens (``/proc/net/tcp``) is passed over, claimed or
not: a process of another tool may be using it.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import stat
import tempfile
from pathlib import Path

from provisioning_core import ProvisioningError

__all__ = ["claim", "claims_dir", "listening", "next_free", "release"]

FIRST_HOST, LAST_HOST = 2, 254
_LISTEN = "0A"  # the TCP state LISTEN in /proc/net/tcp


def claims_dir() -> Path:
    """The machine-wide directory of address claims (created sticky and world-writable)."""
    path = Path(tempfile.gettempdir()) / "prov-local-addresses"
    try:
        path.mkdir(mode=0o1777, exist_ok=False)
        path.chmod(0o1777)  # the umask narrowed it
    except FileExistsError:
        pass
    mode = path.lstat().st_mode
    if not stat.S_ISDIR(mode):
        raise ProvisioningError(
            f"the local provider's address claims directory {path} is not a directory",
            hint=f"remove {path}; the next create makes it again",
        )
    return path


def listening() -> set[str]:
    """The IPv4 addresses something listens on now (a wildcard listener is not counted)."""
    found: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text(encoding="ascii").splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _LISTEN:  # noqa: PLR2004 - the state column
            continue
        hex_address = fields[1].split(":")[0]
        octets = bytes.fromhex(hex_address)[::-1]  # stored little-endian
        found.add(".".join(str(b) for b in octets))
    return found


def _owner(path: Path) -> dict[str, str] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _stale(path: Path) -> bool:
    """Whether the claim's sandbox directory is gone (one we cannot look at is alive)."""
    owner = _owner(path)
    if owner is None:
        return False  # being written, or unreadable: not ours to judge
    sandbox = owner.get("sandbox_dir")
    if not sandbox:
        return False
    try:
        return not Path(sandbox).exists()
    except OSError:
        return False


def _write(path: Path, sandbox_dir: Path) -> bool:
    """Create the claim ``path`` for ``sandbox_dir``; False if it exists."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        return False
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        json.dump({"sandbox_dir": str(sandbox_dir), "pid": os.getpid()}, out)
    return True


def _take_over(path: Path, sandbox_dir: Path) -> bool:
    """Replace a stale claim with ours; False if another process took it first."""
    aside = path.with_name(f"{path.name}.stale.{os.getpid()}")
    try:
        path.rename(aside)  # only one process wins this
    except FileNotFoundError:
        return _write(path, sandbox_dir)  # released meanwhile: an ordinary claim
    with contextlib.suppress(OSError):
        aside.unlink()
    return _write(path, sandbox_dir)


def _candidates(taken: set[str]) -> list[str]:
    busy = listening()
    return [
        address
        for address in (f"127.0.0.{n}" for n in range(FIRST_HOST, LAST_HOST + 1))
        if address not in taken and address not in busy
    ]


def _exhausted() -> ProvisioningError:
    return ProvisioningError(
        f"no free loopback address for another local server: all of 127.0.0.{FIRST_HOST}-"
        f"{LAST_HOST} are claimed by sandboxes on this machine or in use",
        hint="delete local servers you no longer need (prov server delete); claims are in "
        f"{claims_dir()}",
    )


def next_free(taken: set[str]) -> str:
    """The address :func:`claim` would give now, claiming nothing (check mode)."""
    where = Path(tempfile.gettempdir()) / "prov-local-addresses"
    for address in _candidates(taken):
        claim_file = where / address
        if not claim_file.exists() or _stale(claim_file):
            return address
    raise _exhausted()


def claim(taken: set[str], sandbox_dir: Path) -> str:
    """Claim a free address for ``sandbox_dir`` machine-wide; ``taken``: this home's own."""
    where = claims_dir()
    for address in _candidates(taken):
        path = where / address
        try:
            if _write(path, sandbox_dir):
                return address
            if _stale(path) and _take_over(path, sandbox_dir):
                return address
        except OSError as exc:
            if exc.errno in (errno.EACCES, errno.EPERM):
                continue  # another user's claim we may not touch: not ours
            raise ProvisioningError(
                f"cannot claim the address {address} in {where}: {exc.strerror or exc}",
                hint=f"check that {where} is writable (it is shared by every user)",
            ) from exc
    raise _exhausted()


def release_all(sandbox_dir: Path) -> None:
    """Release every claim ``sandbox_dir`` holds (its address was never recorded)."""
    where = Path(tempfile.gettempdir()) / "prov-local-addresses"
    if not where.is_dir():
        return
    for path in where.iterdir():
        owner = _owner(path)
        if owner is not None and owner.get("sandbox_dir") == str(sandbox_dir):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()


def release_under(home: Path) -> list[str]:
    """Release the claims of every sandbox under ``home`` (a test's PROV_HOME); which."""
    where = Path(tempfile.gettempdir()) / "prov-local-addresses"
    released: list[str] = []
    if not where.is_dir():
        return released
    bases = {str(home), os.path.realpath(home)}
    for path in where.iterdir():
        owner = _owner(path)
        sandbox = str(owner.get("sandbox_dir", "")) if owner else ""
        if sandbox and any(sandbox.startswith(base.rstrip("/") + "/") for base in bases):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
                released.append(path.name)
    return released


def release(address: str, sandbox_dir: Path) -> None:
    """Release ``address`` if ``sandbox_dir`` holds its claim (a claim of another is kept)."""
    path = Path(tempfile.gettempdir()) / "prov-local-addresses" / address
    owner = _owner(path)
    if owner is not None and owner.get("sandbox_dir") == str(sandbox_dir):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
