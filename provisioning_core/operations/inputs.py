"""Parsing and checking what a user typed, before anything is called.

Every function here raises :class:`InputError` (exit 2) naming the field,
what is wrong and what is allowed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from pathlib import Path

import attrs

from provisioning_core.errors import InputError
from provisioning_core.models import FirewallRule, ServerConfig, parse_ports

__all__ = [
    "MAX_COUNT",
    "check_choice",
    "check_hostname",
    "expand_hostnames",
    "parse_rule",
    "parse_tags",
    "public_key_problem",
    "read_ssh_keys",
]

_TAG_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,62}$")
_RULE_FIELDS = ("direction", "protocol", "port", "action", "source", "destination")
_RULE_SHAPE = "DIRECTION,PROTOCOL,PORT,ACTION[,SOURCE[,DESTINATION]]"


def parse_tags(values: Iterable[str], *, field: str = "--tag") -> dict[str, str]:
    """``["env=prod", "team=web"]`` as a dict; a malformed or repeated key is an error."""
    tags: dict[str, str] = {}
    problems: list[str] = []
    for value in values:
        key, sep, text = value.partition("=")
        if not sep:
            problems.append(f"{value!r} is not KEY=VALUE @ {field}")
        elif not _TAG_KEY.match(key):
            problems.append(
                f"tag key {key!r} must start with a letter or digit and use letters, digits "
                f"and _.:/- (at most 63 characters) @ {field}"
            )
        elif key in tags:
            problems.append(f"tag {key!r} is given twice @ {field}")
        else:
            tags[key] = text
    if problems:
        raise InputError(
            "invalid tags", problems=problems, hint="write each tag as --tag key=value"
        )
    return tags


def parse_rule(text: str, *, field: str = "--rule") -> FirewallRule:
    """``DIRECTION,PROTOCOL,PORT,ACTION[,SOURCE[,DESTINATION]]`` as a rule.

    PORT is a number, a range ``8000-8100``, or ``*`` for every port; the
    seed's words are taken too (``ingress``/``egress``, ``allow``/``deny``).
    ``in,tcp,22,accept,10.0.0.0/8`` accepts SSH from one network.
    """
    parts = [p.strip() for p in text.split(",")]
    if not 4 <= len(parts) <= len(_RULE_FIELDS):  # noqa: PLR2004 - the four required fields
        raise InputError(
            f"invalid firewall rule {text!r}",
            problems=[f"expected {_RULE_SHAPE} @ {field}"],
            hint="for example: --rule in,tcp,22,accept  or  --rule in,tcp,*,drop,10.0.0.0/8",
        )
    values = dict(zip(_RULE_FIELDS, parts, strict=False))
    try:
        ports = parse_ports(values["port"])
    except ValueError as exc:
        raise InputError(f"invalid firewall rule {text!r}", problems=[f"{exc} @ {field}"]) from None
    problem = _rule_problem(values, ports)
    if problem:
        raise InputError(f"invalid firewall rule {text!r}", problems=[f"{problem} @ {field}"])
    try:
        return FirewallRule(
            direction=values["direction"].lower(),
            protocol=values["protocol"].lower(),
            action=values["action"].lower(),
            port=ports[0] if ports else None,
            port_end=ports[1] if ports else None,
            source=values.get("source") or None,
            destination=values.get("destination") or None,
        )
    except ValueError as exc:
        raise InputError(f"invalid firewall rule {text!r}", problems=[f"{exc} @ {field}"]) from None


def _rule_problem(values: dict[str, str], ports: tuple[int, int | None] | None) -> str | None:
    import ipaddress

    if ports is not None and values["protocol"].lower() in {"icmp", "any"}:
        return f"a port makes no sense for protocol {values['protocol']}; use *"
    for name in ("source", "destination"):
        peer = values.get(name)
        if peer:
            try:
                ipaddress.ip_network(peer, strict=False)
            except ValueError:
                return f"{name} {peer!r} is not an IP address or network (10.0.0.0/8)"
    return None


def check_hostname(hostname: str, *, field: str = "HOSTNAME") -> None:
    """Raise :class:`InputError` unless ``hostname`` is a valid host name."""
    try:
        attrs.validate(ServerConfig(hostname=hostname, plan="-", zone="-"))
    except ValueError as exc:
        raise InputError("invalid hostname", problems=[f"{exc} @ {field}"]) from None


#: the most servers one command creates: more is a typo, and the names are made first
MAX_COUNT = 1000


def expand_hostnames(hostname: str, count: int, *, field: str = "--count") -> list[str]:
    """``web`` with ``count`` 3 is ``web-1, web-2, web-3``; with 1 it is ``web``."""
    if count < 1:
        raise InputError("invalid count", problems=[f"{count} is less than 1 @ {field}"])
    if count > MAX_COUNT:
        raise InputError(
            "invalid count",
            problems=[f"{count} is more than {MAX_COUNT} @ {field}"],
            hint=f"create at most {MAX_COUNT} servers with one command",
        )
    names = [hostname] if count == 1 else [f"{hostname}-{i}" for i in range(1, count + 1)]
    for name in names:
        check_hostname(name)
    return names


def check_choice(value: str, allowed: Sequence[str], *, what: str, field: str) -> str | None:
    """A problem line when ``value`` is not one of ``allowed``, else None."""
    if value in allowed:
        return None
    return f"unknown {what} {value!r}; allowed: {', '.join(allowed) or '(none)'} @ {field}"


def read_ssh_keys(values: Iterable[str], *, field: str = "--ssh-key") -> list[str]:
    """Each value is a public key or the path of a public key file; DSA keys are refused."""
    keys: list[str] = []
    for value in values:
        path = Path(value).expanduser()
        inline = value.startswith(("ssh-", "ecdsa-", "sk-"))
        if inline:
            text = value.strip()
        else:
            text = _read_key_file(value, path, field)
            if "PRIVATE KEY" in text:
                raise InputError(
                    "refused a private SSH key",
                    problems=[f"{value} holds a private key @ {field}"],
                    hint="give the public half, usually the same path ending in .pub",
                )
        if is_dsa_key(text):
            # a key is shown by its start (enough to know it), a file by its path
            shown = f"{value[: _SHOWN - 3]}..." if inline and len(value) > _SHOWN else value
            raise InputError(
                "refused a DSA SSH key",
                problems=[f"{shown} is a DSA (ssh-dss) key @ {field}"],
                hint="DSA is deprecated and OpenSSH no longer accepts it; make an ed25519 key "
                "(ssh-keygen -t ed25519) and give its .pub file",
            )
        problem = public_key_problem(text)
        if problem:
            shown = f"{value[: _SHOWN - 3]}..." if inline and len(value) > _SHOWN else value
            raise InputError(
                "not a public SSH key",
                problems=[f"{shown!r} {problem} @ {field}"],
                hint=_KEY_HINT,
            )
        keys.append(text)
    return keys


_KEY_HINT = "give a public key (ssh-ed25519 AAAA...) or the path of a .pub file"
# a public key file holds a few lines of a few hundred bytes each
_MAX_KEY_FILE = 64 * 1024
# TYPE BASE64 [COMMENT], as in a .pub file or authorized_keys; no control characters
_PUBLIC_KEY = re.compile(
    r"(?:ssh-|ecdsa-|sk-)[A-Za-z0-9@.+-]+ +[A-Za-z0-9+/]+=*(?: +[^\x00-\x1f\x7f]*)?"
)


def public_key_problem(text: str) -> str | None:
    """What makes ``text`` (OpenSSH public key lines) no public key, or None."""
    lines = [line.strip() for line in text.splitlines()]
    keys = [line for line in lines if line and not line.startswith("#")]
    if not keys:
        return "holds no public key"
    for line in keys:
        if not _PUBLIC_KEY.fullmatch(line):
            return "is not a public key (TYPE BASE64 [COMMENT])"
    return None


def _read_key_file(value: str, path: Path, field: str) -> str:
    """The text of a key file; a FIFO, a device or a huge file is refused unread."""
    import stat

    def refuse(problem: str) -> InputError:
        return InputError(
            "cannot read SSH key", problems=[f"{value}: {problem} @ {field}"], hint=_KEY_HINT
        )

    try:
        st = path.stat()
        if not stat.S_ISREG(st.st_mode):
            raise refuse("not a regular file")
        if st.st_size > _MAX_KEY_FILE:
            raise refuse(f"larger than {_MAX_KEY_FILE // 1024} KiB, so no public key file")
        return path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise refuse(str(exc.strerror or exc)) from None
    except UnicodeDecodeError:
        raise refuse("not UTF-8 text, so no public key file") from None


_SHOWN = 40  # characters of an inline key an error shows

# DSA's key types: OpenSSH 10 dropped them and cryptography 51 deprecates DSA
DSA_KEY_TYPES = ("ssh-dss", "ssh-dss-cert-v01@openssh.com")


def is_dsa_key(text: str) -> bool:
    """Whether any line of ``text`` (OpenSSH public key lines) is a DSA key."""
    return any(
        line.split(maxsplit=1)[0] in DSA_KEY_TYPES for line in text.splitlines() if line.strip()
    )
