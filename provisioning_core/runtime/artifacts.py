"""Release artifacts: which file to download for a version, and its sha256.

Every taskserv installed from a GitHub release tarball needs the same two
answers before its :class:`~provisioning_core.runtime.steps.Download` step:
the asset's URL and the digest to verify it against.  The digest comes from
the release's own checksum asset when it publishes one, else from a digest
the operator pinned in the settings; with neither, nothing is installed.
"""

from __future__ import annotations

import re
import shlex
import urllib.error
import urllib.request
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import quote

import attrs

from provisioning_core.errors import (
    ConfigError,
    ProvisioningError,
    TransientError,
    transient_from,
)
from provisioning_core.secret import Secret

if TYPE_CHECKING:
    from provisioning_core.runtime.host import Host
    from provisioning_core.runtime.steps import Command, Step

__all__ = [
    "ReleaseAsset",
    "latest_version",
    "link_binaries",
    "parse_checksums",
    "release_asset",
    "unlink_binaries",
    "unpack_steps",
]

_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# "<hex>  name" (sha256sum), "<hex> *name" (binary mode), "SHA256 (name) = <hex>" (BSD)
_GNU_LINE = re.compile(r"^(?P<digest>[0-9a-fA-F]{64})\s+\*?(?P<name>\S.*?)\s*$")
_BSD_LINE = re.compile(r"^SHA256 \((?P<name>.+)\) = (?P<digest>[0-9a-fA-F]{64})\s*$")
_NOT_FOUND = 404
_MAX_CHECKSUMS_BYTES = 1 << 20  # a checksum asset is a few lines; refuse anything huge
# what may follow a quoted directory unquoted, so the shell expands it as a glob
_GLOB = re.compile(r"^[A-Za-z0-9._*?/-]+$")


@attrs.frozen
class ReleaseAsset:
    """One release asset, resolved: where to download it and what it must hash to.

    ``verified_by`` says where ``sha256`` came from (the checksum asset's URL,
    or the setting that pinned it), for messages.
    """

    repository: str
    version: str
    tag: str
    name: str
    url: str
    sha256: str
    verified_by: str


def parse_checksums(text: str, name: str) -> str | None:
    """The sha256 of ``name`` in a checksum file, lower case; None if not listed.

    Understands ``sha256sum`` output (text or ``*binary`` mode), BSD
    ``SHA256 (name) = digest`` lines, and a file holding a single bare digest
    (what some projects publish as ``<asset>.sha256``).
    """
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in lines:
        match = _GNU_LINE.match(line) or _BSD_LINE.match(line)
        if match and match["name"].rsplit("/", 1)[-1] == name:
            return match["digest"].lower()
    if len(lines) == 1 and _SHA256.match(lines[0].lower()):
        return lines[0].lower()
    return None


def latest_version(
    repository: str,
    *,
    api_url: str = "https://api.github.com",
    token: Secret | str | None = None,
    include_prereleases: bool = False,
    timeout: float = 30.0,
) -> str:
    """The newest version ``repository`` has released (stable ones unless asked)."""
    from provisioning_core.runtime.releases import github_versions

    versions = github_versions(
        repository,
        base_url=api_url,
        token=token,
        timeout=timeout,
        include_prereleases=include_prereleases,
    )
    for candidate in versions:
        if include_prereleases or not candidate.prerelease:
            return candidate.version
    raise ProvisioningError(
        f"{repository} has no {'' if include_prereleases else 'stable '}release at {api_url}",
        hint="check the repository and the api_url setting, or give a version explicitly",
    )


def release_asset(
    repository: str,
    version: str,
    asset: str,
    *,
    checksums: str | None = None,
    sha256: str | Mapping[str, str] | None = None,
    download_url: str = "https://github.com",
    tag: str | None = None,
    pin_setting: str = "sha256",
    timeout: float = 30.0,
) -> ReleaseAsset:
    """Resolve ``asset`` of release ``version`` of ``repository`` to a URL and digest.

    ``tag`` defaults to ``v{version}``; assets live at
    ``{download_url}/{repository}/releases/download/{tag}/{name}``, the shape
    github.com uses.  ``sha256`` is a digest the operator pinned (a string, or a
    mapping of version to digest); it wins over ``checksums``, the name of the
    release's checksum asset, which is fetched and searched for ``asset``.  With
    neither, a :class:`ProvisioningError` refuses and says how to pin a digest
    (``pin_setting`` names the setting in that hint).  HTTP 429 and 5xx raise
    :class:`~provisioning_core.errors.TransientError`.
    """
    tag = tag or f"v{version}"
    base = f"{download_url.rstrip('/')}/{repository}/releases/download/{quote(tag)}"
    url = f"{base}/{quote(asset)}"

    def resolved(digest: str, verified_by: str) -> ReleaseAsset:
        return ReleaseAsset(repository, version, tag, asset, url, digest, verified_by)

    pinned = _pinned(sha256, version, pin_setting)
    if pinned is not None:
        return resolved(pinned, pin_setting)
    if not checksums:
        raise ProvisioningError(
            f"release {tag} of {repository} publishes no checksum for {asset}; "
            "refusing to install a download that cannot be verified",
            hint=f"check the file's sha256 yourself (it is at {url}) and pin it: "
            f'set {pin_setting} = "<sha256>" (or a table of version = "<sha256>")',
        )
    checksums_url = f"{base}/{quote(checksums)}"
    pin = f'pin the digest: set {pin_setting} = "<sha256>" (or a table of version = "<sha256>")'
    text = _fetch_text(checksums_url, timeout=timeout, what=f"checksum asset of {tag}")
    if text is None:
        raise ProvisioningError(
            f"release {tag} of {repository} has no checksum asset {checksums} "
            f"(HTTP 404 from {checksums_url}); refusing to install a download that cannot "
            "be verified",
            hint=f"check that version {version} exists; if its release publishes no "
            f"checksums, check the sha256 of {url} yourself and {pin}",
        )
    digest = parse_checksums(text, asset)
    if digest is None:
        raise ProvisioningError(
            f"{checksums_url} lists no sha256 for {asset}",
            hint=f"check that release {tag} of {repository} has an asset for this "
            f"architecture, or {pin}",
        )
    return resolved(digest, checksums_url)


