"""Prices: the bundled catalog, perfops.yaml overrides, and errors that name the fix."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from perfops.config import GpuPrice, Pricing, parse_config
from perfops.errors import ConfigError
from perfops.finops import PriceBook, load_catalog, price_book
from perfops.sim.profiles import DEFAULT_PROFILES_PATH

CATALOG = load_catalog()


def book(**pricing: object) -> PriceBook:
    return price_book(Pricing.model_validate(pricing), CATALOG)


def problems(info: pytest.ExceptionInfo[ConfigError]) -> str:
    return "\n".join(str(p) for p in info.value.problems)


def test_every_catalog_price_cites_a_source_and_date() -> None:
    assert CATALOG.currency == "USD"
    assert CATALOG.prices
    for price in CATALOG.prices:
        assert price.source.strip(), price
        assert price.date.strip(), price
        assert price.hourly >= 0


def test_every_simulated_gpu_has_a_default_price() -> None:
    sim_gpus = yaml.safe_load(DEFAULT_PROFILES_PATH.read_text("utf-8"))["gpus"]
    prices = price_book(Pricing(), CATALOG)
    for gpu in sim_gpus:
        assert prices.rate(gpu).hourly > 0, gpu


@pytest.mark.parametrize(
    ("provider", "gpu", "purchase", "hourly"),
    [
        ("aws", "H100-SXM", "on_demand", "6.88"),  # p5.48xlarge $55.04/h / 8
        ("azure", "H100-SXM", "on_demand", "12.29"),
        ("gcp", "H100-SXM", "on_demand", "10.98"),
        ("gcp", "H100-SXM", "spot", "6.57"),
        ("lambda", "H100-SXM", "on_demand", "3.99"),
        ("runpod", "H100-SXM", "on_demand", "2.69"),
        ("aws", "H200", "on_demand", "7.912"),  # p5en.48xlarge $63.296/h / 8
        ("aws", "H200", "spot", "3.32125"),  # $26.57/h / 8
        ("gcp", "H200", "on_demand", "10.44"),
        ("gcp", "H200", "spot", "6.26"),
        ("aws", "A100-40GB", "on_demand", "2.74"),
        ("aws", "A100-80GB", "on_demand", "3.43"),
        ("aws", "L40S", "on_demand", "1.861"),
        ("aws", "H100-SXM", "committed", "4.916"),  # Capacity Blocks
    ],
)
def test_public_prices(provider: str, gpu: str, purchase: str, hourly: str) -> None:
    rate = book(provider=provider, purchase=purchase).rate(gpu)
    assert rate.hourly == Decimal(hourly)
    assert rate.currency == "USD"


def test_aliases_and_dcgm_model_names_resolve() -> None:
    prices = book()
    for name in ("H100", "h100_sxm", "NVIDIA H100 80GB HBM3", "H100-SXM5"):
        assert prices.rate(name).gpu == "H100-SXM"
    assert prices.rate("NVIDIA A100-SXM4-40GB").gpu == "A100-40GB"


def test_committed_falls_back_to_the_cited_discount() -> None:
    # GCP H100 on demand 10.98, less the 37% 1-year committed-use discount: 10.98 x 0.63 = 6.9174
    rate = book(provider="gcp", purchase="committed").rate("H100")
    assert rate.hourly == Decimal("6.9174")
    assert "37%" in rate.source


def test_perfops_yaml_price_wins_and_the_most_specific_one_wins() -> None:
    prices = book(
        provider="aws",
        region="us-west-2",
        gpus=[
            {"gpu": "H100", "hourly": 3.0},
            {"gpu": "H100-SXM", "hourly": 2.5, "provider": "aws"},
            {"gpu": "H100-SXM", "hourly": 2.25, "provider": "aws", "region": "us-west-2"},
            {"gpu": "H100-SXM", "hourly": 1.0, "purchase": "spot"},
        ],
    )
    assert prices.rate("H100").hourly == Decimal("2.25")
    assert prices.rate("H100", region="eu-west-1").hourly == Decimal("2.5")
    assert prices.rate("H100", provider="gcp").hourly == Decimal("3.0")
    rate = prices.rate("H100", purchase="spot")
    assert (rate.hourly, rate.source) == (Decimal("1.0"), "perfops.yaml pricing.gpus[3]")


def test_a_gpu_only_perfops_yaml_knows_is_priced() -> None:
    prices = book(gpus=[{"gpu": "MI300X", "hourly": 4.1}])
    assert prices.rate("MI300X").hourly == Decimal("4.1")
    assert "MI300X" in prices.known_gpus()


def test_bare_gpu_price_adds_the_cited_host_overheads() -> None:
    # 24 vCPU x 0.031611 + 256 GiB x 0.004237 = 0.758664 + 1.084672 = 1.843336 per GPU-hour
    prices = book(gpus=[{"gpu": "H100", "hourly": 2.0, "host": "excluded"}])
    rate = prices.rate("H100")
    assert rate.host_hourly == Decimal("1.843336")
    assert rate.hourly == Decimal("3.843336")


def test_unknown_gpu_names_the_known_ones_and_a_close_match() -> None:
    with pytest.raises(ConfigError) as info:
        book().rate("H10")
    text = problems(info)
    assert "no price for GPU type 'H10'" in text
    assert "A100-40GB, A100-80GB, H100-SXM, H200, L40S" in text
    assert "did you mean 'H100-SXM'?" in text
    assert "pricing.gpus" in text


def test_missing_offer_lists_what_the_catalog_has() -> None:
    with pytest.raises(ConfigError) as info:
        book(provider="gcp", purchase="committed").rate("A100-80GB")
    text = problems(info)
    assert "no committed price for A100-80GB on gcp" in text
    assert "aws on_demand" in text


def test_region_asked_for_is_not_silently_replaced_by_another() -> None:
    # The only AWS H200 spot price is quoted for us-east-2.
    assert book(provider="aws", purchase="spot").rate("H200").region == "us-east-2"
    with pytest.raises(ConfigError, match=r"us-west-2.*\(it has: .*aws spot \(us-east-2\)"):
        book(provider="aws", region="us-west-2", purchase="spot").rate("H200")


def test_other_currency_without_own_prices_is_refused_with_the_fix() -> None:
    with pytest.raises(ConfigError) as info:
        price_book(Pricing(currency="EUR"), CATALOG)
    text = problems(info)
    assert "workspace currency is EUR but the price catalog is in USD" in text
    assert "set pricing.currency: USD" in text


def test_other_currency_uses_own_prices_and_refuses_catalog_ones() -> None:
    prices = price_book(Pricing(currency="EUR", gpus=(GpuPrice(gpu="H100", hourly=3.1),)), CATALOG)
    assert prices.rate("H100").currency == "EUR"
    with pytest.raises(ConfigError, match="no EUR price for H200"):
        prices.rate("H200")


def write_catalog(tmp_path: Path, prices: str) -> Path:
    path = tmp_path / "prices.yaml"
    path.write_text("currency: USD\ngpus: {H100-SXM: [H100]}\nprices:\n" + prices, encoding="utf-8")
    return path


def test_catalog_negative_price_and_missing_source_are_all_reported(tmp_path: Path) -> None:
    path = write_catalog(
        tmp_path,
        "  - {gpu: H100, provider: x, purchase: on_demand, hourly: -1, source: s, date: d}\n"
        "  - {gpu: H100, provider: y, purchase: reserved, hourly: 2, date: d}\n"
        "  - {gpu: B200, provider: z, purchase: spot, hourly: 2, source: s, date: d}\n",
    )
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    text = problems(info)
    assert "prices[0].hourly: -1 must be zero or more" in text
    assert "prices[1].source: required field is missing" in text
    assert "prices[2].gpu: GPU type 'B200' is not listed under gpus:" in text


def test_replacement_catalog_from_perfops_yaml(tmp_path: Path) -> None:
    path = write_catalog(
        tmp_path,
        "  - {gpu: H100, provider: corp, purchase: on_demand, hourly: 1.5, source: s, date: d}\n",
    )
    prices = price_book(Pricing(catalog=str(path), provider="corp"))
    assert prices.hourly("H100") == Decimal("1.5")


CONFIG = """\
apiVersion: perfops/v1
pricing:
  shared:
"""


def test_shared_cost_needs_exactly_one_amount() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(CONFIG + "    - {name: cp}\n    - {name: obs, monthly: 10, hourly: 1}\n")
    text = problems(info)
    assert text.count("needs exactly one of monthly: or hourly:") == 2


def test_shared_cost_and_policy_fields_load() -> None:
    config = parse_config(
        CONFIG + "    - {name: cp, hourly: 1.5, split: even, services: [chat]}\n"
        "  idle: weighted\n  basis: usage\n  provider: aws\n  purchase: spot\n"
    )
    pricing = config.pricing
    assert (pricing.idle, pricing.basis, pricing.provider, pricing.purchase) == (
        "weighted",
        "usage",
        "aws",
        "spot",
    )
    assert pricing.shared[0].hourly == 1.5
    assert pricing.shared[0].services == ("chat",)


def test_negative_price_in_perfops_yaml_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"pricing.gpus\[0\].hourly"):
        parse_config("apiVersion: perfops/v1\npricing:\n  gpus: [{gpu: H100, hourly: -2}]\n")
