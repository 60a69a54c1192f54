"""On-demand Linux prices from the AWS Price List API, cached on disk.

``get_products`` of the ``AmazonEC2`` service is slow and large (megabytes
per region), so the prices of a region are kept in
``$PROV_HOME/aws/prices-<region>.json`` for ``options.pricing_ttl`` seconds
(default a day).  A cache that cannot be read is fetched again; one that
cannot be written is only logged.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any

from provisioning_core import Price, prov_home

from provisioning_provider_aws.client import PRICING_REGION, Aws, log

__all__ = ["DEFAULT_TTL", "prices"]

DEFAULT_TTL = 86400.0
_FILTERS = {
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
    "licenseModel": "No License required",
}


def prices(aws: Aws, region: str, ttl: float) -> list[Price]:
    """The on-demand hourly USD price of each instance type in ``region``."""
    path = prov_home() / "aws" / f"prices-{region}.json"
    cached = _read(path, ttl)
    if cached is None:
        cached = _fetch(aws, region)
        _write(path, cached)
    return [Price(plan=plan, zone=region, hourly=hourly, currency="USD") for plan, hourly in cached]


def _fetch(aws: Aws, region: str) -> list[tuple[str, float]]:
    filters = [{"Type": "TERM_MATCH", "Field": k, "Value": v} for k, v in _FILTERS.items()]
    filters.append({"Type": "TERM_MATCH", "Field": "regionCode", "Value": region})
    pages = aws.pages(
        "pricing", "get_products", region=PRICING_REGION, ServiceCode="AmazonEC2", Filters=filters
    )
    found: dict[str, float] = {}
    for page in pages:
        for text in page.get("PriceList", []):
            parsed = _product_price(text)
            if parsed is not None:
                found[parsed[0]] = parsed[1]
    log.info("aws: %d on-demand prices for %s from the Price List API", len(found), region)
    return sorted(found.items())


def _product_price(text: str | dict[str, Any]) -> tuple[str, float] | None:
    """(instance type, hourly USD) of one PriceList entry (a JSON document), or None."""
    try:
        product = json.loads(text) if isinstance(text, str) else text
        instance_type = product["product"]["attributes"]["instanceType"]
        for term in product["terms"]["OnDemand"].values():
            for dimension in term["priceDimensions"].values():
                if dimension.get("unit") in ("Hrs", "Hours"):
                    return str(instance_type), float(dimension["pricePerUnit"]["USD"])
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        log.debug("aws: a price list entry without an hourly USD price skipped: %s", exc)
    return None


def _read(path: Path, ttl: float) -> list[tuple[str, float]] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if time.time() - float(data["fetched_at"]) > ttl:
            return None
        return [(str(plan), float(hourly)) for plan, hourly in data["prices"]]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        log.warning("aws: the price cache %s is unreadable (%s); fetching again", path, exc)
        return None


def _write(path: Path, found: list[tuple[str, float]]) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump({"fetched_at": time.time(), "prices": found}, f)
        os.replace(tmp, path)  # noqa: PTH105 - a str path from mkstemp
    except OSError as exc:
        log.warning("aws: cannot keep the prices in %s: %s", path, exc)
