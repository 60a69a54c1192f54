"""``prov serve``: the orchestrator's HTTP API (the ``[api]`` extra: FastAPI on uvicorn)."""

from __future__ import annotations

import errno
import ipaddress
import logging
import signal
import socket
import sys
from typing import TYPE_CHECKING

import click

from provisioning_core.cli.common import (
    _SECRETS,
    Settings,
    _MaskingFormatter,
    load_config_for,
    say,
)

if TYPE_CHECKING:
    from provisioning_core.config import ApiSettings

__all__ = ["serve"]

_MIN_TOKEN = 16  # characters: a shorter bearer token can be guessed
_EXTRA_HINT = "install the API extra: pip install 'provisioning-core[api]'"
_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access", "provisioning")


@click.command()
@click.option("--host", metavar="ADDRESS", help="Address to listen on (default: [api] host).")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    help="TCP port (default: [api] port, 8765; 0 picks a free one).",
)
def serve(host: str | None, port: int | None) -> None:
    """Serve the HTTP API: extensions, and every operation of the CLI as a job.

    \b
    Listens on 127.0.0.1:8765 unless [api] host/port or --host/--port say
    otherwise, and prints the address it listens on. Beyond loopback it needs
    a bearer token: [api] token (or PROV_API_TOKEN); [api] read_token may only
    read. OpenAPI: /api/v1/openapi.json, docs: /api/v1/docs. Stop it with
    Ctrl-C or SIGTERM: jobs in flight are interrupted and recorded so.
    """
    from provisioning_core.errors import ConfigError

    try:
        import fastapi  # noqa: F401 - only asking whether it is installed
        import uvicorn
    except ImportError as exc:
        raise ConfigError(
            f"prov serve needs the HTTP API extra, which is not installed ({exc.name} is missing)",
            hint=_EXTRA_HINT,
        ) from None
    config = load_config_for({"api.host": host, "api.port": port})
    settings = config.api
    # a token read from PROV_API_TOKEN is not in the configuration's tree: mask it too
    _SECRETS.extend(s for s in (settings.token, settings.read_token) if s is not None)
    _refuse_exposure(settings)
    listener = _bind(settings.host, settings.port)
    from provisioning_core.api import create_app
    from provisioning_core.config import load_config

    config_file = click.get_current_context().find_object(Settings)
    overrides = {"api.host": host, "api.port": port}
    # read again for each job, from threads without a click context
    app = create_app(
        lambda: load_config(
            config_file=config_file.config_file if config_file else None, overrides=overrides
        )
    )
    _log_to_stderr()
    bound_host, bound_port = listener.getsockname()[:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    say(f"listening on http://{shown}:{bound_port} (API docs: /api/v1/docs; Ctrl-C stops)")
    sys.stderr.flush()
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_config=None,
            timeout_graceful_shutdown=5,
            lifespan="on",
            server_header=False,
        )
    )
    # uvicorn stops gracefully on SIGINT/SIGTERM, then raises the signal again to the
    # handler it found: make that an orderly exit 0, whichever signal it was
    previous = signal.signal(signal.SIGTERM, _stop)
    try:
        server.run(sockets=[listener])
    except (KeyboardInterrupt, _Stopped):
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        listener.close()
    say("stopped")


class _Stopped(Exception):
    """SIGTERM, once uvicorn has shut down for it."""


def _stop(_signum: int, _frame: object) -> None:
    raise _Stopped


def _refuse_exposure(settings: ApiSettings) -> None:
    from provisioning_core.errors import ConfigError

    for name, secret in (("token", settings.token), ("read_token", settings.read_token)):
        if secret is not None and len(secret.reveal()) < _MIN_TOKEN:
            raise ConfigError(
                f"[api] {name} is shorter than {_MIN_TOKEN} characters, which can be guessed",
                hint='use a random one: python -c "import secrets; print(secrets.token_urlsafe())"',
            )
    if settings.token is None and not _loopback(settings.host):
        raise ConfigError(
            f"prov serve refuses to listen on {settings.host} without a token: anyone who "
            "can reach it could change your servers",
            hint="set [api] token (or PROV_API_TOKEN), or listen on 127.0.0.1",
        )


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a name: it may resolve anywhere


def _bind(host: str, port: int) -> socket.socket:
    """The listening socket, bound before the app starts, so a busy port is a clear error."""
    from provisioning_core.errors import ConfigError

    try:
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        infos = socket.getaddrinfo(host, port, family, socket.SOCK_STREAM)
        family, kind, proto = infos[0][:3]
        # proto must be IPPROTO_TCP: asyncio sets TCP_NODELAY on accepted connections only
        # then, and without it every keep-alive answer waits ~40 ms for a delayed ACK
        sock = socket.socket(family, kind, proto)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(infos[0][4])
        sock.listen(128)
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if exc.errno == errno.EADDRINUSE:
            hint = "another process listens there; choose another --port ([api] port), or 0"
        else:
            hint = "check --host ([api] host): an address of this machine, such as 127.0.0.1"
        raise ConfigError(f"cannot listen on {host}:{port}: {reason}", hint=hint) from None
    sock.setblocking(False)  # noqa: FBT003 - the socket API's own signature
    return sock


def _log_to_stderr() -> None:
    """The server's log (requests, job events) on stderr, every secret masked."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_MaskingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    for name in _LOGGERS:
        logger = logging.getLogger(name)
        logger.handlers = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    # every other library's warnings and errors (an SDK, an SSH client) pass the same mask,
    # instead of logging's unmasked last-resort handler
    root = logging.getLogger()
    root.handlers = [handler]
    if root.level == logging.NOTSET or root.level > logging.WARNING:
        root.setLevel(logging.WARNING)
