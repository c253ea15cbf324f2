"""The GPU price catalog: ``prices.yaml`` (bundled) or a replacement of the same shape.

Every price is one GPU-hour of one GPU type from one provider, bought one way (on demand,
committed, spot), with the source it was read from and the date. :func:`load_catalog`
validates a file once into frozen dataclasses and reports every problem at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any, Literal

import yaml

from perfops.errors import ConfigError, Problem
from perfops.finops._money import decimal_of

__all__ = [
    "PURCHASES",
    "CatalogPrice",
    "Discount",
    "Overhead",
    "PriceCatalog",
    "Purchase",
    "gpu_key",
    "load_catalog",
]

Purchase = Literal["on_demand", "committed", "spot"]
PURCHASES: tuple[Purchase, ...] = ("on_demand", "committed", "spot")
_BUNDLED = "prices.yaml"


@dataclass(frozen=True, slots=True)
class CatalogPrice:
    """One catalog price: one GPU-hour of ``gpu`` from ``provider``, bought as ``purchase``."""

    gpu: str
    provider: str
    instance: str | None
    region: str | None
    purchase: Purchase
    hourly: Decimal
    host: Literal["included", "excluded"]
    source: str
    date: str


@dataclass(frozen=True, slots=True)
class Discount:
    """A provider's discount off on demand for a purchase option, e.g. GCP committed use."""

    provider: str
    purchase: Purchase
    off: Decimal
    source: str
    date: str


@dataclass(frozen=True, slots=True)
class Overhead:
    """A host cost per GPU-hour, added to bare-GPU prices: ``hourly`` per unit x ``per_gpu``."""

    name: str
    unit: str
    hourly: Decimal
    per_gpu: Decimal
    source: str

    @property
    def per_gpu_hour(self) -> Decimal:
        return self.hourly * self.per_gpu


@dataclass(frozen=True, slots=True)
class PriceCatalog:
    """A validated price catalog."""

    version: str
    currency: str
    hours_per_month: Decimal
    default_provider: str
    aliases: Mapping[str, str]
    """normalised spelling -> canonical GPU type"""
    prices: tuple[CatalogPrice, ...]
    discounts: tuple[Discount, ...]
    overheads: tuple[Overhead, ...]
    source: str

    @property
    def gpu_types(self) -> tuple[str, ...]:
        return tuple(sorted(set(self.aliases.values())))

    def canonical(self, gpu: str) -> str | None:
        """The catalog's name for ``gpu``, or None when it does not know it."""
        return self.aliases.get(gpu_key(gpu))


def gpu_key(name: str) -> str:
    """A GPU name reduced for matching: upper case, letters and digits only."""
    return re.sub(r"[^A-Z0-9]", "", name.upper())


def load_catalog(path: Path | str | None = None) -> PriceCatalog:
    """The catalog at ``path``, or the bundled ``perfops/finops/prices.yaml``.

    Every problem (a negative or missing price, an unknown purchase option, a price without a
    source) is reported at once in one :class:`~perfops.errors.ConfigError`.
    """
    if path is None:
        text = resources.files("perfops.finops").joinpath(_BUNDLED).read_text("utf-8")
        where = f"perfops/finops/{_BUNDLED}"
    else:
        where = str(path)
        try:
            text = Path(path).read_text("utf-8")
        except OSError as exc:
            raise ConfigError([Problem(where, "", f"cannot read: {exc}")], source=where) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([Problem(where, "", f"not valid YAML: {exc}")], source=where) from None
    return _Parser(where).catalog(data)