def _pinned(sha256: str | Mapping[str, str] | None, version: str, setting: str) -> str | None:
    if sha256 is None or sha256 == "":
        return None
    if isinstance(sha256, Mapping):
        value = sha256.get(version) or sha256.get(f"v{version}")
        if value is None:
            return None
        where = f"{setting}.{version}"
    else:
        value, where = sha256, setting
    if not isinstance(value, str) or not _SHA256.match(value.strip().lower()):
        raise ConfigError(
            "a pinned sha256 is not a digest",
            problems=[f"expected 64 hexadecimal characters, got {value!r} @ {where}"],
            hint="copy the digest from the project's release page or `sha256sum FILE`",
        )
    return value.strip().lower()


def _fetch_text(url: str, *, timeout: float, what: str) -> str | None:
    """The text at ``url``; None when it does not exist (404)."""
    request = urllib.request.Request(url, headers={"User-Agent": "provisioning"})  # noqa: S310 - the URL is the operator's setting
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            data: bytes = response.read(_MAX_CHECKSUMS_BYTES + 1)
    except urllib.error.HTTPError as exc:
        with exc:
            transient = transient_from(exc)
            if transient is not None:
                raise TransientError(
                    f"could not fetch the {what}: HTTP {exc.code} from {url}",
                    retry_after=transient.retry_after,
                    status=transient.status,
                    hint="the server is busy or rate-limiting; try again later",
                ) from None
            if exc.code == _NOT_FOUND:
                return None
            raise ProvisioningError(
                f"could not fetch the {what}: HTTP {exc.code} from {url}",
                hint="check that the version exists and the download_url setting",
            ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ProvisioningError(
            f"could not fetch the {what} from {url}: {reason}",
            hint="check the network and the download_url setting",
        ) from None
    if len(data) > _MAX_CHECKSUMS_BYTES:
        raise ProvisioningError(
            f"the {what} at {url} is larger than {_MAX_CHECKSUMS_BYTES} bytes",
            hint="point the taskserv's checksums setting at the release's checksum file",
        )
    return data.decode("utf-8", errors="replace")


def unpack_steps(
    host: Host,
    asset: ReleaseAsset,
    dest: str,
    *,
    bin_dir: str | None = None,
    binaries: str = "bin/*",
) -> list[Step]:
    """The steps that put ``asset`` on ``host``, unpacked into ``dest`` (a logical path).

    The archive is downloaded (verified against ``asset.sha256``) into
    ``dest`` and kept there, so installing again downloads nothing; then it
    is extracted into ``dest``, and with ``bin_dir`` the files matching the
    glob ``binaries`` (relative to ``dest``) are linked into it.  Give each
    version its own ``dest`` (``/opt/containerd/1.7.13``): switching
    versions is then a matter of links and units, and the old one can be
    removed whole.
    """
    from provisioning_core.runtime.steps import Directory, Download, Extract

    archive = f"{dest.rstrip('/')}/{asset.name}"
    steps: list[Step] = [
        Directory(dest),
        Download(asset.url, archive, sha256=asset.sha256),
        Extract(archive, dest),
    ]
    if bin_dir is not None:
        steps.append(link_binaries(host, dest, bin_dir, binaries))
    return steps


def link_binaries(host: Host, source: str, bin_dir: str, binaries: str = "bin/*") -> Command:
    """A step linking each file matching ``source``/``binaries`` into ``bin_dir``.

    Done unless every such file is already linked; in check mode, before
    ``source`` exists, it reports that it would link.
    """
    from provisioning_core.runtime.steps import Command

    if not _GLOB.match(binaries) or ".." in binaries.split("/"):
        raise ConfigError(
            "invalid binaries pattern",
            problems=[f"expected a relative glob of letters, digits and ._*?/- @ {binaries!r}"],
        )
    src, bins = shlex.quote(host.path(source)), shlex.quote(host.path(bin_dir))
    files = f"{src}/{binaries}"
    link = f'{bins}/"${{f##*/}}"'
    return Command(
        f'mkdir -p {bins} && for f in {files}; do [ -f "$f" ] || continue; ln -sfn "$f" {link}; '
        "done",
        unless=f'[ -d {src} ] && for f in {files}; do [ -f "$f" ] || continue; '
        f'[ "$(readlink {link})" = "$f" ] || exit 1; done',
        description=f"link {source}/{binaries} into {bin_dir}",
    )


def unlink_binaries(host: Host, source: str, bin_dir: str) -> Command:
    """A step removing the links in ``bin_dir`` that point into ``source``.

    Other files in ``bin_dir`` (another tool's, or a binary put there by
    hand) are left alone.
    """
    from provisioning_core.runtime.steps import Command

    src, bins = shlex.quote(host.path(source.rstrip("/"))), shlex.quote(host.path(bin_dir))
    each = f'for l in {bins}/*; do [ -L "$l" ] || continue; case "$(readlink "$l")" in {src}/*)'
    return Command(
        f'{each} rm -f "$l";; esac; done',
        unless=f"! ( {each} exit 0;; esac; done; exit 1 )",
        description=f"remove the links in {bin_dir} to {source}",
    )
