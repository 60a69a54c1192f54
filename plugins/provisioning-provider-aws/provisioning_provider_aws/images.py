"""Which image (AMI) an ``os`` means, and who logs in to it.

The table names each OS the way ``--os`` does and says where AWS publishes
its current image: an SSM public parameter of the OS's vendor, resolved per
region at create time, so a new release of the image is picked up without a
new release of this plugin.  ``options.images`` maps an ``os`` to an AMI id
of your own (a hardened image, or a region where the parameter is missing);
an ``os`` that is itself an AMI id (``ami-...``) is used as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from attrs import frozen
from provisioning_core import ConfigError

__all__ = ["IMAGES", "Image", "image_for"]

_AMI = re.compile(r"^ami-[0-9a-f]{8,17}$")


@frozen
class Image:
    os: str
    #: the SSM public parameter holding the image id, or None for an AMI id given
    parameter: str | None
    #: the user the image lets in with the instance's key pair
    user: str
    ami: str | None = None


_UBUNTU = "/aws/service/canonical/ubuntu/server/{release}/stable/current/amd64/hvm/{disk}/ami-id"

IMAGES: dict[str, Image] = {
    image.os: image
    for image in (
        Image("ubuntu-24.04", _UBUNTU.format(release="24.04", disk="ebs-gp3"), "ubuntu"),
        Image("ubuntu-22.04", _UBUNTU.format(release="22.04", disk="ebs-gp2"), "ubuntu"),
        Image("ubuntu-20.04", _UBUNTU.format(release="20.04", disk="ebs-gp2"), "ubuntu"),
        Image("debian-12", "/aws/service/debian/release/12/latest/amd64", "admin"),
        Image("debian-11", "/aws/service/debian/release/11/latest/amd64", "admin"),
        Image(
            "amazon-linux-2023",
            "/aws/service/ami-amazon-linux-latest/al2023-ami-kernel-default-x86_64",
            "ec2-user",
        ),
        Image(
            "amazon-linux-2",
            "/aws/service/ami-amazon-linux-latest/amzn2-ami-hvm-x86_64-gp2",
            "ec2-user",
        ),
    )
}


def image_for(os: str, own: Mapping[str, object], default_user: str | None) -> Image:
    """The image of ``os``: ``options.images``, an AMI id, or the table above.

    Raises :class:`ConfigError` (exit 2, naming ``--os``) for an OS it does not know.
    """
    mapped = own.get(os)
    known = IMAGES.get(os)
    if isinstance(mapped, str) and mapped:
        return Image(os, None, default_user or (known.user if known else "ec2-user"), mapped)
    if _AMI.match(os):
        return Image(os, None, default_user or "ec2-user", os)
    if known is None:
        allowed = ", ".join(sorted(IMAGES))
        raise ConfigError(
            f"the aws provider has no image for {os!r}",
            problems=[f"unknown os {os!r}; allowed: {allowed}, or an AMI id (ami-...) @ --os"],
            hint='set providers.aws.options.images = { NAME = "ami-..." } for an image of your own',
        )
    return Image(known.os, known.parameter, default_user or known.user)
