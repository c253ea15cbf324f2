"""Every number of the report's summary, scorecard and cost sections equals a DuckDB query
over the Delta tables the test wrote (tests/report_lake.py: two weeks of DCGM and engine
series, load tests, incidents, capacity runs, a drill, chaos runs, a reconciled bill), the
definitions written out in ``_oracle``, never read through perfops' own functions; so do the
comparison with the previous period and a report scoped to one service. A fresh lake gives a
report that says, section by section, what is missing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest
from deltalake import DeltaTable
from tests.integration.report._oracle import (
    DAY,
    IDLE,
    SHARED,
    Bill,
    LakeOracle,
    Slo,
    cents,
    money_text,
    per_million,
    usd,
)
from tests.report_lake import ReportLake, build_lake

from perfops._internal.clock import ManualClock
from perfops.app import open_runtime
from perfops.app.report import build_report
from perfops.report.model import Figure, Report, part_text

WEEK = 7 * DAY


@pytest.fixture(scope="module")
def lake(tmp_path_factory: pytest.TempPathFactory) -> ReportLake:
    return build_lake(tmp_path_factory.mktemp("report-lake"))


@pytest.fixture(scope="module")
def oracle(lake: ReportLake) -> Iterator[LakeOracle]:
    found = LakeOracle(lake.root, lake.lake)
    yield found
    found.db.close()


@pytest.fixture(scope="module")
def report(lake: ReportLake) -> Report:
    return build_report(lake.rt, "7d")


@pytest.fixture(scope="module")
def figures(report: Report) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = report.as_dict()["figures"]
    return found


@pytest.fixture(scope="module")
def bill(lake: ReportLake, oracle: LakeOracle) -> Bill:
    return oracle.bill(lake.end_ms - WEEK, lake.end_ms)


def _money(figures: dict[str, dict[str, Any]], key: str, expected: Decimal | None) -> None:
    fig = figures[key]
    assert (fig["value"], fig["text"]) == (
        None if expected is None else str(expected),
        money_text(expected),
    ), key


def _waste(cost: Decimal, tokens: int, slo_tokens: int | None) -> Decimal | None:
    if slo_tokens is None or not tokens:
        return None
    return usd(cents(Fraction(cost) * (1 - Fraction(slo_tokens, tokens))))


# -- cost -------------------------------------------------------------------------------------


def test_the_bill_idle_and_shared_costs_equal_the_lake(
    figures: dict[str, dict[str, Any]], bill: Bill, oracle: LakeOracle, lake: ReportLake
) -> None:
    total = bill.total()
    assert bill.money[IDLE] > 0  # the lake has idle GPUs
    assert bill.money[SHARED] > 0  # and a shared cost kept apart
    _money(figures, "cost.total", total)
    _money(figures, "cost.idle", bill.money[IDLE])
    _money(figures, "cost.shared", bill.money[SHARED])
    served = [bill.work[name] for name in oracle.services]
    tokens = sum(w.tokens for w in served)
    _money(figures, "cost.per_1m_tokens", per_million(total, tokens))
    joules = sum(w.energy or 0.0 for w in served)
    _money(figures, "cost.energy", oracle.energy_cost(joules))
    per_joule = figures["cost.tokens_per_joule"]
    assert per_joule["value"] == pytest.approx(tokens / joules, rel=1e-9)
    assert per_joule["text"] == f"{tokens / joules:,.2f} tok/J"
    previous = oracle.bill(lake.end_ms - 2 * WEEK, lake.end_ms - WEEK)
    _money(figures, "cost.previous_total", previous.total())


def test_each_service_line_equals_the_lake(
    report: Report, figures: dict[str, dict[str, Any]], bill: Bill
) -> None:
    for group, cost in bill.money.items():
        key = f"cost.service.{group.strip('_')}"
        _money(figures, f"{key}.total", cost)
        hours = bill.seconds.get(group, 0.0) / 3600
        assert figures[f"{key}.gpu_hours"]["value"] == pytest.approx(hours, rel=1e-12)
        assert figures[f"{key}.gpu_hours"]["text"] == f"{hours:,.1f} h"
        work = bill.work.get(group)
        if work is None:  # idle and shared serve nothing
            _money(figures, f"{key}.per_1m_tokens", None)
            continue
        _money(figures, f"{key}.per_1m_tokens", per_million(cost, work.tokens))
        slo = None if work.slo_tokens is None else per_million(cost, work.slo_tokens)
        _money(figures, f"{key}.per_1m_slo_tokens", slo)
        _money(figures, f"{key}.slo_waste", _waste(cost, work.tokens, work.slo_tokens))
    rows = {part_text(r[0]): r for r in report.section("cost").tables[0].rows}
    for name, work in bill.work.items():
        busy = 100.0 * bill.busy[name] / bill.seconds[name]
        assert part_text(rows[name][2]) == f"{busy:.1f}%"
        assert work.energy is not None
        assert part_text(rows[name][7]) == f"{work.tokens / work.energy:,.2f} tok/J"


def test_team_and_model_tables_add_up_their_services(
    figures: dict[str, dict[str, Any]], bill: Bill, oracle: LakeOracle
) -> None:
    for by in ("team", "model"):
        groups: dict[str, list[str]] = {}
        for name, svc in oracle.services.items():
            groups.setdefault(str(svc[by]), []).append(name)
        for group, names in groups.items():
            cost = sum((bill.money[n] for n in names), Decimal(0))
            tokens = sum(bill.work[n].tokens for n in names)
            _money(figures, f"cost.{by}.{group}.total", cost)
            _money(figures, f"cost.{by}.{group}.per_1m_tokens", per_million(cost, tokens))
        _money(figures, f"cost.{by}.idle.total", bill.money[IDLE])
        _money(figures, f"cost.{by}.shared.total", bill.money[SHARED])


def test_the_daily_cost_chart_equals_the_lake_split_by_day(
    report: Report, oracle: LakeOracle, lake: ReportLake
) -> None:
    (chart,) = report.section("cost").charts
    daily = oracle.bill(lake.end_ms - WEEK, lake.end_ms, daily=True).daily
    days = sorted({d for d, _ in daily})
    assert list(chart.x) == days
    labels = {IDLE: "idle GPUs", SHARED: "shared costs"}
    shown = dict(chart.series)
    groups = {g for _, g in daily}
    assert set(shown) == {labels.get(g, g) for g in groups}
    for group in groups:
        expected = [float(daily.get((d, group), Decimal(0))) for d in days]
        assert list(shown[labels.get(group, group)]) == expected, group
    assert sum(daily.values()) == oracle.bill(lake.end_ms - WEEK, lake.end_ms).total()


def test_the_reconciled_bill_is_reported_from_its_event(
    report: Report, figures: dict[str, dict[str, Any]], oracle: LakeOracle
) -> None:
    (event,) = oracle.sql(
        "SELECT json_extract_string(data, '$.difference') AS diff, "
        "json_extract(data, '$.ok')::BOOLEAN AS ok FROM events WHERE kind = 'reconciliation'"
    )
    fig = figures["cost.reconciliation.difference"]
    assert fig["value"] == event["diff"]
    assert fig["text"] == money_text(Decimal(event["diff"]))
    text = " ".join("".join(map(part_text, p)) for p in report.section("cost").paragraphs)
    assert ("agrees with" if event["ok"] else "does NOT agree with") in text


# -- scorecard --------------------------------------------------------------------------------


def _attainment(oracle: LakeOracle, slo: Slo, lo: int, hi: int) -> float | None:
    good, total = oracle.slo_counts(slo, lo, hi)
    return 100.0 * good / total if total else None


def test_scorecard_attainment_budget_and_trend_equal_the_lake(
    report: Report, figures: dict[str, dict[str, Any]], oracle: LakeOracle, lake: ReportLake
) -> None:
    end = lake.end_ms
    (table,) = report.section("scorecard").tables
    rows = {part_text(r[1]): r for r in table.rows}
    assert set(rows) == {s.name for s in oracle.slos}
    for slo in oracle.slos:
        now = _attainment(oracle, slo, end - WEEK, end)
        before = _attainment(oracle, slo, end - 2 * WEEK, end - WEEK)
        assert now is not None, slo.name
        assert before is not None, slo.name
        fig = figures[f"scorecard.{slo.name}.attainment_pct"]
        assert fig["value"] == pytest.approx(now, rel=1e-9), slo.name
        assert fig["text"] == f"{now:.3f}%"
        left, _ = oracle.budget_left_pct(slo, end)
        fig = figures[f"scorecard.{slo.name}.budget_left_pct"]
        assert fig["value"] == pytest.approx(left, rel=1e-9, abs=1e-9), slo.name
        assert fig["text"] == f"{left:.1f}%"
        diff = now - before
        trend = (
            "= unchanged"
            if abs(diff) < 0.0005
            else f"{'▲' if diff > 0 else '▼'} {abs(diff):.3f} pp"
        )
        assert part_text(rows[slo.name][4]) == trend, slo.name


def _incident_burn(oracle: LakeOracle, slo: Slo, lo: int, hi: int) -> tuple[int, float] | None:
    """How many incidents of the SLO's service were open in [lo, hi), and the share of the
    SLO period's budget their bad events (inside the period) spent."""
    mine = oracle.period_incidents(lo, hi, {slo.service})
    if not mine:
        return None
    _, period_total = oracle.budget_left_pct(slo, hi)
    bad = 0.0
    for inc in mine:
        a = max(inc.opened_ns // 1_000_000, lo)
        b = max(a + 1, min((inc.resolved_ns or hi * 1_000_000) // 1_000_000, hi))
        good, total = oracle.slo_counts(slo, a, b)
        bad += total - good
    return len(mine), 100.0 * bad / ((1 - slo.objective / 100) * period_total)


def test_scorecard_incidents_and_their_budget_share_equal_the_lake(
    report: Report, figures: dict[str, dict[str, Any]], oracle: LakeOracle, lake: ReportLake
) -> None:
    (table,) = report.section("scorecard").tables
    rows = {part_text(r[1]): r for r in table.rows}
    burned = 0
    for slo in oracle.slos:
        found = _incident_burn(oracle, slo, lake.end_ms - WEEK, lake.end_ms)
        cell = part_text(rows[slo.name][8])
        if found is None:
            assert cell == "none", slo.name
            continue
        count, share = found
        burned += share > 0
        assert cell.startswith(f"{count}, {share:.1f}% of budget"), (slo.name, cell)
        fig = figures[f"scorecard.{slo.name}.incidents"]
        assert fig["value"] == pytest.approx(share, rel=1e-9)
    assert burned >= 2  # the main incident spent both of its service's budgets


def test_the_incident_cost_is_its_bad_tokens_at_the_services_unit_cost(
    report: Report, bill: Bill, oracle: LakeOracle, lake: ReportLake
) -> None:
    """Bad tokens: tokens served minus SLO-compliant tokens in each incident's window."""
    (table,) = report.section("scorecard").tables
    rows = {part_text(r[1]): r for r in table.rows}
    start, end = lake.end_ms - WEEK, lake.end_ms
    main = lake.spells[1]
    per_1m = per_million(bill.money[main.service], bill.work[main.service].tokens)
    assert per_1m is not None
    (inc,) = oracle.period_incidents(start, end, {main.service})
    a = max(inc.opened_ns // 1_000_000, start)
    b = max(a + 1, min((inc.resolved_ns or end * 1_000_000) // 1_000_000, end))
    work = oracle.work(main.service, a, b)
    assert work.slo_tokens is not None
    assert work.slo_tokens < work.tokens
    cost = (per_1m * (work.tokens - work.slo_tokens) / 1_000_000).quantize(Decimal("0.01"))
    for slo in oracle.slos:
        if slo.service == main.service:
            assert part_text(rows[slo.name][8]).endswith(f", {cost:,.2f} USD"), slo.name


# -- summary ----------------------------------------------------------------------------------


def _day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).strftime("%Y-%m-%d")


def _paragraphs(report: Report) -> list[str]:
    return ["".join(part_text(p) for p in para) for para in report.section("summary").paragraphs]


def _figures_quoted(report: Report, figures: dict[str, dict[str, Any]]) -> None:
    """Every figure a summary sentence quotes is shown as the figure of its key is."""
    for para in report.section("summary").paragraphs:
        for part in para:
            if isinstance(part, Figure) and part.key in figures:
                assert part.text == figures[part.key]["text"], part.key


def test_the_summary_says_the_bill_its_change_and_unit_cost(
    report: Report, figures: dict[str, dict[str, Any]], bill: Bill, oracle: LakeOracle,
    lake: ReportLake,
) -> None:  # fmt: skip
    start, end = lake.end_ms - WEEK, lake.end_ms
    total = bill.total()
    before = oracle.bill(start - WEEK, start).total()
    change = float((total - before) / before * 100)
    tokens = sum(w.tokens for w in bill.work.values())
    first = _paragraphs(report)[0]
    assert first == (
        f"From {_day(start)} to {_day(end - 1)} (the last 7d) the {len(oracle.services)} "
        f"service(s) in scope cost {money_text(total)}, {'up' if change > 0 else 'down'} "
        f"{abs(change):.1f}% on the previous period, at "
        f"{money_text(per_million(total, tokens))} per million tokens served."
    )
    _figures_quoted(report, figures)


def test_the_summary_counts_slos_incidents_and_idle_share(
    report: Report, figures: dict[str, dict[str, Any]], bill: Bill, oracle: LakeOracle,
    lake: ReportLake,
) -> None:  # fmt: skip
    start, end = lake.end_ms - WEEK, lake.end_ms
    paras = _paragraphs(report)
    judged = len(oracle.slos)  # every SLO has events in the lake
    assert paras[1].split(" SLOs are healthy")[0].endswith(f" of {judged}")
    for slo in oracle.slos:  # an SLO named there quotes its budget left
        if f"; {slo.name} ({slo.service}) is " in paras[1]:
            left = figures[f"scorecard.{slo.name}.budget_left_pct"]["text"]
            assert f" with {left} of its budget left" in paras[1]
    incidents = oracle.period_incidents(start, end, set(oracle.services))
    burns = {}
    for slo in oracle.slos:
        found = _incident_burn(oracle, slo, start, end)
        if found is not None:
            burns[slo.name] = found[1]
    worst = max(burns, key=lambda name: burns[name])
    assert paras[2] == (
        f"{len(incidents)} incident(s) were open in the period; the worst burned "
        f"{burns[worst]:.1f}% of the {worst} budget."
    )
    share = float(bill.money[IDLE] / bill.total() * 100)
    assert paras[3] == f"Idle GPUs cost {money_text(bill.money[IDLE])} ({share:.1f}% of the bill)."
    _figures_quoted(report, figures)


# -- reliability and capacity -----------------------------------------------------------------


def test_reliability_counts_the_periods_runs_and_incidents(
    figures: dict[str, dict[str, Any]], oracle: LakeOracle, lake: ReportLake
) -> None:
    start, end = lake.end_ms - WEEK, lake.end_ms
    runs = oracle.runs(("chaos", "drill", "gameday"), start, end)
    passed = sum(r["status"] == ("restored" if r["kind"] == "drill" else "passed") for r in runs)
    assert figures["reliability.runs"]["value"] == len(runs) > 0
    rate = 100.0 * passed / len(runs)
    assert figures["reliability.pass_rate_pct"]["value"] == pytest.approx(rate)
    assert figures["reliability.pass_rate_pct"]["text"] == f"{rate:.0f}%"
    ttr = [r["ttr"] for r in runs if r["ttr"] is not None]
    assert figures["reliability.mean_ttr_s"]["value"] == pytest.approx(sum(ttr) / len(ttr))
    incidents = oracle.period_incidents(start, end, set(oracle.services))
    assert figures["reliability.incidents"]["value"] == len(incidents) == 2


def test_capacity_is_the_newest_valid_search_before_the_end(
    figures: dict[str, dict[str, Any]], oracle: LakeOracle, lake: ReportLake
) -> None:
    name = lake.services[0].name
    (newest,) = oracle.sql(
        """SELECT TRY_CAST(json_extract(summary, '$.capacity_rps_per_gpu') AS DOUBLE) AS per_gpu
           FROM runs WHERE kind = 'capacity' AND json_extract_string(spec, '$.service') = ?
             AND json_extract(summary, '$.valid')::BOOLEAN AND ended_ns < ?
           ORDER BY started_ns DESC LIMIT 1""",
        name, lake.end_ms * 1_000_000,
    )  # fmt: skip
    assert figures[f"performance.{name}.capacity_rps_per_gpu"]["value"] == newest["per_gpu"]


def test_every_figure_cites_the_table_versions_of_the_lake(
    report: Report, lake: ReportLake
) -> None:
    versions: dict[str, int] = {}
    for fig in report.figures():
        for table, version in fig.source.tables:
            if table not in versions:
                versions[table] = DeltaTable(str(lake.lake / table)).version()
            assert version == versions[table], (fig.key, table)
    assert {"samples", "series", "requests", "runs", "events"} <= set(versions)


# -- one service ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scoped(lake: ReportLake) -> Report:
    return build_report(lake.rt, "7d", services=(lake.services[0].name,))


def test_a_report_of_one_service_shows_only_its_figures(
    scoped: Report, figures: dict[str, dict[str, Any]], oracle: LakeOracle, lake: ReportLake
) -> None:
    name = lake.services[0].name
    mine = scoped.as_dict()["figures"]
    assert scoped.services == (name,)
    assert {k.split(".")[1] for k in mine if k.startswith("scorecard.")} == {
        s.name for s in oracle.slos if s.service == name
    }
    lines = {k.split(".")[2] for k in mine if k.startswith("cost.service.")}
    assert {name} <= lines <= {name, "idle", "shared"}
    for key, fig in mine.items():  # the service's own figures are the fleet report's
        if key.startswith((f"scorecard.{name}", f"cost.service.{name}")):
            assert (fig["text"], fig["value"]) == (figures[key]["text"], figures[key]["value"])
    incidents = oracle.period_incidents(lake.end_ms - WEEK, lake.end_ms, {name})
    assert mine["reliability.incidents"]["value"] == len(incidents) == 1
    assert _paragraphs(scoped)[0].split(" cost ")[0].endswith("the 1 service(s) in scope")


# -- what the report gets wrong (found by these tests; see the reasons) ----------------------


def test_fleet_slo_waste_is_the_services_waste(
    figures: dict[str, dict[str, Any]], bill: Bill
) -> None:
    wastes = [_waste(bill.money[n], w.tokens, w.slo_tokens) for n, w in bill.work.items()]
    _money(figures, "cost.slo_waste", sum((w for w in wastes if w is not None), Decimal(0)))


def test_fleet_cost_per_slo_token_covers_the_measured_services(
    figures: dict[str, dict[str, Any]], bill: Bill
) -> None:
    measured = [n for n, w in bill.work.items() if w.slo_tokens is not None]
    cost = sum((bill.money[n] for n in measured), Decimal(0))
    slo_tokens = sum(bill.work[n].slo_tokens or 0 for n in measured)
    _money(figures, "cost.per_1m_slo_tokens", per_million(cost, slo_tokens))


def test_a_report_of_one_service_bills_that_service(scoped: Report, bill: Bill) -> None:
    name = scoped.services[0]
    mine = scoped.as_dict()["figures"]
    _money(mine, "cost.total", bill.money[name])


def test_a_report_of_one_service_groups_only_that_service(
    scoped: Report, oracle: LakeOracle
) -> None:
    svc = oracle.services[scoped.services[0]]
    teams = {k.split(".")[2] for k in scoped.as_dict()["figures"] if k.startswith("cost.team.")}
    assert teams <= {svc["team"], "idle", "shared"}


def test_an_incident_cost_that_is_unknown_is_not_zero(
    report: Report, bill: Bill, lake: ReportLake
) -> None:
    (table,) = report.section("scorecard").tables
    unmeasured = {n for n, w in bill.work.items() if w.slo_tokens is None}
    cells = [part_text(r[8]) for r in table.rows if part_text(r[0]) in unmeasured]
    assert any(c != "none" for c in cells)  # the open incident is on such a service
    assert not any(c.endswith(" 0.00 USD") for c in cells), cells


# -- a fresh lake -----------------------------------------------------------------------------


def test_a_fresh_lake_gives_a_report_that_says_what_is_missing(
    lake: ReportLake, tmp_path: Path
) -> None:
    (tmp_path / "perfops.yaml").write_text((lake.root / "perfops.yaml").read_text())
    rt = open_runtime(tmp_path / "perfops.yaml", clock=ManualClock(lake.end_ms * 10**6),
                      environ={})  # fmt: skip
    report = build_report(rt, "7d")
    for section in ("scorecard", "performance", "cost", "reliability"):
        assert report.section(section).missing, section
    scorecard = " ".join(report.section("scorecard").missing)
    assert all(slo.name in scorecard for slo in lake.rt.config.slos)
    figures = report.as_dict()["figures"]
    assert figures["cost.per_1m_tokens"]["text"] == "n/a"  # never $0 for what is unknown
    notes = " ".join("".join(map(part_text, p)) for p in report.section("cost").paragraphs)
    for svc in lake.services:  # charged what it declares, and said so
        assert f"{svc.name}: no GPU telemetry in the window" in notes
    assert _paragraphs(report)[2] == "No incidents were open in the period."


def test_recommendations_are_the_period_figures_per_month(report: Report) -> None:
    """Each priced recommendation scales its period figure to a 30-day month, exactly, and
    they are ranked by that money."""
    doc = report.as_dict()
    figures = doc["figures"]
    month = Decimal(30 * 86_400_000) / Decimal(report.end_ms - report.start_ms)
    pairs = {"recommendations.idle.monthly": "cost.idle",
             "recommendations.slo_waste.monthly": "cost.slo_waste"}  # fmt: skip
    found = [key for key in pairs if key in figures]
    assert found, "the lake has idle GPUs and SLO misses: both should be recommended"
    for key in found:
        expected = (Decimal(figures[pairs[key]]["value"]) * month).quantize(Decimal("0.01"))
        assert Decimal(figures[key]["value"]) == expected, key
    ranked = [Decimal(r["impact"]["value"]) for r in doc["recommendations"]]
    assert ranked == sorted(ranked, reverse=True)
