"""What the leadership report's figures must be, computed with DuckDB SQL straight from the
Delta tables of a lake and the perfops.yaml text, with every definition written out here
(docs/architecture.md "Cost basis", docs/promise.md, Prometheus' ``increase``), never
through perfops' own functions.

- **GPU time**: the ``gpu.sm_active`` series, hour by hour: a GPU is present from its first
  to its last sample of the hour plus one sample step ((last - first) // (n - 1), else the
  scrape interval), clipped to the window; it belongs to the service whose GPU selector
  (``hostname=~"<service>-node-.*"``) its labels match, else nobody's (idle).
- **Money** (allocation basis, idle apart): GPU-seconds x the hourly price / 3600, exact; the
  bill (GPU time plus shared costs prorated by time, a month being 730 h) is rounded half up
  to the cent once and split by the largest remainder method: into GPU time and each shared
  cost, then GPU cents over the owners and idle, a ``weighted`` shared cost over the owners
  by their GPU cost, a ``none`` one kept apart.
- **Counters** (tokens, requests by outcome, energy): Prometheus' ``increase`` over the
  left-open window (start, end]: last - first plus the value before each drop, extrapolated
  to an edge closer than 1.1 average intervals (else by half an interval), never past zero.
- **Load-test requests** in a window by scheduled time; good: no error, a first token, and
  first token - send <= the threshold.
- **Unit costs**: $/1M tokens = cost x 10^6 / (input + output tokens), rounded half even to
  6 places; SLO waste = cost x (1 - SLO tokens / tokens), to the cent.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import duckdb
import yaml
from deltalake import DeltaTable

HOUR = 3_600_000
DAY = 86_400_000
IDLE = "__idle__"
SHARED = "__shared__"
_MODEL_NAME_TYPES = (("H100", "H100-SXM"), ("A100", "A100-80GB"), ("L40S", "L40S"))
_GOOD_OUTCOMES = ("stop", "length", "success")


def cents(amount: Fraction) -> int:
    """Half up to whole cents."""
    exact = amount * 100
    whole = math.floor(exact)
    return whole + (exact - whole >= Fraction(1, 2))


def largest_remainder(total: int, weights: list[Fraction]) -> list[int]:
    """``total`` split in whole units in proportion to ``weights`` (ties to the earlier)."""
    whole = sum(weights, Fraction(0))
    if whole == 0:
        return [0] * len(weights)
    shares = [total * w / whole for w in weights]
    parts = [math.floor(s) for s in shares]
    order = sorted(range(len(shares)), key=lambda i: (-(shares[i] - parts[i]), i))
    for i in order[: total - sum(parts)]:
        parts[i] += 1
    return parts


def usd(count_cents: int) -> Decimal:
    return Decimal(count_cents).scaleb(-2)


def per_million(cost: Decimal, count: int) -> Decimal | None:
    """cost x 10^6 / count, half even to 6 places."""
    if count <= 0:
        return None
    exact = Fraction(cost) * 10**6 / count * 10**6
    q, r = divmod(exact.numerator, exact.denominator)
    if 2 * r > exact.denominator or (2 * r == exact.denominator and q % 2):
        q += 1
    return Decimal(q).scaleb(-6)


def money_text(amount: Decimal | None) -> str:
    return "n/a" if amount is None else f"{amount:,.2f} USD"


def increase(row: dict[str, Any], start: int, end: int) -> float:
    """Prometheus' extrapolated increase of one series over (start, end] from its samples
    there: ``n``, first and last sample and time, and the reset correction."""
    n = row["n"]
    if n < 2:
        return 0.0  # Prometheus gives no sample: it adds nothing to a sum
    result = row["last"] - row["first"] + row["resets"]
    sampled = (row["last_ts"] - row["first_ts"]) / 1000
    average = sampled / (n - 1)
    to_start = (row["first_ts"] - start) / 1000
    to_end = (end - row["last_ts"]) / 1000
    if to_start >= average * 1.1:
        to_start = average / 2
    if result > 0 and row["first"] >= 0:
        to_start = min(to_start, sampled * (row["first"] / result))
    if to_end >= average * 1.1:
        to_end = average / 2
    return float(result * ((sampled + to_start + to_end) / sampled))


@dataclass(frozen=True)
class Slo:
    name: str
    service: str
    kind: str
    objective: float
    window: str
    threshold_s: float | None


@dataclass
class Work:
    input_tokens: int = 0
    output_tokens: int = 0
    slo_tokens: int | None = None
    energy: float | None = None

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens


@dataclass
class Bill:
    """A window's attribution: money per group (services, ``__idle__``, ``__shared__``),
    GPU and busy seconds per group, the work each service served."""

    money: dict[str, Decimal]
    seconds: dict[str, float]
    busy: dict[str, float]
    work: dict[str, Work]
    daily: dict[tuple[str, str], Decimal] = field(default_factory=dict)

    def total(self, groups: set[str] | None = None) -> Decimal:
        keys = self.money if groups is None else [g for g in self.money if g in groups]
        return sum((self.money[g] for g in keys), Decimal(0))


def _duration(text: str) -> float:
    units = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
    match = re.fullmatch(r"([\d.]+)(ms|s|m|h|d)", text)
    assert match, text
    return float(match[1]) * units[match[2]]


class LakeOracle:
    """The lake's Delta tables in one DuckDB connection, and the figures' definitions."""

    def __init__(self, workspace: Path, lake: Path) -> None:
        self.config = yaml.safe_load((workspace / "perfops.yaml").read_text())
        self.db = duckdb.connect()
        for table in ("samples", "series", "requests", "runs", "events"):
            self.db.register(table, DeltaTable(str(lake / table)).to_pyarrow_dataset())
        self.interval_ms = int(_duration(self.config["telemetry"]["interval"]) * 1000)
        self.services = {s["name"]: s for s in self.config["services"]}
        pricing = self.config["pricing"]
        self.prices = {p["gpu"]: Fraction(str(p["hourly"])) for p in pricing["gpus"]}
        self.energy_price = Fraction(str(pricing["energy_per_kwh"]))
        self.slos = [
            Slo(s["name"], s["service"], s["sli"]["kind"], float(s["objective"]),
                str(s["window"]),
                _duration(s["sli"]["threshold"]) if "threshold" in s["sli"] else None)
            for s in self.config["slos"]
        ]  # fmt: skip

    def sql(self, query: str, *params: Any) -> list[dict[str, Any]]:
        rel = self.db.execute(query, list(params))
        names = [d[0] for d in rel.description]
        return [dict(zip(names, row, strict=True)) for row in rel.fetchall()]

    # -- whose GPU, whose series --------------------------------------------------------------

    def gpu_owner(self, labels: dict[str, str]) -> str | None:
        for name, svc in self.services.items():
            matcher = re.fullmatch(r'\{(\w+)=~"(.*)"\}', svc["gpu_selector"])
            assert matcher, svc["gpu_selector"]
            if re.fullmatch(matcher[2], labels.get(matcher[1], "")):
                return name
        return None

    def engine_owner(self, labels: dict[str, str]) -> str | None:
        return next(
            (n for n, s in self.services.items() if labels.get("model_name") == s["model"]), None
        )

    def gpu_price(self, owner: str | None, model_name: str) -> Fraction:
        if owner is not None:
            return self.prices[self.services[owner]["gpu"]["type"]]
        return self.prices[next(t for needle, t in _MODEL_NAME_TYPES if needle in model_name)]

    # -- GPU time and money ----------------------------------------------------------------------

    def gpu_rows(self, lo: int, hi: int) -> list[GpuRow]:
        """Each GPU's presence in each hour of [lo, hi), with its owner and price."""
        h0, h1 = lo - lo % HOUR, -(-hi // HOUR) * HOUR
        rows = self.sql(
            """SELECT s.series_id, any_value(r.labels) AS labels,
                      s.ts // 3600000 * 3600000 AS hour, min(s.ts) AS first_ts,
                      max(s.ts) AS last_ts, count(*) AS n, avg(s.value) AS activity
               FROM samples s JOIN series r USING (series_id)
               WHERE s.metric = 'gpu.sm_active' AND s.ts >= ? AND s.ts < ?
               GROUP BY s.series_id, hour""",
            h0, h1,
        )  # fmt: skip
        out = []
        for r in rows:
            n = r["n"]
            step = (r["last_ts"] - r["first_ts"]) // (n - 1) if n > 1 else self.interval_ms
            start = max(r["hour"], r["first_ts"], lo)
            end = min(r["hour"] + HOUR, r["last_ts"] + step, hi)
            if end <= start:
                continue
            labels = dict(r["labels"])
            owner = self.gpu_owner(labels)
            out.append(GpuRow(owner or IDLE, start, end - start, min(1.0, max(0.0, r["activity"])),
                              self.gpu_price(owner, labels.get("modelName", ""))))  # fmt: skip
        return out

    def _shared(self) -> list[tuple[str, Fraction]]:
        """(split, amount per hour) of each shared cost."""
        items = []
        for item in self.config["pricing"].get("shared", []):
            assert not item.get("services"), "shared costs limited to services: not modelled"
            rate = (Fraction(str(item["monthly"])) / 730 if "monthly" in item
                    else Fraction(str(item["hourly"])))  # fmt: skip
            items.append((item.get("split", "weighted"), rate))
        return items

    def bill(self, lo: int, hi: int, *, daily: bool = False) -> Bill:
        """The attribution of [lo, hi) (by UTC day with ``daily``), and the work served."""
        rows = self.gpu_rows(lo, hi)
        origin, step = (lo - lo % DAY, DAY) if daily else (lo, hi - lo)
        buckets = list(range(origin, hi, step))
        gpu: dict[tuple[int, str], Fraction] = defaultdict(Fraction)
        seconds: dict[str, float] = defaultdict(float)
        busy: dict[str, float] = defaultdict(float)
        for row in rows:
            b = origin + (row.start - origin) // step * step
            gpu[(b, row.owner)] += row.price * row.ms / HOUR
            seconds[row.owner] += row.ms / 1000
            busy[row.owner] += 0.0 if row.owner == IDLE else row.ms * row.activity / 1000
        items = [
            (split, [rate * (min(b + step, hi) - max(b, lo)) / HOUR for b in buckets])
            for split, rate in self._shared()
        ]
        gpu_exact = sum(gpu.values(), Fraction(0))
        bill = cents(gpu_exact + sum((sum(a, Fraction(0)) for _, a in items), Fraction(0)))
        parts = largest_remainder(bill, [gpu_exact, *(sum(a, Fraction(0)) for _, a in items)])
        money: dict[tuple[int, str], int] = defaultdict(int)
        cells = sorted(gpu)
        for cell, got in zip(cells, largest_remainder(parts[0], [gpu[c] for c in cells]),
                             strict=True):  # fmt: skip
            money[cell] += got
        for (split, amounts), item_cents in zip(items, parts[1:], strict=True):
            weights = self._spread(split, buckets, amounts, gpu)
            keys = sorted(weights)
            for key, got in zip(keys, largest_remainder(item_cents, [weights[k] for k in keys]),
                                strict=True):  # fmt: skip
                money[key] += got
        total = defaultdict(int)
        for (_, group), amount in money.items():
            total[group] += amount
        day = {(_iso_day(b), g): usd(c) for (b, g), c in money.items()} if daily else {}
        return Bill({g: usd(c) for g, c in total.items()}, dict(seconds), dict(busy),
                    {name: self.work(name, lo, hi) for name in self.services}, day)  # fmt: skip

    @staticmethod
    def _spread(
        split: str, buckets: list[int], amounts: list[Fraction],
        gpu: dict[tuple[int, str], Fraction],
    ) -> dict[tuple[int, str], Fraction]:  # fmt: skip
        """Where a shared cost goes in each bucket: over the owners holding GPUs there by
        their GPU cost (weighted) or equally (even), else (none, or nobody) kept apart."""
        out: dict[tuple[int, str], Fraction] = {}
        for b, amount in zip(buckets, amounts, strict=True):
            owners = {o: c for (bb, o), c in gpu.items() if bb == b and o != IDLE}
            weights = {o: (c if split == "weighted" else Fraction(1)) for o, c in owners.items()}
            whole = sum(weights.values(), Fraction(0))
            if split == "none" or not whole:
                out[(b, SHARED)] = amount
                continue
            for owner, w in weights.items():
                out[(b, owner)] = amount * w / whole
        return out

    # -- work served ----------------------------------------------------------------------------

    def counter_increases(
        self, metric: str, lo: int, hi: int
    ) -> list[tuple[dict[str, str], float]]:
        """(labels, increase over (lo, hi]) of every series of ``metric``."""
        rows = self.sql(
            """WITH x AS (
                 SELECT series_id, ts, value,
                        lag(value) OVER (PARTITION BY series_id ORDER BY ts) AS prev
                 FROM samples WHERE metric = ? AND ts > ? AND ts <= ?)
               SELECT x.series_id, any_value(r.labels) AS labels, count(*) AS n,
                      min(x.ts) AS first_ts, max(x.ts) AS last_ts,
                      arg_min(x.value, x.ts) AS first, arg_max(x.value, x.ts) AS last,
                      coalesce(sum(x.prev) FILTER (WHERE x.value < x.prev), 0) AS resets
               FROM x JOIN series r USING (series_id) GROUP BY x.series_id""",
            metric, lo, hi,
        )  # fmt: skip
        return [(dict(r["labels"]), increase(r, lo, hi)) for r in rows]

    def counter_by_service(self, metric: str, lo: int, hi: int) -> dict[str, float]:
        out: dict[str, float] = defaultdict(float)
        for labels, grew in self.counter_increases(metric, lo, hi):
            owner = self.engine_owner(labels) or self.gpu_owner(labels)
            if owner is not None:
                out[owner] += grew
        return out

    def request_slos(self, service: str) -> list[Slo]:
        return [s for s in self.slos if s.service == service and s.kind == "latency"]

    def records(self, service: str, lo_ns: int, hi_ns: int) -> dict[str, Any]:
        """Load-test requests of ``service`` scheduled in [lo_ns, hi_ns): count, good count,
        tokens, and the tokens of the good ones (good: no error and every request-based SLO
        of the service met)."""
        good = "error IS NULL"
        for slo in self.request_slos(service):
            ttft = "(first_token_ns - sent_ns) / 1e9"
            good += f" AND first_token_ns IS NOT NULL AND {ttft} <= {slo.threshold_s!r} + 1e-12"
        (row,) = self.sql(
            f"""SELECT count(*) AS n, count(*) FILTER (WHERE {good}) AS good,
                       coalesce(sum(prompt_tokens), 0) AS input,
                       coalesce(sum(output_tokens), 0) AS output,
                       coalesce(sum(prompt_tokens + output_tokens) FILTER (WHERE {good}), 0)
                         AS good_tokens
                FROM requests WHERE target = ? AND scheduled_ns >= ? AND scheduled_ns < ?""",
            self.services[service]["endpoint"], lo_ns, hi_ns,
        )  # fmt: skip
        return row

    def work(self, service: str, lo: int, hi: int) -> Work:
        """Tokens served in [lo, hi): the engine's counters when they hold at least the load
        tests' tokens, else the load-test records; the SLO-compliant share of the records."""
        tin = self.counter_by_service("llm.prompt_tokens_total", lo, hi).get(service, 0.0)
        tout = self.counter_by_service("llm.generation_tokens_total", lo, hi).get(service, 0.0)
        rec = self.records(service, lo * 1_000_000, hi * 1_000_000)
        rec_tokens = rec["input"] + rec["output"]
        if tin + tout >= rec_tokens > 0 or (tin + tout > 0 and not rec["n"]):
            inp, outp = round(tin), round(tout)
        else:
            inp, outp = rec["input"], rec["output"]
        slo_tokens = None
        if rec["n"] and rec_tokens:
            slo_tokens = min(inp + outp, round((inp + outp) * (rec["good_tokens"] / rec_tokens)))
        energy = self.counter_by_service("gpu.energy_joules_total", lo, hi).get(service)
        return Work(inp, outp, slo_tokens, energy or None)

    def energy_cost(self, joules: float | None) -> Decimal | None:
        if joules is None:
            return None
        return usd(cents(self.energy_price * Fraction(joules) / 3_600_000))

    # -- SLOs -----------------------------------------------------------------------------------

    def slo_counts(self, slo: Slo, lo: int, hi: int) -> tuple[float, float]:
        """(good, total) events of ``slo`` in (lo, hi]."""
        svc = self.services[slo.service]
        if slo.kind == "latency":
            rec = self.records(slo.service, lo * 1_000_000 + 1, hi * 1_000_000 + 1)
            return float(rec["good"]), float(rec["n"])
        assert slo.kind == "availability", slo
        good = total = 0.0
        for labels, grew in self.counter_increases("llm.requests_total", lo, hi):
            if labels.get("model_name") == svc["model"]:
                total += grew
                good += grew if labels.get("outcome") in _GOOD_OUTCOMES else 0.0
        return good, total

    def slo_period(self, slo: Slo, end: int) -> int:
        """Start of the SLO's period ending at ``end``: rolling, or the calendar week/month."""
        if slo.window in ("week", "month"):
            now = dt.datetime.fromtimestamp(end / 1000, dt.UTC)
            day = now.replace(hour=0, minute=0, second=0, microsecond=0)
            start = day - dt.timedelta(days=now.weekday()) if slo.window == "week" else (
                day.replace(day=1))  # fmt: skip
            return int(start.timestamp() * 1000)
        return end - int(_duration(slo.window) * 1000)

    def budget_left_pct(self, slo: Slo, end: int) -> tuple[float, float]:
        """Budget left (%) at ``end`` over the SLO's period, and the period's events."""
        good, total = self.slo_counts(slo, self.slo_period(slo, end), end)
        return 100.0 * (1 - ((total - good) / total) / (1 - slo.objective / 100)), total

    # -- incidents and runs ---------------------------------------------------------------------

    def incidents(self) -> list[Incident]:
        """Each incident's first row (opened), its state at its last row, and when it was
        resolved when it still is."""
        rows = self.sql("SELECT run_id, ts_ns, data FROM events WHERE kind = 'incident' "
                        "ORDER BY run_id, ts_ns")  # fmt: skip
        by_id: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for r in rows:
            by_id[r["run_id"]].append({**json.loads(r["data"]), "ts": r["ts_ns"]})
        out = []
        for inc_id, changes in by_id.items():
            last = changes[-1]
            resolved = None
            if last["status"] in ("resolved", "closed"):
                resolved = next(c["ts"] for c in changes if c["status"] == "resolved")
            out.append(Incident(inc_id, changes[0]["ts"], resolved, last["severity"],
                                tuple(last["services"])))  # fmt: skip
        return out

    def period_incidents(self, lo: int, hi: int, services: set[str]) -> list[Incident]:
        return [
            i for i in self.incidents()
            if i.opened_ns < hi * 1_000_000
            and (i.resolved_ns is None or i.resolved_ns >= lo * 1_000_000)
            and services & set(i.services)
        ]  # fmt: skip

    def runs(self, kinds: tuple[str, ...], lo: int, hi: int) -> list[dict[str, Any]]:
        """The newest row of each run of ``kinds`` started in [lo, hi) ms."""
        marks = ", ".join("?" * len(kinds))
        return self.sql(
            f"""SELECT kind, status,
                       TRY_CAST(json_extract(summary, '$.time_to_detect_s') AS DOUBLE) AS ttd,
                       TRY_CAST(json_extract(summary, '$.time_to_restore_s') AS DOUBLE) AS ttr
                FROM runs WHERE kind IN ({marks}) AND started_ns >= ? AND started_ns < ?
                QUALIFY row_number() OVER (PARTITION BY run_id ORDER BY updated_ns DESC) = 1""",
            *kinds, lo * 1_000_000, hi * 1_000_000,
        )  # fmt: skip


@dataclass(frozen=True)
class GpuRow:
    owner: str
    start: int
    ms: int
    activity: float
    price: Fraction


@dataclass(frozen=True)
class Incident:
    incident_id: str
    opened_ns: int
    resolved_ns: int | None
    severity: str
    services: tuple[str, ...]


def _iso_day(ms: int) -> str:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).date().isoformat()
