"""github_versions against a local server speaking GitHub's releases API."""

from __future__ import annotations

import json
import re
from datetime import datetime, timezone

import pytest

from provisioning_core.errors import ProvisioningError, TransientError
from provisioning_core.models import TaskservVersion
from provisioning_core.runtime import github_versions
from provisioning_core.secret import Secret

PATH = "/repos/containerd/containerd/releases?per_page=100"


def release(tag: str, published: str, *, prerelease: bool = False, draft: bool = False) -> dict:
    return {
        "tag_name": tag,
        "name": tag,
        "draft": draft,
        "prerelease": prerelease,
        "published_at": published,
        "html_url": f"https://github.com/containerd/containerd/releases/tag/{tag}",
        "assets": [],
    }


RELEASES = [
    release("v1.6.30", "2024-03-05T10:00:00Z"),  # a patch of an older line, published last
    release("v2.0.0-rc.1", "2024-03-04T10:00:00Z", prerelease=True),
    release("v1.7.13", "2024-02-01T10:00:00Z"),
    release("v1.7.14", "2024-03-01T10:00:00Z", draft=True),
    release("v1.7.12", "2024-01-01T10:00:00Z"),
]


def test_versions_newest_first_without_drafts_or_prereleases(http_server):
    http_server.serve(PATH, json.dumps(RELEASES).encode())
    versions = github_versions("containerd/containerd", base_url=http_server.url)
    assert [v.version for v in versions] == ["1.7.13", "1.7.12", "1.6.30"]
    assert versions[0] == TaskservVersion(
        version="1.7.13",
        url="https://github.com/containerd/containerd/releases/tag/v1.7.13",
        released_at=datetime(2024, 2, 1, 10, tzinfo=timezone.utc),
        prerelease=False,
    )
    path, headers = http_server.requests[0]
    assert path == PATH
    assert headers["Accept"] == "application/vnd.github+json"
    assert "Authorization" not in headers


def test_prereleases_when_asked(http_server):
    http_server.serve(PATH, json.dumps(RELEASES).encode())
    versions = github_versions(
        "containerd/containerd", base_url=http_server.url, include_prereleases=True
    )
    assert [(v.version, v.prerelease) for v in versions] == [
        ("2.0.0-rc.1", True),
        ("1.7.13", False),
        ("1.7.12", False),
        ("1.6.30", False),
    ]


def test_token_is_sent_and_never_shown(http_server):
    http_server.serve(PATH, b"[]", status=401)
    with pytest.raises(ProvisioningError) as info:
        github_versions(
            "containerd/containerd", base_url=http_server.url, token=Secret("ghp_secret")
        )
    assert http_server.requests[0][1]["Authorization"] == "Bearer ghp_secret"
    assert "ghp_secret" not in str(info.value)
    assert "ghp_secret" not in repr(info.value.__dict__)


def test_429_with_retry_after_is_transient(http_server):
    http_server.serve(PATH, b'{"message": "slow down"}', status=429, **{"Retry-After": "7"})
    with pytest.raises(TransientError) as info:
        github_versions("containerd/containerd", base_url=http_server.url)
    error = info.value
    assert (error.status, error.retry_after) == (429, 7.0)
    assert str(error.message) == (
        "GitHub releases of containerd/containerd: HTTP 429 Too Many Requests from "
        f"{http_server.url}{PATH}; it asked to retry after 7 s"
    )


def test_5xx_is_transient(http_server):
    http_server.serve(PATH, b"", status=502)
    with pytest.raises(TransientError) as info:
        github_versions("containerd/containerd", base_url=http_server.url)
    assert (info.value.status, info.value.retry_after) == (502, None)


def test_rate_limit_403_is_transient(http_server):
    http_server.serve(
        PATH, b"{}", status=403, **{"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1"}
    )
    with pytest.raises(TransientError) as info:
        github_versions("containerd/containerd", base_url=http_server.url)
    assert (info.value.status, info.value.retry_after) == (403, 0.0)


def test_404_is_a_provisioning_error_naming_the_url(http_server):
    with pytest.raises(ProvisioningError) as info:
        github_versions("nobody/nothing", base_url=http_server.url)
    assert not isinstance(info.value, TransientError)
    url = f"{http_server.url}/repos/nobody/nothing/releases?per_page=100"
    assert str(info.value) == (
        f"GitHub releases of nobody/nothing: HTTP 404 Not Found from {url}\n"
        "  hint: check the URL; a private resource needs a token with access to it"
    )


def test_not_a_release_list(http_server):
    http_server.serve(PATH, b'{"message": "hello"}')
    with pytest.raises(
        ProvisioningError, match="answered with something that is not a list of releases"
    ):
        github_versions("containerd/containerd", base_url=http_server.url)


def test_unreachable_and_bad_names():
    with pytest.raises(
        ProvisioningError, match=re.escape("cannot reach http://127.0.0.1:9/repos/a/b/releases")
    ):
        github_versions("a/b", base_url="http://127.0.0.1:9")
    with pytest.raises(ProvisioningError, match="'containerd' is not a GitHub repository name"):
        github_versions("containerd")
