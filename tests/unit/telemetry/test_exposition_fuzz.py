"""Property tests of the exposition parser: what an exporter writes reads back exactly, the fast
path and the careful scanner agree, and no input makes it fail other than with ExpositionError."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import FIXTURES

from perfops.telemetry import exposition
from perfops.telemetry.exposition import ExpositionError, parse, parse_labels

R = TypeVar("R")
FUZZ = settings(max_examples=250, deadline=None)
TRICKY = '"\\\n{},= #\t\r<é\u2028\x00'

metric_names = st.from_regex(r"[a-zA-Z_:][a-zA-Z0-9_:]{0,12}", fullmatch=True)
label_names = st.from_regex(r"[a-zA-Z_][a-zA-Z0-9_]{0,8}", fullmatch=True).filter(
    lambda name: name != "__name__"
)
texts = st.text(st.characters(exclude_categories=("Cs",)) | st.sampled_from(TRICKY), max_size=12)
label_sets = st.dictionaries(label_names, texts, max_size=3)
values = st.floats(allow_nan=True, allow_infinity=True)
timestamps = st.none() | st.integers(0, 2**42)


@dataclass(frozen=True)
class Style:
    """How loosely a 0.0.4 exporter writes a line (OpenMetrics allows only the tight form)."""

    comma: str = ","
    equals: str = "="
    trailing_comma: bool = False
    gap: str = " "


styles = st.builds(
    Style,
    comma=st.sampled_from([",", ", ", " , "]),
    equals=st.sampled_from(["=", " = "]),
    trailing_comma=st.booleans(),
    gap=st.sampled_from([" ", "\t", "  "]),
)


@dataclass(frozen=True)
class Family:
    name: str
    help: str
    series: tuple[tuple[dict[str, str], float, int | None], ...]


families = st.lists(
    st.builds(
        Family,
        name=metric_names,
        help=texts,
        series=st.lists(
            st.tuples(label_sets, values, timestamps),
            min_size=1,
            max_size=3,
            unique_by=lambda s: frozenset(s[0].items()),
        ).map(tuple),
    ),
    max_size=3,
    unique_by=lambda f: f.name,
)


def escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def sample_line(name: str, labels: dict[str, str], value: float, ts: int | None, *, om: bool,
                style: Style) -> str:  # fmt: skip
    pairs = style.comma.join(f'{k}{style.equals}"{escape(v)}"' for k, v in labels.items())
    if labels and style.trailing_comma:
        pairs += ","
    line = f"{name}{{{pairs}}}" if labels else name
    line += style.gap + repr(value)
    if ts is not None:
        line += style.gap + (f"{ts // 1000}.{ts % 1000:03d}" if om else str(ts))
    return line


def render(fams: list[Family], *, om: bool, style: Style) -> str:
    lines = []
    for family in fams:
        help_text = family.help.replace("\\", "\\\\").replace("\n", "\\n")
        if om:
            help_text = help_text.replace('"', '\\"')
        lines += [f"# HELP {family.name} {help_text}", f"# TYPE {family.name} gauge"]
        lines += [sample_line(family.name, *s, om=om, style=style) for s in family.series]
    return "\n".join([*lines, "# EOF"] if om else lines) + "\n"


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def check_round_trip(fams: list[Family], text: str, *, om: bool) -> None:
    exp = parse(text)
    assert exp.openmetrics == om
    expected = [(f.name, labels, v, ts) for f in fams for labels, v, ts in f.series]
    got = list(zip(exp.names, exp.label_texts, exp.values, exp.timestamps_ms, strict=True))
    assert len(got) == len(expected)
    for (name, text_, value, ts), (e_name, e_labels, e_value, e_ts) in zip(
        got, expected, strict=True
    ):
        assert (name, parse_labels(text_), ts) == (e_name, e_labels, e_ts)
        assert same(value, e_value)
    for family in fams:
        assert exp.families[family.name].help == family.help
        assert exp.family_of(family.name) is exp.families[family.name]


@FUZZ
@given(families, styles)
def test_text_format_round_trip_and_prometheus_client_agrees(
    fams: list[Family], style: Style
) -> None:
    text = render(fams, om=False, style=style)
    check_round_trip(fams, text, om=False)
    if style == Style():  # prometheus_client's parser reads the tight form the same way
        theirs = [s for m in text_string_to_metric_families(text) for s in m.samples]
        exp = parse(text)
        assert [s.labels for s in theirs] == [parse_labels(t) for t in exp.label_texts]
        assert all(same(float(s.value), v) for s, v in zip(theirs, exp.values, strict=True))


@FUZZ
@given(families)
def test_openmetrics_round_trip(fams: list[Family]) -> None:
    check_round_trip(fams, render(fams, om=True, style=Style()), om=True)


@FUZZ
@given(metric_names, label_sets, values, timestamps, styles, st.booleans(), st.data())
def test_the_fast_path_and_the_scanner_agree(
    name: str, labels: dict[str, str], value: float, ts: int | None, style: Style, om: bool,
    data: st.DataObject,
) -> None:  # fmt: skip
    line = sample_line(name, labels, value, ts, om=om, style=Style() if om else style)
    if data.draw(st.booleans()):  # break it somewhere
        at = data.draw(st.integers(0, len(line)))
        line = line[:at] + data.draw(st.sampled_from(TRICKY + "a1.:")) + line[at + 1 :]
    fast = exposition._FAST[om].fullmatch(line)
    try:
        slow = exposition._scan_sample(line, om)
    except exposition._LineError:
        if fast is not None and fast.group(4) is not None:  # the fast path converts it too
            with pytest.raises(exposition._LineError):
                exposition._timestamp(fast.group(4), 1, om)
            return
        assert fast is None, f"the fast path accepts what the scanner rejects: {line!r}"
        return
    if fast is not None:
        f_name, f_text, f_raw, f_ts = fast.groups()
        f_ms = None if f_ts is None else exposition._timestamp(f_ts, 1, om)
        assert slow[:2] == (f_name, f_text or "")
        assert same(slow[2], float(f_raw))
        assert slow[3] == f_ms


SEEDS = [
    "\n".join((FIXTURES / "dcgm-l4-single-gpu-kops.prom").read_text().splitlines()[:9]),
    "\n".join((FIXTURES / "vllm-v1-qwen2.5-0.5b-idle-kops.prom").read_text().splitlines()[
        50:70]),
    '# TYPE h histogram\n# UNIT h seconds\nh_bucket{le="1"} 2 # {t="a"} 0.5 1.5\nh_count 2 1.5\n'
    "h_sum 1\n# TYPE c counter\nc_total 1\nc_created 1.7e9\n# EOF\n",
]  # fmt: skip


@FUZZ
@given(
    st.sampled_from(SEEDS),
    st.lists(st.tuples(st.integers(0, 10**5), st.sampled_from(["insert", "replace", "delete"]),
                       st.sampled_from(TRICKY + "aZ09._:-+e")), max_size=5),
    st.sampled_from([None, True, False]),
)  # fmt: skip
def test_broken_exposition_fails_cleanly(
    seed: str, edits: list[tuple[int, str, str]], om: bool | None
) -> None:
    text = seed
    for at, op, char in edits:
        at %= len(text) + 1
        text = text[:at] + ("" if op == "delete" else char) + text[at + (op != "insert") :]
    assert_clean(text, om)


@FUZZ
@given(st.text(max_size=200) | st.binary(max_size=200), st.sampled_from([None, True, False]))
def test_arbitrary_input_fails_cleanly(data: str | bytes, om: bool | None) -> None:
    assert_clean(data, om)


@FUZZ
@given(st.text(st.sampled_from(TRICKY + 'ab_:1"'), max_size=30))
def test_parse_labels_fails_cleanly(text: str) -> None:
    result = outcome(lambda: parse_labels(text))
    if isinstance(result, ExpositionError):
        assert result.line == 0
        assert 1 <= result.column <= len(text) + 2
    else:
        assert all(isinstance(v, str) for v in result.values())


def outcome(call: Callable[[], R]) -> R | ExpositionError:
    try:
        return call()
    except ExpositionError as err:
        return err


def assert_clean(data: str | bytes, om: bool | None) -> None:
    """Parsing either succeeds with consistent columns or raises a located ExpositionError."""
    result = outcome(lambda: parse(data, openmetrics=om))
    if isinstance(result, ExpositionError):
        text = data if isinstance(data, str) else data.decode(errors="replace")
        assert 1 <= result.line <= text.count("\n") + 2
        assert result.column >= 1
        assert result.hint
    else:
        assert len(result.names) == len(result.label_texts) == len(result.values) == len(result)
        assert len(result.timestamps_ms) == len(result)
        for text in result.label_texts:
            parse_labels(text)  # every label text parse returns can be read


@FUZZ
@given(
    families,
    st.lists(
        st.text(st.sampled_from("0123456789.eE+-_xINnafi"), max_size=8), min_size=1, max_size=6
    ),
)
def test_a_warm_line_cache_changes_no_answer(fams: list[Family], tails: list[str]) -> None:
    """Re-scraping with new (possibly invalid) values gives exactly what a cold parse gives."""
    text = render(fams, om=False, style=Style())
    cache = exposition.LineCache()
    if isinstance(outcome(lambda: parse(text, line_cache=cache)), ExpositionError):
        return
    lines = text.split("\n")
    for i, tail in enumerate(tails):
        j = i % len(lines)
        if lines[j] and not lines[j].startswith("#"):
            lines[j] = lines[j].rpartition(" ")[0] + " " + tail
    again = "\n".join(lines)
    cold, warm = outcome(lambda: parse(again)), outcome(lambda: parse(again, line_cache=cache))
    if isinstance(cold, ExpositionError):
        assert isinstance(warm, ExpositionError)
        assert (warm.line, warm.column, str(warm)) == (cold.line, cold.column, str(cold))
    else:
        assert not isinstance(warm, ExpositionError)
        assert (warm.names, warm.label_texts, warm.timestamps_ms) == (
            cold.names,
            cold.label_texts,
            cold.timestamps_ms,
        )
        assert all(same(a, b) for a, b in zip(warm.values, cold.values, strict=True))
