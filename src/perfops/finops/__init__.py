"""The pure FinOps core of ``perfops cost``: prices, attribution, unit economics, ROI, what-if.

Plain functions over frozen dataclasses; no store, no I/O beyond reading the bundled price
catalog and reading or writing FOCUS files. Money is :class:`decimal.Decimal`, conserved to
the cent:

* :mod:`~perfops.finops.catalog` and :mod:`~perfops.finops.pricing`: the price catalog
  (``prices.yaml``, each price with its source) and perfops.yaml overrides -> :class:`PriceBook`.
* :mod:`~perfops.finops.usage`: GPU usage rows (telemetry, declared GPUs, fleet gaps).
* :mod:`~perfops.finops.attribution`: GPU, idle and shared cost per service, model, team and
  tenant; allocated + idle + shared = the bill.
* :mod:`~perfops.finops.unit`: $/1M tokens (input, output, SLO-compliant), $/request, SLO waste.
* :mod:`~perfops.finops.roi` and :mod:`~perfops.finops.scenario`: a change's return, and the
  cheapest configuration for forecast traffic.
* :mod:`~perfops.finops.cost_rules`: the same $/h, idle $/h and $/1M tokens as Prometheus
  recording rules (with promtool tests, :mod:`~perfops.finops.cost_rule_tests`).
* :mod:`~perfops.finops.focus`: perfops' charges exported as a FOCUS 1.2 table (Parquet, CSV).
* :mod:`~perfops.finops.bill`: a provider's FOCUS bill read, checked and reconciled with
  perfops' charges.
"""

from perfops.finops.attribution import (
    IDLE,
    SHARED,
    Attribution,
    Basis,
    CostLine,
    IdleShare,
    SharedItem,
    attribute,
    shared_items,
)
from perfops.finops.bill import (
    BILL_REQUIRED_COLUMNS,
    GroupDiff,
    Reconciliation,
    read_focus_bill,
    reconcile,
)
from perfops.finops.catalog import (
    PURCHASES,
    CatalogPrice,
    PriceCatalog,
    Purchase,
    load_catalog,
)
from perfops.finops.cost_rule_tests import cost_rule_tests
from perfops.finops.cost_rules import (
    COST_GROUP,
    RULE_ACTIVITY,
    RULE_BUSY,
    RULE_COST,
    RULE_GPUS,
    RULE_IDLE_COST,
    RULE_PER_1M_TOKENS,
    RULE_TOKENS,
    IdlePrice,
    PricedService,
    cost_rule_group,
    idle_prices,
    priced_services,
)
from perfops.finops.focus import (
    APPLICABILITY_CRITERIA,
    FOCUS_SCHEMA,
    FOCUS_VERSION,
    Charge,
    ChargeKind,
    PurchaseOption,
    to_focus_table,
    write_focus,
)
from perfops.finops.pricing import PriceBook, Rate, price_book
from perfops.finops.roi import Roi, RunEconomics, compare, gpus_needed
from perfops.finops.scenario import Candidate, Forecast, MonthPlan, Plan, Scenario, plan
from perfops.finops.unit import ServedWork, UnitCosts, UnitRow, unit_costs, unit_economics
from perfops.finops.usage import (
    DAY_MS,
    HOUR_MS,
    MAX_PERIOD_DAYS,
    MODEL_NAME_GPU_TYPES,
    YEARS,
    Declared,
    Owner,
    UsageColumns,
    UsageRow,
    declared_from_services,
    declared_usage,
    fill_gaps,
    gpu_type_of_model_name,
)

__all__ = [
    "COST_GROUP",
    "RULE_ACTIVITY",
    "RULE_BUSY",
    "RULE_COST",
    "RULE_GPUS",
    "RULE_IDLE_COST",
    "RULE_PER_1M_TOKENS",
    "RULE_TOKENS",
    "IdlePrice",
    "PricedService",
    "cost_rule_group",
    "cost_rule_tests",
    "idle_prices",
    "priced_services",
    "APPLICABILITY_CRITERIA",
    "BILL_REQUIRED_COLUMNS",
    "DAY_MS",
    "FOCUS_SCHEMA",
    "FOCUS_VERSION",
    "HOUR_MS",
    "IDLE",
    "MAX_PERIOD_DAYS",
    "MODEL_NAME_GPU_TYPES",
    "PURCHASES",
    "SHARED",
    "YEARS",
    "Attribution",
    "Basis",
    "Candidate",
    "CatalogPrice",
    "Charge",
    "ChargeKind",
    "CostLine",
    "Declared",
    "Forecast",
    "GroupDiff",
    "IdleShare",
    "MonthPlan",
    "Owner",
    "Plan",
    "PriceBook",
    "PriceCatalog",
    "Purchase",
    "PurchaseOption",
    "Rate",
    "Reconciliation",
    "Roi",
    "RunEconomics",
    "Scenario",
    "ServedWork",
    "SharedItem",
    "UnitCosts",
    "UnitRow",
    "UsageColumns",
    "UsageRow",
    "attribute",
    "compare",
    "declared_from_services",
    "declared_usage",
    "fill_gaps",
    "gpu_type_of_model_name",
    "gpus_needed",
    "load_catalog",
    "plan",
    "price_book",
    "read_focus_bill",
    "reconcile",
    "shared_items",
    "to_focus_table",
    "unit_costs",
    "unit_economics",
    "write_focus",
]
