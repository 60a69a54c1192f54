"""Trust on first use: the host keys of servers we have connected to.

``$PROV_HOME/known_hosts`` holds OpenSSH-style lines ``[host]:port KEYTYPE BASE64``.
The first connection to a ``[host]:port`` records the key it presented; later
connections must present the same key.  A provider that knows a server's key
passes it as ``SshAccess.host_key`` instead, and this file is not consulted.
"""

from __future__ import annotations

from pathlib import Path

from provisioning_core.paths import prov_home

__all__ = ["forget", "known_hosts_path", "known_keys", "pattern", "remember"]


def known_hosts_path() -> Path:
    """``$PROV_HOME/known_hosts``."""
    return prov_home() / "known_hosts"


def pattern(host: str, port: int) -> str:
    """The key a host is recorded under: always ``[host]:port``, even for port 22."""
    return f"[{host}]:{port}"


def known_keys(host: str, port: int) -> list[str]:
    """The public key lines (``KEYTYPE BASE64``) recorded for ``[host]:port``."""
    path = known_hosts_path()
    if not path.is_file():
        return []
    wanted = pattern(host, port)
    keys = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split()
        if len(fields) >= 3 and not line.startswith("#") and wanted in fields[0].split(","):  # noqa: PLR2004
            keys.append(f"{fields[1]} {fields[2]}")
    return keys


def remember(host: str, port: int, key: str) -> None:
    """Record ``key`` (``KEYTYPE BASE64 [comment]``) for ``[host]:port`` unless it is there."""
    from filelock import FileLock

    path = known_hosts_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    key = " ".join(key.split()[:2])
    # parallel connections to one new server must not write it twice
    with FileLock(str(path) + ".lock"):
        if key in known_keys(host, port):
            return
        with path.open("a", encoding="utf-8") as file:
            file.write(f"{pattern(host, port)} {key}\n")


def forget(host: str, port: int) -> bool:
    """Drop every key recorded for ``[host]:port`` (a recreated server); True if any was."""
    from filelock import FileLock

    path = known_hosts_path()
    if not path.is_file():
        return False
    with FileLock(str(path) + ".lock"):
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        wanted = pattern(host, port)
        kept = [line for line in lines if wanted not in (line.split() or [""])[0].split(",")]
        if len(kept) == len(lines):
            return False
        path.write_text("".join(kept), encoding="utf-8")
        return True
