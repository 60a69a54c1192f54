"""Which versions a taskserv can install: the releases of its GitHub repository."""

from __future__ import annotations

import json
from datetime import datetime

from provisioning_core._version import __version__
from provisioning_core.errors import ProvisioningError
from provisioning_core.models import TaskservVersion
from provisioning_core.secret import Secret

__all__ = ["github_versions"]


def github_versions(
    repository: str,
    *,
    base_url: str = "https://api.github.com",
    token: Secret | str | None = None,
    timeout: float = 30.0,
    include_prereleases: bool = False,
) -> list[TaskservVersion]:
    """The releases of ``repository`` ("owner/name"), newest version first.

    Reads the newest 100 releases (one request); drafts are skipped, and so
    are prereleases unless asked for.  A leading "v" is dropped from tags
    ("v1.7.13" -> "1.7.13").  HTTP 429, 5xx and GitHub's rate-limit 403 raise
    :class:`TransientError` (with ``retry_after``); other failures a
    :class:`ProvisioningError` naming the URL.  The token is sent, never shown.
    """
    from provisioning_core.runtime import _http

    if repository.count("/") != 1 or not all(repository.split("/")):
        raise ProvisioningError(
            f"{repository!r} is not a GitHub repository name",
            hint="write it as owner/name, e.g. containerd/containerd",
        )
    url = f"{base_url.rstrip('/')}/repos/{repository}/releases?per_page=100"
    headers = {
        "Accept": "application/vnd.github+json",
        "X-GitHub-Api-Version": "2022-11-28",
        "User-Agent": f"provisioning/{__version__}",
    }
    if token:
        secret = token if isinstance(token, Secret) else Secret(token)
        headers["Authorization"] = f"Bearer {secret.reveal()}"
    what = f"GitHub releases of {repository}"
    body = _http.get(url, timeout=timeout, what=what, headers=headers).body
    try:
        releases = json.loads(body)
        versions = [_version(r) for r in releases if not r.get("draft")]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise ProvisioningError(
            f"{what}: {url} answered with something that is not a list of releases ({exc})",
            hint="check base_url: it must be a GitHub API root such as https://api.github.com",
        ) from None
    if not include_prereleases:
        versions = [v for v in versions if not v.prerelease]
    return _newest_first(versions)


def _version(release: dict[str, object]) -> TaskservVersion:
    tag = str(release["tag_name"])
    version = tag[1:] if tag[:1] in {"v", "V"} and tag[1:2].isdigit() else tag
    published = release.get("published_at") or release.get("created_at")
    released_at = (
        datetime.fromisoformat(published.replace("Z", "+00:00"))
        if isinstance(published, str)
        else None
    )
    url = release.get("html_url")
    return TaskservVersion(
        version=version,
        url=url if isinstance(url, str) else None,
        released_at=released_at,
        prerelease=bool(release.get("prerelease")),
    )


def _newest_first(versions: list[TaskservVersion]) -> list[TaskservVersion]:
    """Highest version first; tags that are not versions after them, newest release first."""
    from packaging.version import InvalidVersion, Version

    by_date = sorted(
        versions, key=lambda v: v.released_at.timestamp() if v.released_at else 0.0, reverse=True
    )
    parsed: list[tuple[Version, TaskservVersion]] = []
    others: list[TaskservVersion] = []
    for v in by_date:
        try:
            parsed.append((Version(v.version), v))
        except InvalidVersion:
            others.append(v)
    parsed.sort(key=lambda pair: pair[0], reverse=True)  # stable: equal versions stay by date
    return [v for _, v in parsed] + others
