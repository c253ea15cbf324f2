"""GPU prices: the bundled catalog (``prices.yaml``) and perfops.yaml overrides.

:func:`load_catalog` validates a catalog once into frozen dataclasses; :func:`price_book`
joins it with the ``pricing:`` section of perfops.yaml. :meth:`PriceBook.rate` answers "what
does one GPU-hour of this GPU cost here?", most specific answer first:

1. a ``pricing.gpus`` entry for the GPU and purchase option (one naming the provider and region
   beats one naming only the provider, which beats a bare one);
2. the catalog entry for the provider (``pricing.provider``, else the catalog's default,
   ``sim``) and purchase option, in the region asked for, else one quoted without a region;
3. for ``committed``, the provider's on-demand price less its cited committed-use discount.

GPU names are matched through the catalog's aliases ("H100", "NVIDIA H100 80GB HBM3" and
"h100_sxm" all mean H100-SXM). An unknown GPU, a missing price or a currency the catalog is not
in raises :class:`~perfops.errors.ConfigError` naming the fix.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from decimal import Decimal

from perfops.config.models import GpuPrice, Pricing
from perfops.errors import ConfigError, Problem
from perfops.finops._money import decimal_of
from perfops.finops.catalog import CatalogPrice, PriceCatalog, Purchase, gpu_key, load_catalog

__all__ = ["PriceBook", "Rate", "price_book"]


@dataclass(frozen=True, slots=True)
class Rate:
    """What one GPU-hour costs, and where the number comes from."""

    gpu: str
    hourly: Decimal
    """GPU plus host overheads, per GPU-hour: the price attribution charges"""
    gpu_hourly: Decimal
    host_hourly: Decimal
    currency: str
    provider: str | None
    region: str | None
    purchase: Purchase
    source: str
    date: str | None = None


@dataclass(frozen=True, slots=True)
class PriceBook:
    """A catalog joined with perfops.yaml's ``pricing:`` section."""

    catalog: PriceCatalog
    pricing: Pricing

    @property
    def currency(self) -> str:
        return self.pricing.currency

    @property
    def hours_per_month(self) -> Decimal:
        return self.catalog.hours_per_month

    def known_gpus(self) -> tuple[str, ...]:
        """Every GPU type with a price: the catalog's and those perfops.yaml names."""
        return tuple(sorted({*self.catalog.gpu_types, *(self._name(g.gpu) for g in self._own)}))

    def hourly(self, gpu: str) -> Decimal:
        """The price per GPU-hour of ``gpu`` with the workspace defaults (for attribution)."""
        return self.rate(gpu).hourly

    def rate(
        self,
        gpu: str,
        *,
        provider: str | None = None,
        region: str | None = None,
        purchase: Purchase | None = None,
    ) -> Rate:
        """The price of one GPU-hour of ``gpu``; arguments default to perfops.yaml's."""
        name = self._name(gpu)
        provider = provider or self.pricing.provider or self.catalog.default_provider
        region = region or self.pricing.region
        purchase = purchase or self.pricing.purchase
        own = self._override(name, provider, region, purchase)
        if own is not None:
            return own
        if self.catalog.canonical(gpu) is None:
            raise self._unknown(gpu)
        if self.pricing.currency != self.catalog.currency:
            raise self._currency(name)
        return self._from_catalog(name, provider, region, purchase)

    @property
    def _own(self) -> tuple[GpuPrice, ...]:
        return self.pricing.gpus

    def _name(self, gpu: str) -> str:
        return self.catalog.canonical(gpu) or gpu

    def _host(self, host: str) -> Decimal:
        if host == "included":
            return Decimal(0)
        if self.pricing.currency != self.catalog.currency:
            problem = Problem(
                "perfops.yaml",
                "pricing.gpus",
                f"host: excluded adds the catalog's host overheads, which are in "
                f"{self.catalog.currency}, not {self.pricing.currency}",
                "include the host in the price (host: included)",
            )
            raise ConfigError([problem], source="pricing")
        return sum((o.per_gpu_hour for o in self.catalog.overheads), Decimal(0))

    def _override(
        self, name: str, provider: str, region: str | None, purchase: Purchase
    ) -> Rate | None:
        best: tuple[int, int, GpuPrice] | None = None
        for i, own in enumerate(self._own):
            if (
                self._name(own.gpu) != name
                or own.purchase != purchase
                or own.provider not in (None, provider)
                or own.region not in (None, region)
            ):
                continue
            score = (own.provider is not None) * 2 + (own.region is not None)
            if best is None or score > best[0]:
                best = (score, i, own)
        if best is None:
            return None
        _, index, own = best
        gpu_hourly = decimal_of(own.hourly, what="pricing.gpus hourly")
        host = self._host(own.host)
        return Rate(
            gpu=name,
            hourly=gpu_hourly + host,
            gpu_hourly=gpu_hourly,
            host_hourly=host,
            currency=self.pricing.currency,
            provider=own.provider,
            region=own.region,
            purchase=purchase,
            source=f"perfops.yaml pricing.gpus[{index}]",
        )

    def _from_catalog(
        self, name: str, provider: str, region: str | None, purchase: Purchase
    ) -> Rate:
        found = self._catalog_entry(name, provider, region, purchase)
        if found is not None:
            host = self._host(found.host)
            return Rate(
                gpu=name,
                hourly=found.hourly + host,
                gpu_hourly=found.hourly,
                host_hourly=host,
                currency=self.catalog.currency,
                provider=provider,
                region=found.region,
                purchase=purchase,
                source=f"{found.source} ({found.instance or 'list price'})",
                date=found.date,
            )
        discount = next(
            (d for d in self.catalog.discounts if (d.provider, d.purchase) == (provider, purchase)),
            None,
        )
        base = self._catalog_entry(name, provider, region, "on_demand")
        if discount is None or base is None:
            raise self._missing(name, provider, region, purchase)
        gpu_hourly = base.hourly * (1 - discount.off)
        host = self._host(base.host)
        return Rate(
            gpu=name,
            hourly=gpu_hourly + host,
            gpu_hourly=gpu_hourly,
            host_hourly=host,
            currency=self.catalog.currency,
            provider=provider,
            region=base.region,
            purchase=purchase,
            source=f"{base.source}, less {discount.off:%} ({discount.source})",
            date=discount.date,
        )

    def _catalog_entry(
        self, name: str, provider: str, region: str | None, purchase: Purchase
    ) -> CatalogPrice | None:
        offers = [
            p
            for p in self.catalog.prices
            if (p.gpu, p.provider, p.purchase) == (name, provider, purchase)
        ]
        for wanted in (region, None) if region else (None,):
            for offer in offers:
                if offer.region == wanted:
                    return offer
        return offers[0] if offers and region is None else None

    # -- errors ------------------------------------------------------------------------------

    def _unknown(self, gpu: str) -> ConfigError:
        known = self.known_gpus()
        spellings = {**{gpu_key(k): k for k in known}, **self.catalog.aliases}
        close = difflib.get_close_matches(gpu_key(gpu), list(spellings), n=1, cutoff=0.6)
        suggestion = f"did you mean {spellings[close[0]]!r}? " if close else ""
        return ConfigError(
            [
                Problem(
                    "perfops.yaml",
                    "pricing.gpus",
                    f"no price for GPU type {gpu!r} (known: {', '.join(known)})",
                    f"{suggestion}or add pricing.gpus: [{{gpu: {gpu}, hourly: <price per "
                    "GPU-hour>}]",
                )
            ],
            source="pricing",
        )

    def _currency(self, gpu: str | None) -> ConfigError:
        cur, cat = self.pricing.currency, self.catalog.currency
        what = gpu or "any GPU"
        return ConfigError(
            [
                Problem(
                    "perfops.yaml",
                    "pricing.currency",
                    f"the workspace currency is {cur} but the price catalog is in {cat} and "
                    f"perfops.yaml gives no {cur} price for {what}",
                    f"add pricing.gpus: [{{gpu: {gpu or '<GPU type>'}, hourly: <{cur} per "
                    f"GPU-hour>}}] or set pricing.currency: {cat}",
                )
            ],
            source="pricing",
        )

    def _missing(
        self, name: str, provider: str, region: str | None, purchase: Purchase
    ) -> ConfigError:
        offers = sorted(
            f"{p.provider} {p.purchase}" + (f" ({p.region})" if p.region else "")
            for p in self.catalog.prices
            if p.gpu == name
        )
        where = f"{provider}{f' {region}' if region else ''}"
        return ConfigError(
            [
                Problem(
                    "perfops.yaml",
                    "pricing",
                    f"the catalog has no {purchase} price for {name} on {where} "
                    f"(it has: {', '.join(offers)})",
                    "set pricing.provider/region/purchase to one of those, or add "
                    f"pricing.gpus: [{{gpu: {name}, provider: {provider}, purchase: {purchase}, "
                    "hourly: <price per GPU-hour>}]",
                )
            ],
            source="pricing",
        )


def price_book(pricing: Pricing, catalog: PriceCatalog | None = None) -> PriceBook:
    """The prices of a workspace: ``catalog`` (default: ``pricing.catalog`` or the bundled one).

    A workspace whose currency differs from the catalog's and that gives no GPU price of its
    own is refused here, before any cost is computed.
    """
    if catalog is None:
        catalog = load_catalog(pricing.catalog)
    book = PriceBook(catalog=catalog, pricing=pricing)
    if pricing.currency != catalog.currency and not pricing.gpus:
        raise book._currency(None)
    return book
