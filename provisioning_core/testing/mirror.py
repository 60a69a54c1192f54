"""A local stand-in for GitHub releases, for plugin authors' tests.

:class:`ArtifactMirror` is a threaded HTTP server on 127.0.0.1 that answers
the two things a taskserv reads from GitHub: the releases API
(``GET /repos/{owner}/{repo}/releases`` and ``.../releases/latest``) and the
release assets themselves at the path github.com uses
(``/{owner}/{repo}/releases/download/{tag}/{asset}``).  A taskserv whose API
and download bases are settings is pointed at it by swapping the host only.

Failures are scripted with :meth:`ArtifactMirror.fail_next` (429, 5xx, 404),
and :attr:`ArtifactMirror.requests` records every path served, so a test can
assert what was fetched (or that nothing was).
"""

from __future__ import annotations

import gzip
import hashlib
import http.server
import io
import itertools
import json
import tarfile
import threading
from collections.abc import Mapping
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

import attrs

__all__ = ["ArtifactMirror", "MirrorRelease", "sha256sums", "tarball"]

_DEFAULT_PER_PAGE = 30
_MAX_PER_PAGE = 100
# successive releases added without a date are a second apart, newest last
_EPOCH = datetime(2024, 1, 1, tzinfo=timezone.utc)


@attrs.frozen
class MirrorRelease:
    """One release the mirror serves."""

    repository: str
    tag: str
    assets: Mapping[str, bytes]
    prerelease: bool
    published_at: datetime
    seq: int


@attrs.frozen
class _Failure:
    prefix: str
    status: int
    headers: Mapping[str, str]
    remaining: int


