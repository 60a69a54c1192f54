"""The FastAPI application of ``prov serve``.

Every answer is the loading guide's envelope and is masked: each string in it
has every secret of the configuration replaced before it is encoded.  Errors
carry the message the CLI prints for the same failure, with a status by
meaning:

====  ==============================================================
400   bad input (a query parameter, a name, a setting: exit code 2)
401   no token, or a wrong one; 403 a read-only token on a change
404   an unknown extension, server or job
409   the inventory lock is held, or an extension is not loaded
413   a request body over ``[api] max_body_bytes``
422   a request body that is not the request record (``@ $.path``)
500   a plugin failed, or a bug (logged, never a traceback)
503   a transient failure of a provider's API: try again
====  ==============================================================
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import logging
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisioning_core._version import __version__
from provisioning_core.convert import unstructure
from provisioning_core.errors import (
    ConfigError,
    ExtensionNotFound,
    ExtensionNotLoaded,
    InputError,
    ProvisioningError,
    ServerNotFound,
    TransientError,
    UnknownCluster,
    UnknownServer,
)
from provisioning_core.operations.report import error_message
from provisioning_core.operations.requests import JOB_KINDS, JobKind
from provisioning_core.schema import json_schema
from provisioning_core.secret import Secret, redact

if TYPE_CHECKING:
    from provisioning_core.config import ApiSettings, Config
    from provisioning_core.extensions import Extension, ExtensionManager
    from provisioning_core.operations import Engine
    from provisioning_core.operations.jobs import Job, Jobs

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/api/v1"

logger = logging.getLogger("provisioning.api")

_LONGEST_WAIT = 60.0  # seconds a GET of a job may wait for it to end (?wait=)
_READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_WAIT_HELP = f"Seconds to wait for the job to end (at most {_LONGEST_WAIT:g})"
_JOB_STATUSES = "^(queued|running|succeeded|failed|interrupted)$"
_OPERATION_STATUSES = "^(running|succeeded|failed|interrupted)$"
_BEARER = HTTPBearer(auto_error=False, description="[api] token, or read_token for GETs")
_Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)]
_Servers = Annotated[list[str], Query(min_length=1, description="A server (repeat for more)")]


class ApiError(Exception):
    """A refusal of the HTTP layer itself (auth, size, an unknown job)."""

    def __init__(
        self, status: int, message: str, *, hint: str | None = None, problems: Sequence[str] = ()
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.hint = hint
        self.problems = list(problems)


def status_of(error: ProvisioningError) -> int:
    """The HTTP status a core error answers with (the table in this module's docstring)."""
    from provisioning_core.state import InventoryLocked

    if isinstance(error, (ExtensionNotFound, ServerNotFound, UnknownServer, UnknownCluster)):
        return 404
    if isinstance(error, (InventoryLocked, ExtensionNotLoaded)):
        return 409
    if isinstance(error, TransientError):
        return 503
    if isinstance(error, ConfigError) or error.exit_code == 2:  # noqa: PLR2004 - bad input
        return 400
    return 500


# -- masking -------------------------------------------------------------------


class _Masker:
    """Replaces every secret in every string of an answer (keys included)."""

    def __init__(self, secrets: list[Secret]) -> None:
        self.secrets = secrets

    def __call__(self, value: Any) -> Any:
        if not self.secrets:
            return value
        if isinstance(value, str):
            return redact(value, self.secrets)
        if isinstance(value, dict):
            return {self(k): self(v) for k, v in value.items()}
        if isinstance(value, (list, tuple)):
            return [self(v) for v in value]
        return value


def _response_class(mask: _Masker) -> type[JSONResponse]:
    class MaskedJSON(JSONResponse):
        """JSON as the CLI's ``-o json`` writes it, every secret masked."""

        def render(self, content: Any) -> bytes:
            plain = json.loads(json.dumps(unstructure(content), default=str))
            return json.dumps(mask(plain), ensure_ascii=False).encode("utf-8")

    return MaskedJSON


def _failure(message: str, hint: str | None = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"success": False, "error": message}
    if hint:
        body["hint"] = hint
    body.update(extra)
    return body


def ok(data: Any, **extra: Any) -> dict[str, Any]:
    """The guide's envelope of a success."""
    return {"success": True, "data": data, **extra}


# -- the request body's size -------------------------------------------------------


class _BodyLimit:
    """ASGI middleware: a body over ``limit`` bytes is refused with 413 before it is read."""

    def __init__(self, app: ASGIApp, limit: int, response: type[JSONResponse]) -> None:
        self.app = app
        self.limit = limit
        self.response = response

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        seen = 0
        started = False

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    raise _TooLarge
            return message

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited, tracking)
        except _TooLarge:
            if not started:
                await self._refuse(scope, receive, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = self.response(
            _failure(
                f"the request body is larger than {self.limit} bytes",
                hint="send less, or raise [api] max_body_bytes",
            ),
            status_code=413,
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass


# -- the application -------------------------------------------------------------


class _State:
    """What the endpoints share: settings, the jobs, the server's extension manager."""

    def __init__(
        self, load: Callable[[], Config], config: Config, jobs: Jobs, response: type[JSONResponse]
    ) -> None:
        self.load = load
        self.response = response
        self.settings: ApiSettings = config.api
        self.jobs = jobs
        extensions = config.extensions
        from provisioning_core.extensions import ExtensionManager

        self.manager: ExtensionManager = ExtensionManager(
            auto_load=extensions.auto_load,
            cache_dir=extensions.cache_dir,
            import_timeout=extensions.import_timeout,
            probe_memory_mb=extensions.probe_memory_mb,
        )

    def ok(
        self,
        data: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        warnings: list[str] | None = None,
    ) -> JSONResponse:
        """A success, as the guide writes it: ``{"success": true, "data": ...}``, masked.

        ``warnings`` (what the CLI prints as "warning: ...") are added when there are any.
        """
        extra = {"warnings": warnings} if warnings else {}
        return self.response(ok(data, **extra), status_code=status, headers=headers)

    @contextmanager
    def engine(self, *, check: bool = False) -> Iterator[Engine]:
        """An engine for one read (silent; closed after the answer is built)."""
        from provisioning_core.operations import Engine

        with Engine(self.load(), check=check, command="prov serve: read") as engine:
            yield engine


def create_app(load: Callable[[], Config], *, jobs: Jobs | None = None) -> FastAPI:
    """The API over the configuration ``load()`` reads (once at start, then once per job).

    ``jobs`` defaults to a :class:`Jobs` running ``[api] workers`` at once;
    the app recovers the jobs a killed server left at start-up and interrupts
    its own in-flight jobs at shutdown.
    """
    from provisioning_core.operations.jobs import Jobs

    config = load()
    settings = config.api
    jobs = jobs or Jobs(load, workers=settings.workers)
    mask = _Masker(
        [*config.secrets(), *(s for s in (settings.token, settings.read_token) if s is not None)]
    )
    response = _response_class(mask)
    state = _State(load, config, jobs, response)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        for job_id in jobs.recover():
            logger.warning("job %s was running when the server last stopped: interrupted", job_id)
        try:
            yield
        finally:
            for job_id in jobs.shutdown():
                logger.warning("job %s was interrupted by the shutdown", job_id)

    def authorize(
        request: Request,
        credentials: _Credentials,
    ) -> None:
        _authorize(settings, request.method, credentials)

    app = FastAPI(
        title="provisioning",
        version=__version__,
        description="The orchestrator API of `prov serve`: extensions, and every operation "
        "of the CLI as a job.",
        lifespan=lifespan,
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
        default_response_class=response,
        dependencies=[Depends(authorize)],
    )
    app.state.prov = state
    _handlers(app, response)
    _extension_routes(app, state)
    _job_routes(app, state)
    _read_routes(app, state)
    app.openapi = _openapi(app)  # type: ignore[method-assign]
    app.add_middleware(_BodyLimit, limit=settings.max_body_bytes, response=response)
    return app


def _authorize(
    settings: ApiSettings, method: str, credentials: HTTPAuthorizationCredentials | None
) -> None:
    write, read = settings.token, settings.read_token
    if write is None and read is None:
        return  # loopback only: prov serve refuses a wider address without a token
    if credentials is None:
        raise ApiError(
            401,
            "this server needs a bearer token",
            hint="send Authorization: Bearer <token> ([api] token or read_token)",
        )
    given = credentials.credentials.encode("utf-8")

    def same(secret: Secret | None) -> bool:
        return secret is not None and hmac.compare_digest(given, secret.reveal().encode("utf-8"))

    if same(write):
        return
    if same(read):
        if method in _READ_METHODS:
            return
        raise ApiError(
            403,
            "this token may only read",
            hint="changes need the [api] token, not the read_token",
        )
    raise ApiError(401, "the bearer token is not valid", hint="check [api] token or read_token")


def _handlers(app: FastAPI, response: type[JSONResponse]) -> None:
    @app.exception_handler(ApiError)
    async def refused(_request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None  # noqa: PLR2004
        extra = {"problems": exc.problems} if exc.problems else {}
        return response(
            _failure(exc.message, exc.hint, **extra), status_code=exc.status, headers=headers
        )

    @app.exception_handler(ProvisioningError)
    async def failed(request: Request, exc: ProvisioningError) -> JSONResponse:
        status = status_of(exc)
        hint = exc.hint
        if status >= 500:  # noqa: PLR2004
            logger.error("%s %s: %s", request.method, request.url.path, exc.message)
            if exc.detail:  # a plugin's traceback (masked): for the operator, not the client
                logger.error("the plugin's traceback:\n%s", exc.detail.rstrip())
            hint = _for_a_client(hint)
        extra = {"problems": exc.problems} if isinstance(exc, ConfigError) and exc.problems else {}
        return response(_failure(exc.message, hint, **extra), status_code=status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = [
            f"{e.get('msg', 'invalid')} @ $." + ".".join(str(p) for p in e.get("loc", ())[1:])
            for e in exc.errors()
        ]
        return response(_failure("invalid request parameters", problems=problems), status_code=400)

    @app.exception_handler(StarletteHTTPException)
    async def http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        where = f"{request.method} {request.url.path}"
        if exc.status_code == 404:  # noqa: PLR2004
            message, hint = f"no endpoint {where}", f"{API_PREFIX}/openapi.json lists them"
        elif exc.status_code == 405:  # noqa: PLR2004
            message, hint = f"{where} is not allowed", f"{API_PREFIX}/openapi.json lists methods"
        else:
            message, hint = str(exc.detail), None
        return response(_failure(message, hint), status_code=exc.status_code)

    @app.exception_handler(Exception)
    async def bug(request: Request, exc: Exception) -> JSONResponse:
        logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=exc)
        return response(
            _failure(
                f"internal error: {error_message(exc)}",
                "the server's log has the traceback; report it",
            ),
            status_code=500,
        )


def _for_a_client(hint: str | None) -> str | None:
    """The CLI's hint, its "--debug" (which means nothing over HTTP) pointing at the log."""
    if not hint:
        return hint
    return hint.replace(
        "run with --debug for the traceback and", "the server's log has the traceback;"
    ).replace("--debug shows the traceback", "the server's log has the traceback")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ApiError(400, f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ApiError(422, f"expected a JSON object @ $, got {type(data).__name__}")
    return data


def _record_problem(exc: ConfigError) -> ApiError:
    """A request body that is not its record: 422, each problem "message @ $.path"."""
    message = exc.message.split("\n", 1)[0]  # the problems follow, listed on their own
    return ApiError(422, message, hint=exc.hint, problems=exc.problems)


def _record(parse: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    """The request record parsed from ``body``; 422 naming each bad field."""
    try:
        return parse(body)
    except ConfigError as exc:
        raise _record_problem(exc) from None


def _extension_routes(app: FastAPI, state: _State) -> None:
    from provisioning_core.operations.plugins import seed_extension
    from provisioning_core.operations.requests import ExtensionRequest

    base = f"{API_PREFIX}/extensions"
    tags: list[str | Enum] = ["extensions"]

    @app.get(f"{base}/loaded", tags=tags, summary="The extensions in the server's cache")
    def loaded() -> JSONResponse:
        return state.ok([seed_extension(e) for e in state.manager.list_loaded_extensions()])

    @app.post(
        f"{base}/reload",
        tags=tags,
        summary="Re-import an extension and load it again",
        openapi_extra=_body_schema("ExtensionRequest"),
    )
    async def reload(request: Request) -> JSONResponse:
        r = _record(ExtensionRequest.parse, await _body(request))
        ext = await run_in_threadpool(state.manager.reload_extension, r.extension_type, r.name)
        return state.ok(f"Extension {ext.name} reloaded")

    @app.post(
        f"{base}/load",
        tags=tags,
        summary="Load an extension (recorded, as prov module load does)",
        openapi_extra=_body_schema("ExtensionRequest"),
    )
    async def load(request: Request) -> JSONResponse:
        from provisioning_core.operations.plugins import load_module

        r = _record(ExtensionRequest.parse, await _body(request))

        def run() -> Extension:
            load_module(r.extension_type, r.name, r.version, manager=state.manager)
            return state.manager.load_extension(r.extension_type, r.name, r.version)  # cached

        return state.ok(seed_extension(await run_in_threadpool(run)))

    _module_routes(app, state)


def _module_routes(app: FastAPI, state: _State) -> None:
    """``prov module unload`` and ``list`` over HTTP: the recorded loads."""
    from provisioning_core.operations.requests import ExtensionRequest

    base = f"{API_PREFIX}/extensions"
    tags: list[str | Enum] = ["extensions"]

    @app.post(
        f"{base}/unload",
        tags=tags,
        summary="Forget a recorded load (prov module unload)",
        openapi_extra=_body_schema("ExtensionRequest"),
    )
    async def unload(request: Request) -> JSONResponse:
        from provisioning_core.operations.plugins import unload_module

        r = _record(ExtensionRequest.parse, await _body(request))
        await run_in_threadpool(
            lambda: unload_module(r.extension_type, r.name, manager=state.manager)
        )
        return state.ok(f"Extension {r.name} unloaded")

    @app.get(f"{base}/recorded", tags=tags, summary="The recorded loads (prov module list)")
    def recorded() -> JSONResponse:
        from provisioning_core.operations.plugins import loaded_modules

        return state.ok(loaded_modules(state.manager))

    @app.get(f"{base}/discover", tags=tags, summary="Extensions installed, from metadata alone")
    def discover(
        extension_type: Annotated[str, Query(description="provider, taskserv or cluster")],
        name: Annotated[str | None, Query(description="Only this extension")] = None,
    ) -> JSONResponse:
        from provisioning_core.operations.plugins import discover_modules

        try:
            r = ExtensionRequest.parse({"extension_type": extension_type, "name": name or "-"})
        except ConfigError as exc:
            raise ApiError(400, exc.message.split("\n", 1)[0], problems=exc.problems) from None
        rows, warnings = discover_modules(state.manager.discovery, r.extension_type, name)
        return state.ok(rows[0] if name is not None else rows, warnings=warnings)

    @app.delete(f"{base}/cache", tags=tags, summary="Empty the server's extension cache")
    def clear() -> JSONResponse:
        state.manager.clear_cache()
        return state.ok("Extension cache cleared")

    @app.get(f"{base}/metrics", tags=tags, summary="Loads, cache hits and the hit ratio")
    def metrics() -> JSONResponse:
        m = state.manager.metrics
        return state.ok({**unstructure(m), "hit_ratio": m.hit_ratio})


# -- jobs ------------------------------------------------------------------------------


def _job_path(kind: JobKind) -> str:
    group, action = kind.name.split(".")
    return f"{API_PREFIX}/{group}s/{action.replace('_', '-')}"


def _preflight(state: _State, kind: JobKind, request: Any) -> None:
    """Name an extension that is not installed with 404 now, not in the job later."""
    needed = kind.needs(request)
    if needed is not None:
        state.manager.discovery.resolve(*needed)


def _job_routes(app: FastAPI, state: _State) -> None:
    for kind in JOB_KINDS.values():
        _job_route(app, state, kind)

    @app.get(f"{API_PREFIX}/operations", tags=["operations"], summary="Jobs, newest first")
    def jobs(
        limit: Annotated[int, Query(ge=1, le=1000)] = 50,
        status: Annotated[str | None, Query(pattern=_JOB_STATUSES)] = None,
    ) -> JSONResponse:
        return state.ok(state.jobs.recent(limit=limit, status=status))

    @app.get(
        f"{API_PREFIX}/operations/{{job_id}}",
        tags=["operations"],
        summary="A job: its progress and, once it ended, its report",
    )
    async def job(
        job_id: str,
        wait: Annotated[float, Query(ge=0, description=_WAIT_HELP)] = 0,
    ) -> JSONResponse:
        live = state.jobs.job(job_id)
        if live is not None and wait:
            # waits on the event loop, holding no thread: many waiting clients cost nothing
            loop, ended = asyncio.get_running_loop(), asyncio.Event()
            live.when_done(lambda: loop.call_soon_threadsafe(ended.set))
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(ended.wait(), min(wait, _LONGEST_WAIT))
        data = await run_in_threadpool(state.jobs.get, job_id)
        if data is None:
            raise ApiError(
                404, f"no job {job_id!r}", hint=f"GET {API_PREFIX}/operations lists them"
            )
        return state.ok(data)


def _job_route(app: FastAPI, state: _State, kind: JobKind) -> None:
    group = kind.name.split(".")[0]

    async def submit(
        request: Request,
        check: Annotated[bool, Query(description="Check mode: change nothing, plan")] = False,
    ) -> JSONResponse:
        record = _record(kind.prepare, await _body(request))

        def accept() -> Job:
            _preflight(state, kind, record)
            return state.jobs.submit(kind, record, check=check)

        job = await run_in_threadpool(accept)
        url = f"{API_PREFIX}/operations/{job.id}"
        data = {"id": job.id, "kind": kind.name, "check": check, "status": job.status, "url": url}
        return state.ok(data, status=202, headers={"Location": url})

    app.post(
        _job_path(kind),
        tags=[f"{group}s"],
        summary=f"Start a {kind.name} job ({kind.request.__doc__.splitlines()[0].strip()})"
        if kind.request.__doc__
        else f"Start a {kind.name} job",
        status_code=202,
        name=kind.name,
        openapi_extra=_body_schema(kind.request.__name__),
        response_model=None,
    )(submit)


# -- reads ------------------------------------------------------------------------------


def _read_routes(app: FastAPI, state: _State) -> None:
    _server_routes(app, state)
    _taskserv_routes(app, state)
    _cluster_routes(app, state)
    _history_routes(app, state)


def _server_routes(app: FastAPI, state: _State) -> None:
    servers = f"{API_PREFIX}/servers"

    @app.get(servers, tags=["servers"], summary="Servers, inventory reconciled with providers")
    def list_servers(provider: str | None = None, all: bool = False) -> JSONResponse:  # noqa: A002
        from provisioning_core.operations import servers as ops

        with state.engine() as engine:
            rows, warnings = ops.list_servers(engine, provider=provider, include_deleted=all)
        return state.ok({"servers": rows}, warnings=warnings)

    @app.get(f"{servers}/{{server}}", tags=["servers"], summary="A server as its provider sees it")
    def server_info(server: str, provider: str | None = None) -> JSONResponse:
        from provisioning_core.operations import servers as ops

        with state.engine() as engine:
            return state.ok(ops.server_info(engine, server, provider=provider))

    providers = f"{API_PREFIX}/providers"
    for catalog in ("plans", "zones", "pricing"):
        _catalog_route(app, state, catalog)

    @app.get(f"{providers}/{{name}}", tags=["providers"], summary="A provider described")
    def provider_info(name: str) -> JSONResponse:
        from provisioning_core.operations.providers import describe

        with state.engine() as engine:
            return state.ok(describe(engine, name))

    @app.get(f"{providers}/{{name}}/test", tags=["providers"], summary="Does its API answer?")
    def provider_test(name: str) -> JSONResponse:
        from provisioning_core.operations.providers import test_connection

        with state.engine() as engine:
            return state.ok(test_connection(engine, name))


def _taskserv_routes(app: FastAPI, state: _State) -> None:
    taskservs = f"{API_PREFIX}/taskservs"

    @app.get(taskservs, tags=["taskservs"], summary="What is installed where")
    def taskserv_list(server: str | None = None, refresh: bool = False) -> JSONResponse:
        from provisioning_core.operations.taskservs import installed_taskservs

        with state.engine() as engine:
            return state.ok(
                {"taskservs": installed_taskservs(engine, server=server, refresh=refresh)}
            )

    @app.get(f"{taskservs}/{{name}}/status", tags=["taskservs"], summary="State on each server")
    def taskserv_status(name: str, server: _Servers, provider: str | None = None) -> JSONResponse:
        from provisioning_core.operations.taskservs import taskserv_status as status

        with state.engine() as engine:
            return state.ok({"statuses": status(engine, name, tuple(server), provider=provider)})

    @app.get(f"{taskservs}/{{name}}/versions", tags=["taskservs"], summary="Installable versions")
    def taskserv_versions(name: str) -> JSONResponse:
        from provisioning_core.operations.taskservs import taskserv_versions as versions

        with state.engine() as engine:
            return state.ok({"versions": versions(engine, name)})

    @app.get(f"{taskservs}/{{name}}/updates", tags=["taskservs"], summary="Newer versions?")
    def taskserv_updates(name: str, server: _Servers, provider: str | None = None) -> JSONResponse:
        from provisioning_core.operations.taskservs import check_updates

        with state.engine() as engine:
            return state.ok(
                {"updates": check_updates(engine, name, tuple(server), provider=provider)}
            )


def _cluster_routes(app: FastAPI, state: _State) -> None:
    clusters = f"{API_PREFIX}/clusters"

    @app.get(clusters, tags=["clusters"], summary="The configured clusters")
    def cluster_list() -> JSONResponse:
        from provisioning_core.operations.clusters import list_clusters

        with state.engine() as engine:
            return state.ok({"clusters": list_clusters(engine)})

    @app.get(f"{clusters}/{{name}}", tags=["clusters"], summary="A cluster's status")
    def cluster_status(name: str) -> JSONResponse:
        from provisioning_core.operations.clusters import cluster_status as status

        with state.engine() as engine:
            return state.ok(status(engine, name))

    @app.get(f"{clusters}/{{name}}/components", tags=["clusters"], summary="Its components")
    def cluster_components(name: str) -> JSONResponse:
        from provisioning_core.operations.clusters import components

        with state.engine() as engine:
            return state.ok({"components": components(engine, name)})

    @app.get(
        f"{clusters}/{{name}}/components/{{component}}",
        tags=["clusters"],
        summary="One component's status",
    )
    def cluster_component(name: str, component: str) -> JSONResponse:
        from provisioning_core.operations.clusters import component_status

        with state.engine() as engine:
            return state.ok(component_status(engine, name, component))


def _history_routes(app: FastAPI, state: _State) -> None:
    history = f"{API_PREFIX}/history"

    @app.get(history, tags=["history"], summary="The audit trail, newest first")
    def audit(
        limit: Annotated[int, Query(ge=1, le=10_000)] = 20,
        status: Annotated[str | None, Query(pattern=_OPERATION_STATUSES)] = None,
        target: str | None = None,
        action: str | None = None,
        since: Annotated[str | None, Query(description="30m, 2h, 7d, 1w or a UTC date")] = None,
    ) -> JSONResponse:
        from provisioning_core.operations.history import (
            operation_row,
            parse_since,
            recent_operations,
        )

        started = None if since is None else parse_since(since, field="$.since")
        with state.engine() as engine:
            found = recent_operations(
                engine, limit=limit, status=status, target=target, action=action, since=started
            )
            return state.ok({"operations": [operation_row(op) for op in found]})

    @app.get(f"{history}/{{op_id}}", tags=["history"], summary="One operation of the trail")
    def audit_one(op_id: int) -> JSONResponse:
        from provisioning_core.operations.history import operation_row, show_operation

        with state.engine() as engine:
            try:
                found = show_operation(engine, op_id)
            except InputError as exc:
                raise ApiError(404, exc.message, hint=exc.hint) from None
            return state.ok(operation_row(found))

    @app.post(
        f"{history}/ack",
        tags=["history"],
        summary="Acknowledge interrupted operations",
        openapi_extra=_body_schema("AckRequest"),
    )
    async def ack(request: Request) -> JSONResponse:
        from provisioning_core.convert import structure
        from provisioning_core.operations.history import acknowledge
        from provisioning_core.operations.requests import AckRequest

        r = _record(lambda d: structure(d, AckRequest, what="the request"), await _body(request))

        def run() -> list[int]:
            with state.engine() as engine:
                return acknowledge(engine, r.ids, everything=r.all)

        return state.ok({"acknowledged": await run_in_threadpool(run)})


def _catalog_route(app: FastAPI, state: _State, catalog: str) -> None:
    def read(name: str) -> JSONResponse:
        from provisioning_core.operations import servers as ops

        with state.engine() as engine:
            return state.ok({catalog: getattr(ops, catalog)(engine, name)})

    app.get(
        f"{API_PREFIX}/providers/{{name}}/{catalog}",
        tags=["providers"],
        summary=f"The provider's {catalog}",
        name=f"provider.{catalog}",
    )(read)


# -- OpenAPI ------------------------------------------------------------------------------


def _body_schema(name: str) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{name}"}}},
        }
    }


def _openapi(app: FastAPI) -> Callable[[], dict[str, Any]]:
    def generate() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = document.setdefault("components", {}).setdefault("schemas", {})
            for kind in JOB_KINDS.values():
                schemas[kind.request.__name__] = json_schema(kind.request, schemas)
            from provisioning_core.operations.requests import AckRequest, ExtensionRequest

            for record in (ExtensionRequest, AckRequest):
                schemas[record.__name__] = json_schema(record, schemas)
            app.openapi_schema = document
        return app.openapi_schema

    return generate