class _Parser:
    def __init__(self, where: str) -> None:
        self.where = where
        self.problems: list[Problem] = []

    def fail(self, path: str, message: str, hint: str | None = None) -> None:
        self.problems.append(Problem(self.where, path, message, hint))

    def catalog(self, data: object) -> PriceCatalog:
        if not isinstance(data, dict):
            raise ConfigError([Problem(self.where, "", "is not a mapping")], source=self.where)
        aliases = self.aliases(data.get("gpus"))
        prices = tuple(
            p
            for i, item in enumerate(self.items(data, "prices"))
            if (p := self.price(f"prices[{i}]", item, aliases)) is not None
        )
        discounts = tuple(
            d
            for i, item in enumerate(self.items(data, "discounts", required=False))
            if (d := self.discount(f"discounts[{i}]", item)) is not None
        )
        overheads = tuple(
            o
            for i, item in enumerate(self.items(data, "overheads", required=False))
            if (o := self.overhead(f"overheads[{i}]", item)) is not None
        )
        currency = str(data.get("currency", ""))
        if not re.fullmatch(r"[A-Z]{3}", currency):
            self.fail("currency", f"{currency!r} is not an ISO 4217 code", "e.g. currency: USD")
        hours = self.amount("hours_per_month", data.get("hours_per_month", 730), positive=True)
        if self.problems:
            raise ConfigError(self.problems, source=self.where)
        return PriceCatalog(
            version=str(data.get("version", "")),
            currency=currency,
            hours_per_month=hours or Decimal(730),
            default_provider=str(data.get("default_provider", "sim")),
            aliases=aliases,
            prices=prices,
            discounts=discounts,
            overheads=overheads,
            source=self.where,
        )

    def items(self, data: dict[str, Any], key: str, *, required: bool = True) -> list[Any]:
        value = data.get(key)
        if value is None and not required:
            return []
        if not isinstance(value, list):
            self.fail(key, "must be a list")
            return []
        return value

    def aliases(self, gpus: object) -> dict[str, str]:
        if not isinstance(gpus, dict) or not gpus:
            self.fail("gpus", "must map each GPU type to its other names", "e.g. H200: [H200-SXM]")
            return {}
        out: dict[str, str] = {}
        for name, others in gpus.items():
            for spelling in (str(name), *(str(o) for o in others or ())):
                out[gpu_key(spelling)] = str(name)
        return out

    def amount(self, path: str, value: object, *, positive: bool = False) -> Decimal | None:
        try:
            if isinstance(value, bool) or not isinstance(value, int | float | str):
                raise ValueError(f"{value!r} is not a number")
            number = decimal_of(value)
        except (ValueError, ArithmeticError):
            self.fail(path, f"{value!r} is not a number")
            return None
        if number < 0 or (positive and number == 0):
            self.fail(path, f"{value!r} must be {'positive' if positive else 'zero or more'}")
            return None
        return number

    def fields(self, path: str, item: object, required: tuple[str, ...]) -> dict[str, Any] | None:
        if not isinstance(item, dict):
            self.fail(path, "must be a mapping")
            return None
        missing = [k for k in required if item.get(k) in (None, "")]
        for key in missing:
            self.fail(f"{path}.{key}", "required field is missing")
        return None if missing else item

    def purchase(self, path: str, value: object) -> Purchase | None:
        if value in PURCHASES:
            return value
        self.fail(path, f"unknown purchase option {value!r}", f"use one of: {', '.join(PURCHASES)}")
        return None

    def price(self, path: str, item: object, aliases: Mapping[str, str]) -> CatalogPrice | None:
        required = ("gpu", "provider", "purchase", "hourly", "source", "date")
        fields = self.fields(path, item, required)
        if fields is None:
            return None
        gpu = aliases.get(gpu_key(str(fields["gpu"])))
        if gpu is None:
            self.fail(f"{path}.gpu", f"GPU type {fields['gpu']!r} is not listed under gpus:")
        hourly = self.amount(f"{path}.hourly", fields["hourly"])
        purchase = self.purchase(f"{path}.purchase", fields["purchase"])
        host = fields.get("host", "included")
        if host not in ("included", "excluded"):
            self.fail(f"{path}.host", f"{host!r} is not included or excluded")
        if gpu is None or hourly is None or purchase is None:
            return None
        region = fields.get("region")
        return CatalogPrice(
            gpu=gpu,
            provider=str(fields["provider"]),
            instance=None if fields.get("instance") is None else str(fields["instance"]),
            region=None if region is None else str(region),
            purchase=purchase,
            hourly=hourly,
            host=host,
            source=str(fields["source"]),
            date=str(fields["date"]),
        )

    def discount(self, path: str, item: object) -> Discount | None:
        required = ("provider", "purchase", "fraction_off", "source", "date")
        fields = self.fields(path, item, required)
        if fields is None:
            return None
        off = self.amount(f"{path}.fraction_off", fields["fraction_off"])
        if off is not None and off >= 1:
            self.fail(f"{path}.fraction_off", f"a discount of {off} is not a fraction below 1")
            off = None
        purchase = self.purchase(f"{path}.purchase", fields["purchase"])
        if off is None or purchase is None:
            return None
        return Discount(
            str(fields["provider"]), purchase, off, str(fields["source"]), str(fields["date"])
        )

    def overhead(self, path: str, item: object) -> Overhead | None:
        fields = self.fields(path, item, ("name", "unit", "hourly", "per_gpu", "source"))
        if fields is None:
            return None
        hourly = self.amount(f"{path}.hourly", fields["hourly"])
        per_gpu = self.amount(f"{path}.per_gpu", fields["per_gpu"])
        if hourly is None or per_gpu is None:
            return None
        return Overhead(
            str(fields["name"]), str(fields["unit"]), hourly, per_gpu, str(fields["source"])
        )