class ArtifactMirror:
    """GitHub releases and their assets, served on 127.0.0.1 (an ephemeral port).

    Use it as a context manager (or call :meth:`start` and :meth:`close`)::

        with ArtifactMirror() as mirror:
            mirror.add_release("containerd/containerd", "v1.7.13", {"a.tar.gz": data})
            settings = {"api_url": mirror.api_url, "download_url": mirror.download_url}

    With ``token`` set, the API answers 401 unless the request carries
    ``Authorization: Bearer <token>`` (or GitHub's ``token <token>``); asset
    downloads stay public, as they are for public repositories on github.com.
    """

    def __init__(self, *, token: str | None = None) -> None:
        self._token = token
        self._lock = threading.Lock()
        self._releases: list[MirrorRelease] = []
        self._failures: list[_Failure] = []
        self._seq = itertools.count()
        self._server: http.server.ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        #: every request path served (query string left out), in order
        self.requests: list[str] = []

    # --- life -------------------------------------------------------------

    def start(self) -> ArtifactMirror:
        """Start serving; idempotent."""
        if self._server is None:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
            server.daemon_threads = True
            self._server = server
            # a short poll keeps close() quick: shutdown waits for one poll
            self._thread = threading.Thread(
                target=server.serve_forever, args=(0.05,), name="artifact-mirror", daemon=True
            )
            self._thread.start()
        return self

    def close(self) -> None:
        """Stop serving and free the port; idempotent."""
        server, self._server = self._server, None
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def __enter__(self) -> ArtifactMirror:  # noqa: PYI034 - Self needs 3.11
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.close()

    # --- addresses --------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``, the mirror's root."""
        if self._server is None:
            raise RuntimeError("the ArtifactMirror is not started: use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def api_url(self) -> str:
        """Where the releases API is: the stand-in for https://api.github.com."""
        return self.url

    @property
    def download_url(self) -> str:
        """Where the assets are: the stand-in for https://github.com."""
        return self.url

    def asset_url(self, repository: str, tag: str, asset: str) -> str:
        """The download URL the mirror advertises for ``asset`` of ``repository`` at ``tag``."""
        return f"{self.download_url}/{repository}/releases/download/{quote(tag)}/{quote(asset)}"

    # --- content ----------------------------------------------------------

    def add_release(
        self,
        repository: str,
        tag: str,
        assets: Mapping[str, bytes],
        *,
        prerelease: bool = False,
        published_at: datetime | None = None,
    ) -> MirrorRelease:
        """Serve a release ``tag`` of ``repository`` ("owner/name") with ``assets``.

        Releases are listed newest first by ``published_at``; without one, a
        release counts as newer than every release added before it.  Adding a
        tag again replaces it.
        """
        if repository.count("/") != 1:
            raise ValueError(f"repository must be 'owner/name', not {repository!r}")
        with self._lock:
            seq = next(self._seq)
            when = published_at or _EPOCH + timedelta(seconds=seq)
            release = MirrorRelease(repository, tag, dict(assets), prerelease, when, seq)
            self._releases = [
                r for r in self._releases if (r.repository, r.tag) != (repository, tag)
            ]
            self._releases.append(release)
        return release

    def remove_release(self, repository: str, tag: str) -> None:
        """Stop serving release ``tag`` of ``repository``."""
        with self._lock:
            self._releases = [
                r for r in self._releases if (r.repository, r.tag) != (repository, tag)
            ]

    def fail_next(
        self,
        path_prefix: str,
        status: int,
        headers: Mapping[str, str] | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` requests whose path starts with ``path_prefix``
        with ``status`` (and ``headers``, e.g. ``{"Retry-After": "0"}``) instead."""
        with self._lock:
            self._failures.append(_Failure(path_prefix, status, dict(headers or {}), times))

    # --- what the handler asks --------------------------------------------

    def _take_failure(self, path: str) -> _Failure | None:
        with self._lock:
            for i, failure in enumerate(self._failures):
                if path.startswith(failure.prefix):
                    left = failure.remaining - 1
                    if left:
                        self._failures[i] = attrs.evolve(failure, remaining=left)
                    else:
                        del self._failures[i]
                    return failure
        return None

    def _listed(self, repository: str) -> list[MirrorRelease]:
        with self._lock:
            mine = [r for r in self._releases if r.repository == repository]
        return sorted(mine, key=lambda r: (r.published_at, r.seq), reverse=True)

    def _asset(self, repository: str, tag: str, name: str) -> bytes | None:
        with self._lock:
            for r in self._releases:
                if (r.repository, r.tag) == (repository, tag):
                    return r.assets.get(name)
        return None

    def _authorized(self, header: str | None) -> bool:
        if self._token is None:
            return True
        return header in {f"Bearer {self._token}", f"token {self._token}"}

    def _release_json(self, release: MirrorRelease) -> dict[str, Any]:
        return {
            "tag_name": release.tag,
            "name": release.tag,
            "published_at": release.published_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "prerelease": release.prerelease,
            "draft": False,
            "assets": [
                {
                    "name": name,
                    "size": len(data),
                    "content_type": "application/octet-stream",
                    "browser_download_url": self.asset_url(release.repository, release.tag, name),
                }
                for name, data in release.assets.items()
            ],
        }


class _Handler(http.server.BaseHTTPRequestHandler):
    mirror: ArtifactMirror
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        pass  # tests read mirror.requests; stderr noise helps no one

    def do_HEAD(self) -> None:
        self._serve(body=False)

    def do_GET(self) -> None:
        self._serve(body=True)

    def _serve(self, *, body: bool) -> None:
        split = urlsplit(self.path)
        path = unquote(split.path)
        self.mirror.requests.append(path)
        failure = self.mirror._take_failure(path)
        if failure is not None:
            message = {"message": f"scripted failure {failure.status}"}
            self._json(failure.status, message, headers=failure.headers, body=body)
            return
        parts = path.strip("/").split("/")
        if parts[0] == "repos":
            if not self.mirror._authorized(self.headers.get("Authorization")):
                self._json(401, {"message": "Bad credentials"}, body=body)
                return
            self._api(parts[1:], parse_qs(split.query), body=body)
            return
        # /{owner}/{repo}/releases/download/{tag}/{asset}
        if len(parts) == 6 and parts[2:4] == ["releases", "download"]:  # noqa: PLR2004
            data = self.mirror._asset(f"{parts[0]}/{parts[1]}", parts[4], parts[5])
            if data is not None:
                self._send(200, data, "application/octet-stream", body=body)
                return
        self._json(404, {"message": "Not Found"}, body=body)

    def _api(self, parts: list[str], query: dict[str, list[str]], *, body: bool) -> None:
        if len(parts) < 3 or parts[2] != "releases":  # noqa: PLR2004
            self._json(404, {"message": "Not Found"}, body=body)
            return
        releases = self.mirror._listed(f"{parts[0]}/{parts[1]}")
        if parts[3:] == ["latest"]:
            stable = [r for r in releases if not r.prerelease]
            if not stable:
                self._json(404, {"message": "Not Found"}, body=body)
            else:
                self._json(200, self.mirror._release_json(stable[0]), body=body)
            return
        if parts[3:]:
            self._json(404, {"message": "Not Found"}, body=body)
            return
        try:
            per_page = min(_MAX_PER_PAGE, int(query.get("per_page", [_DEFAULT_PER_PAGE])[0]))
            page = int(query.get("page", ["1"])[0])
        except ValueError:
            self._json(422, {"message": "per_page and page must be integers"}, body=body)
            return
        per_page, page = max(1, per_page), max(1, page)
        chunk = releases[(page - 1) * per_page : page * per_page]
        last = max(1, -(-len(releases) // per_page))
        headers = {}
        if last > 1:
            headers["Link"] = self._link(
                f"/repos/{parts[0]}/{parts[1]}/releases", page, last, per_page
            )
        self._json(200, [self.mirror._release_json(r) for r in chunk], headers=headers, body=body)

    def _link(self, path: str, page: int, last: int, per_page: int) -> str:
        def ref(n: int, rel: str) -> str:
            return f'<{self.mirror.api_url}{path}?per_page={per_page}&page={n}>; rel="{rel}"'

        links = []
        if page < last:
            links += [ref(page + 1, "next"), ref(last, "last")]
        if page > 1:
            links += [ref(1, "first"), ref(page - 1, "prev")]
        return ", ".join(links)

    def _json(
        self,
        status: int,
        payload: object,
        *,
        headers: Mapping[str, str] | None = None,
        body: bool,
    ) -> None:
        data = json.dumps(payload).encode()
        self._send(status, data, "application/json", headers=headers, body=body)

    def _send(
        self,
        status: int,
        data: bytes,
        content_type: str,
        *,
        headers: Mapping[str, str] | None = None,
        body: bool,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if body:
            self.wfile.write(data)


def _handler_for(mirror: ArtifactMirror) -> type[_Handler]:
    return type("MirrorHandler", (_Handler,), {"mirror": mirror})


def tarball(
    files: Mapping[str, bytes | str],
    *,
    modes: Mapping[str, int] | None = None,
) -> bytes:
    """A .tar.gz, built in memory, holding ``files`` (archive path -> content).

    A file's mode is ``modes[path]`` when given, else 0o755 for content that
    starts with ``#!`` (a script) and 0o644 for anything else.  Timestamps are
    fixed, so the same files always give the same bytes (and sha256).
    """
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for path, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            member = tarfile.TarInfo(path)
            member.size = len(data)
            member.mtime = int(_EPOCH.timestamp())
            default = 0o755 if data.startswith(b"#!") else 0o644
            member.mode = (modes or {}).get(path, default)
            archive.addfile(member, io.BytesIO(data))
    return gzip.compress(raw.getvalue(), mtime=0)


def sha256sums(files: Mapping[str, bytes]) -> bytes:
    """``sha256sum``'s output for ``files`` (name -> content): a checksum asset."""
    lines = (f"{hashlib.sha256(data).hexdigest()}  {name}\n" for name, data in files.items())
    return "".join(lines).encode()
