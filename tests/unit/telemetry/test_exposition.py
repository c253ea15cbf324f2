"""The exposition parser: real exporter output, every error a user can meet, both formats."""

from __future__ import annotations

import math
from collections.abc import Iterable
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, Enum, Gauge, Histogram, Info, Summary
from prometheus_client.metrics_core import Metric
from prometheus_client.openmetrics.exposition import generate_latest as generate_openmetrics
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from tests.conftest import FIXTURES

from perfops.telemetry.exposition import (
    Exposition,
    ExpositionError,
    content_type_is_openmetrics,
    parse,
    parse_labels,
)

PROM_FILES = sorted(FIXTURES.glob("*.prom"))
Row = tuple[str, dict[str, str], float, int | None]


def ours(exp: Exposition) -> list[Row]:
    rows = zip(exp.names, exp.label_texts, exp.values, exp.timestamps_ms, strict=True)
    return [(name, parse_labels(text), value, ts) for name, text, value, ts in rows]


def oracle(families: Iterable[Metric]) -> list[tuple[Row, str]]:
    """prometheus_client's samples in file order, each with its family's type."""
    out = []
    for family in families:
        for s in family.samples:
            ts = s.timestamp
            ms = None if ts is None else round(float(ts) * 1000)  # float or Timestamp
            out.append(((s.name, s.labels, float(s.value), ms), family.type))
    return out


def same_value(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or a == b


def assert_agree(exp: Exposition, expected: list[tuple[Row, str]]) -> None:
    got = ours(exp)
    assert len(got) == len(expected)
    for (name, labels, value, ts), ((o_name, o_labels, o_value, o_ts), o_type) in zip(
        got, expected, strict=True
    ):
        # prometheus_client's 0.0.4 parser appends _total to counter samples written without it
        assert o_name in (name, name + "_total"), (name, o_name)
        assert (labels, ts) == (o_labels, o_ts), name
        assert same_value(value, o_value), (name, value, o_value)
        family = exp.family_of(name)
        kind = family.type if family else "unknown"
        assert {"untyped": "unknown"}.get(kind, kind) == o_type, name  # their name for untyped


# --- real exporter output ----------------------------------------------------------------------


@pytest.mark.parametrize("path", PROM_FILES, ids=lambda p: p.name)
def test_every_fixture_agrees_with_prometheus_client(path: Path) -> None:
    text = path.read_text()
    exp = parse(text)
    assert not exp.openmetrics
    assert len(exp) > 0
    assert_agree(exp, oracle(text_string_to_metric_families(text)))
    again = parse(text.encode())  # bytes in, the same out
    assert (again.names, again.label_texts, again.families) == (
        exp.names,
        exp.label_texts,
        exp.families,
    )
    assert all(map(same_value, again.values, exp.values))


def test_fixture_families_keep_help_and_type() -> None:
    exp = parse((FIXTURES / "vllm-v1-qwen2.5-0.5b-idle-kops.prom").read_text())
    ttft = exp.families["vllm:time_to_first_token_seconds"]
    assert ttft.type == "histogram"
    assert ttft.help.startswith("Histogram of time to first token in seconds")
    assert exp.family_of("vllm:time_to_first_token_seconds_bucket") is ttft
    assert exp.family_of("vllm:time_to_first_token_seconds_count") is ttft
    created = exp.family_of("vllm:time_to_first_token_seconds_created")
    assert created is not None
    assert created.type == "gauge"  # its own family in 0.0.4
    # the source ends with a TYPE line and no samples: the family exists, empty
    assert exp.families["http_request_duration_seconds"].type == "histogram"


def test_fixture_label_texts_are_raw_series_keys() -> None:
    text = (FIXTURES / "dcgm-t4x2-gke-k8s-labels-excerpt.prom").read_text()
    exp = parse(text)
    for name, label_text in zip(exp.names, exp.label_texts, strict=True):
        assert f"{name}{{{label_text}}} " in text
    assert len(set(zip(exp.names, exp.label_texts, strict=True))) == len(exp)


def test_generated_openmetrics_agrees_with_prometheus_client() -> None:
    registry = CollectorRegistry()
    Counter("req", "Requests.", ["code"], registry=registry).labels("200").inc(3)
    Gauge("temp", 'Temperature "now".\nTwo lines.', unit="celsius", registry=registry).set(-1.5)
    h = Histogram("lat_seconds", "Latency.", buckets=(0.1, 1.0), registry=registry)
    h.observe(0.05, exemplar={"trace_id": "abc"})
    h.observe(5)
    Summary("size_bytes", "Size.", registry=registry).observe(10)
    Info("build", "Build info.", registry=registry).info({"version": '1.0 "beta"'})
    Enum("state", "State.", states=["a", "b"], registry=registry).state("b")
    text = generate_openmetrics(registry).decode()
    exp = parse(text)
    assert exp.openmetrics
    assert_agree(exp, oracle(openmetrics_families(text)))
    assert exp.family_of("req_total") is exp.families["req"]
    assert exp.family_of("req_created") is exp.families["req"]
    assert exp.family_of("build_info") is exp.families["build"]
    assert exp.families["state"].type == "stateset"
    assert exp.families["temp_celsius"].help == 'Temperature "now".\nTwo lines.'
    assert exp.families["temp_celsius"].unit == "celsius"


# --- strictness: every error kind, where it is and what it says -------------------------------

ERRORS = [
    # (text, openmetrics, line, column, message)
    ('x{a="1"}', None, 1, 9, "missing value"),
    ("up 1\nx", None, 2, 2, "missing value"),
    ('x{a="1"', None, 1, 8, "unterminated label set: the '{' at column 2 has no closing '}'"),
    ('x{a="b\\q"} 1', None, 1, 7, "invalid escape \\q in label value"),
    ('x{a="b} 1', None, 1, 5, "unterminated label value: no closing '\"'"),
    ('x{a="b\\', None, 1, 5, "unterminated label value"),
    ("1x 1", None, 1, 1, "invalid metric name '1x'"),
    ("x-y 1", None, 1, 2, "invalid character '-' in metric name 'x-y'"),
    ('x{a:b="1"} 1', None, 1, 3, "invalid label name 'a:b' (label names may not contain ':')"),
    ('x{1a="1"} 1', None, 1, 3, "invalid label name '1a'"),
    ('x{"a"="1"} 1', None, 1, 3, "quoted (UTF-8) label names are not supported"),
    ('x{a=1} 1', None, 1, 5, "expected a quoted value after 'a=', found '1'"),
    ('x{a="1" b="2"} 1', None, 1, 9, "expected ',' or '}' after a label value, found 'b'"),
    ('x{a="1"}1', None, 1, 9, "expected a space before the value, found '1'"),
    ('x{a="1",b="2",a="3"} 1', None, 1, 15, "duplicate label name 'a'"),
    ('x{__name__="y"} 1', None, 1, 3, "reserved label name '__name__'"),
    ('x{a="1",b="2"} 1\nx{b="2",a="1"} 2', None, 2, 1,
     "duplicate series x (the same name and labels are on line 1)"),
    ("x 1\n# HELP x\nx 2", None, 3, 1, "duplicate series x (the same name and labels are on"),
    ("x 1\n# EOF\ny 2\n", None, 3, 1, "sample or other text after '# EOF'"),
    ("# TYPE x gauge\n# TYPE x gauge\nx 1", None, 2, 8,
     "second TYPE line for x (the first is on line 1)"),
    ("# HELP x a\n# HELP x b", None, 2, 8, "second HELP line for x (the first is on line 1)"),
    ("x 1\n# TYPE x gauge", None, 2, 8,
     "TYPE line for x comes after its samples (the first is on line 1)"),
    ('x_bucket{le="1"} 1\n# TYPE x histogram', None, 2, 8, "TYPE line for x comes after"),
    ("# TYPE x foo", None, 1, 10, "unknown metric type 'foo'"),
    ("# TYPE x", None, 1, 9, "TYPE line ends after the metric name"),
    ("# HELP x-y z", None, 1, 8, "invalid metric name 'x-y' in HELP line"),
    ("x abc", None, 1, 3, "invalid value 'abc': not a number"),
    ("x 0x1p-2", None, 1, 3, "invalid value '0x1p-2'"),  # Prometheus bans p and _ in floats
    ("x 1_000", None, 1, 3, "invalid value '1_000'"),
    ("x +nan", None, 1, 3, "invalid value '+nan'"),  # Go's ParseFloat takes no sign on NaN
    ("x ١", None, 1, 3, "invalid value '١'"),  # Python's float() would take Arabic digits
    ("x 1e999", None, 1, 3, "value '1e999' is out of range for a 64-bit float"),
    ("x 1 1.5", None, 1, 5, "invalid timestamp '1.5'"),
    ("x 1 -5", None, 1, 5, "invalid timestamp '-5'"),
    ("x 1 99999999999999999999", None, 1, 5, "timestamp '99999999999999999999' is out of range"),
    ("x 1 2 3", None, 1, 7, "unexpected '3' after the timestamp"),
    ("<!DOCTYPE html>\n<html>", None, 1, 1,
     "looks like HTML, not Prometheus exposition — is the URL the /metrics endpoint?"),
    ("\n\n  <html><body>Not Found</body></html>", None, 3, 3, "looks like HTML"),
    ('{"status":"error","error":"not found"}', None, 1, 1, "looks like JSON"),
    ('{"x"} 1', None, 1, 1, "metric name missing"),
    ("up 1\nhello world", None, 2, 7, "invalid value 'world': not a number"),
    ("\ufeffx 1", None, 1, 1, "the text starts with a byte-order mark (U+FEFF)"),
    ("x\ud800 1", None, 1, 2, "invalid UTF-8 text (a lone surrogate)"),
    ("x 1\n", True, 2, 1, "missing '# EOF' at the end of OpenMetrics text"),
    ("x 1\n# EOF\n\n", True, 3, 1, "sample or other text after '# EOF'"),
    ("x 1\n\n# EOF\n", True, 2, 1, "blank line"),
    ("# a comment\nx 1\n# EOF\n", True, 1, 1, "unexpected comment '# a comment'"),
    ("# TYPE x untyped\n# EOF\n", True, 1, 10, "unknown metric type 'untyped'"),
    ("# HELP x\n# EOF\n", True, 1, 9, "HELP line ends after the metric name"),
    ('x{a="1",} 1\n# EOF\n', True, 1, 8, "comma before '}'"),
    ('x{a = "1"} 1\n# EOF\n', True, 1, 4, "expected '=' after label name 'a', found ' '"),
    ("x  1\n# EOF\n", True, 1, 3, "more than one space before the value"),
    ("x\t1\n# EOF\n", True, 1, 2, "expected a space before the value, found '\\t'"),
    (" x 1\n# EOF\n", True, 1, 1, "whitespace at the start of the line"),
    ("x 1\n# HELP x later\n# EOF\n", True, 2, 8, "HELP line for x comes after its samples"),
    ("x 1 NaN\n# EOF\n", True, 1, 5, "invalid timestamp 'NaN'"),
    ("x 1 1e400\n# EOF\n", True, 1, 5, "timestamp '1e400' is out of range"),
    ("x_total 1 # trace\n# EOF\n", True, 1, 13, "expected '{' after ' # ' to open an exemplar"),
    ('x_total 1 # {a="1"}\n# EOF\n', True, 1, 20, "missing exemplar value"),
    ('x_total 1 # {a="1"} 1 2 3\n# EOF\n', True, 1, 24, "unexpected ' 3' after the sample"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "om", "line", "column", "message"), ERRORS)
def test_errors_name_line_column_and_fix(
    text: str, om: bool | None, line: int, column: int, message: str
) -> None:
    with pytest.raises(ExpositionError) as info:
        parse(text, openmetrics=om)
    err = info.value
    assert (err.line, err.column) == (line, column), str(err)
    assert str(err).startswith(f"line {line}, column {column}: {message}")
    assert err.hint, "every error says how to fix it"
    assert err.exit_code == 1


def test_invalid_utf8_bytes_are_located() -> None:
    with pytest.raises(ExpositionError) as info:
        parse(b'up 1\nx{a="caf\xc3\xa9\xff"} 1')
    assert (info.value.line, info.value.column) == (2, 10)
    assert "invalid UTF-8 byte 0xff" in str(info.value)


def test_crlf_line_endings_get_their_own_hint() -> None:
    with pytest.raises(ExpositionError, match=r"line 1, column 3: invalid value '1\\r'") as info:
        parse(b"x 1\r\ny 2\r\n")
    assert (
        info.value.hint == "the line ends with a carriage return: use \\n line endings, not \\r\\n"
    )


def test_the_excerpt_shows_the_bad_line() -> None:
    long = "x{" + ",".join(f'l{i}="{i}"' for i in range(30)) + ',bad:name="1"} 1'
    with pytest.raises(ExpositionError) as info:
        parse(f"up 1\n{long}")
    err = info.value
    assert "bad:name" in err.excerpt
    assert len(err.excerpt) <= 82  # a window around the column, with ellipses


def test_the_first_bad_line_is_reported() -> None:
    with pytest.raises(ExpositionError) as info:
        parse('x{a="1"} 1\nx{a="1"} 2\ngarbage here\n')
    assert info.value.line == 2  # the duplicate comes before the garbage


def test_label_text_over_the_limit() -> None:
    with pytest.raises(ExpositionError) as info:
        parse('x{a="12345678901"} 1', max_label_bytes=10)
    assert (info.value.line, info.value.column) == (1, 3)
    assert "label set is 15 bytes, over the limit of 10" in str(info.value)
    assert "raise max_label_bytes" in str(info.value)
    assert len(parse('x{a="éé"} 1', max_label_bytes=8)) == 1  # 6 characters, 8 bytes
    with pytest.raises(ExpositionError, match="label set is 10 bytes"):
        parse('x{a="ééé"} 1', max_label_bytes=8)


# --- what is accepted ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "value"),
    [("1", 1.0), ("-2.5", -2.5), ("1e3", 1000.0), ("1E+3", 1000.0), (".5", 0.5), ("1.", 1.0),
     ("+7", 7.0), ("-0", -0.0), ("+Inf", math.inf), ("-Inf", -math.inf), ("Inf", math.inf),
     ("inf", math.inf), ("-infinity", -math.inf), ("4.9e-324", 5e-324), ("1e-400", 0.0),
     ("1.7976931348623157e308", 1.7976931348623157e308)],
)  # fmt: skip
def test_values_are_what_go_parsefloat_accepts(raw: str, value: float) -> None:
    assert parse(f"x {raw}").values == [value]
    assert parse(f"x {raw}\n# EOF\n").values == [value]


@pytest.mark.parametrize("raw", ["NaN", "nan", "NAN"])
def test_nan_values(raw: str) -> None:
    assert math.isnan(parse(f"x {raw}").values[0])


def test_text_format_allows_blanks_comments_and_loose_whitespace() -> None:
    text = (
        "\n# just a comment\n#HELP not metadata\n# UNIT x_seconds seconds\n"
        '  x_seconds { a = "1" , b="2", } \t 3  1700000000123 \n'
        "\n\t\n# TYPE y counter\ny 1\n"
    )
    exp = parse(text)
    assert ours(exp) == [
        ("x_seconds", {"a": "1", "b": "2"}, 3.0, 1700000000123),
        ("y", {}, 1, None),
    ]
    assert exp.label_texts[0] == ' a = "1" , b="2", '  # exactly as written
    assert "x_seconds" not in exp.families  # UNIT is only a comment in 0.0.4
    assert exp.family_of("y") is exp.families["y"]


def test_series_identity_ignores_label_order_and_whitespace() -> None:
    assert len(parse('x{a="1",b="2"} 1\nx{a="1",b="3"} 2\ny{b="2",a="1"} 3\nx{} 4')) == 4
    with pytest.raises(ExpositionError, match="duplicate series x"):
        parse('x{a="1", b="2"} 1\nx{ b="2",a="1" ,} 2')
    with pytest.raises(ExpositionError, match="duplicate series x"):
        parse("x{} 1\nx 2")


def test_escapes_in_label_values_and_help() -> None:
    exp = parse('# HELP x a\\\\b\\nc \\q\nx{p="C:\\\\dir",q="say \\"hi\\"",r="1\\n2"} 1')
    assert parse_labels(exp.label_texts[0]) == {"p": "C:\\dir", "q": 'say "hi"', "r": "1\n2"}
    assert exp.families["x"].help == "a\\b\nc \\q"  # Prometheus keeps unknown HELP escapes


def test_metric_names_may_have_colons() -> None:
    exp = parse('vllm:num_requests_running{model_name="m"} 0\n:x 1\n_y 2')
    assert exp.names == ["vllm:num_requests_running", ":x", "_y"]


# --- OpenMetrics vs 0.0.4 --------------------------------------------------------------------


def test_timestamps_are_ms_in_text_format_and_seconds_in_openmetrics() -> None:
    assert parse("x 1 1700000000123").timestamps_ms == [1700000000123]
    om = "a 1 1700000000.123\nb 1 1700000000\nc 1 1.7e9\nd 1 -0.5\ne 1 0.0009\n# EOF\n"
    assert parse(om).timestamps_ms == [1700000000123, 1700000000000, 1700000000000, -500, 0]
    assert parse("x 1\n# EOF").timestamps_ms == [None]


def test_eof_detection_and_content_type() -> None:
    assert parse("x 1\n# EOF\n").openmetrics
    assert parse("x 1\n# EOF").openmetrics  # no final newline after EOF
    assert not parse("x 1\n").openmetrics
    assert not parse("x 1\n# EOF", openmetrics=False).openmetrics  # a comment in 0.0.4
    assert content_type_is_openmetrics("application/openmetrics-text; version=1.0.0; charset=utf-8")
    assert content_type_is_openmetrics("Application/OpenMetrics-Text")
    assert not content_type_is_openmetrics("text/plain; version=0.0.4; charset=utf-8")
    assert not content_type_is_openmetrics(None)
    assert not content_type_is_openmetrics("")


def test_counter_families_drop_total_in_openmetrics_only() -> None:
    om = parse("# TYPE x counter\n# HELP x Things.\nx_total 1\nx_created 1.7e9\n# EOF\n")
    assert list(om.families) == ["x"]
    assert om.names == ["x_total", "x_created"]  # _created kept as a sample
    assert om.family_of("x_total") is om.family_of("x_created") is om.families["x"]
    assert om.family_of("x") is None
    text = parse("# TYPE x_total counter\nx_total 1\n")
    assert text.family_of("x_total") is text.families["x_total"]
    assert parse("# TYPE x counter\nx_total 1").family_of("x_total") is None


def test_openmetrics_exemplars_are_checked_then_dropped() -> None:
    om = (
        "# TYPE h histogram\n"
        'h_bucket{le="1"} 2 # {trace_id="a b"} 0.5 1700000000.5\n'
        'h_bucket{le="+Inf"} 3 1700000001 # {trace_id="c"} 4\n'
        "h_count 3\nh_sum 4.5\n# EOF\n"
    )
    exp = parse(om)
    assert exp.values == [2, 3, 3, 4.5]
    assert exp.timestamps_ms == [None, 1700000001000, None, None]
    with pytest.raises(ExpositionError, match="invalid timestamp '#'"):
        parse(om.replace("# EOF\n", ""), openmetrics=False)  # no exemplars in 0.0.4


def test_openmetrics_unit_and_types() -> None:
    exp = parse(
        "# TYPE req_seconds histogram\n# UNIT req_seconds seconds\n# HELP req_seconds Time.\n"
        "# TYPE q gaugehistogram\n# TYPE s stateset\n# TYPE i info\n# TYPE u unknown\n# EOF\n"
    )
    assert exp.families["req_seconds"].unit == "seconds"
    assert exp.families["req_seconds"].help == "Time."
    assert {f.type for f in exp.families.values()} == {
        "histogram", "gaugehistogram", "stateset", "info", "unknown"
    }  # fmt: skip
    assert parse("# HELP x Only help.\n# EOF\n").families["x"].type == "unknown"
    assert parse("# HELP x Only help.\n").families["x"].type == "untyped"


def test_family_of_uses_the_format_suffix_rules() -> None:
    om = parse("# TYPE g gaugehistogram\ng_gcount 1\ng_gsum 2\n# TYPE i info\ni_info 1\n# EOF\n")
    assert om.family_of("g_gcount") is om.family_of("g_gsum") is om.families["g"]
    assert om.family_of("i_info") is om.families["i"]
    text = parse("# TYPE s summary\ns 1\ns_sum 2\ns_count 3\n# TYPE g gauge\ng 1\n")
    assert text.family_of("s") is text.family_of("s_count") is text.families["s"]
    assert text.family_of("g_sum") is None
    assert text.family_of("s_created") is None  # 0.0.4 has no _created rule
    assert text.family_of("nope") is None


# --- parse_labels ----------------------------------------------------------------------------


def test_parse_labels() -> None:
    assert parse_labels("") == {}
    assert parse_labels('a="1",b="x\\"y\\\\z\\n",') == {"a": "1", "b": 'x"y\\z\n'}
    assert parse_labels(' a = "1" ') == {"a": "1"}
    assert parse_labels('a="{},=\\"",b=""') == {"a": '{},="', "b": ""}


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [('a="1",a="2"', 7, "duplicate label name 'a'"), ('a="1"} b', 6, "unexpected '}'"),
     ('a="\\x"', 4, "invalid escape \\x"), ('a="1', 3, "unterminated label value"),
     ('a:b="1"', 1, "invalid label name 'a:b'")],
)  # fmt: skip
def test_parse_labels_errors_are_at_line_0(text: str, column: int, message: str) -> None:
    with pytest.raises(ExpositionError) as info:
        parse_labels(text)
    assert (info.value.line, info.value.column) == (0, column)
    assert str(info.value).startswith(f"label text, column {column}: {message}")


# --- size ------------------------------------------------------------------------------------


def test_a_100000_series_flood_parses_and_a_lower_limit_stops_it() -> None:
    flood = "# TYPE flood gauge\n" + "".join(
        f'flood{{pod="p{i}",gpu="{i % 8}"}} {i}\n' for i in range(100_000)
    )
    exp = parse(flood)
    assert len(exp) == 100_000
    assert exp.values[-1] == 99_999
    with pytest.raises(ExpositionError) as info:
        parse(flood, max_samples=50_000)
    assert (info.value.line, info.value.column) == (50_002, 1)
    assert "more than 50,000 samples in one scrape" in str(info.value)
    assert "max_samples=50000" in str(info.value)


# -- the line cache: repeat scrapes of a target skip the full match, never the checks --------


def _same(a: Exposition, b: Exposition) -> bool:
    return (a.names, a.label_texts, a.timestamps_ms) == (
        b.names,
        b.label_texts,
        b.timestamps_ms,
    ) and all(
        x == y or (math.isnan(x) and math.isnan(y)) for x, y in zip(a.values, b.values, strict=True)
    )


def test_line_cache_gives_the_same_answers_on_repeat_scrapes() -> None:
    from perfops.telemetry.exposition import LineCache

    cache = LineCache()
    base = '# TYPE x gauge\nx{a="1"} 1\nx{a="2"} 2\ny 3 1700000000000\n'
    first = parse(base, line_cache=cache)
    assert len(cache) == 2  # the timestamped line is not cached
    for values in (("5", "6"), ("NaN", "+Inf"), ("-Inf", "1e3"), (".5", "7")):
        text = base.replace(" 1\n", f" {values[0]}\n", 1).replace(" 2\n", f" {values[1]}\n", 1)
        assert _same(parse(text, line_cache=cache), parse(text))
    assert _same(first, parse(base))


@pytest.mark.parametrize("value", ["abc", "1_000", "inf", "nan", "1e999", "0x10", ""])
def test_line_cache_never_skips_value_checks(value: str) -> None:
    from perfops.telemetry.exposition import LineCache

    cache = LineCache()
    parse('x{a="1"} 1\n', line_cache=cache)
    text = f'x{{a="1"}} {value}\n'

    def attempt(**kw: object) -> Exposition | str:
        try:
            return parse(text, **kw)  # type: ignore[arg-type]
        except ExpositionError as exc:
            return str(exc)

    cold, warm = attempt(), attempt(line_cache=cache)
    if isinstance(cold, str):
        assert warm == cold
    else:
        assert not isinstance(warm, str)
        assert _same(warm, cold)


def test_line_cache_still_finds_duplicates_and_resets_on_a_format_change() -> None:
    from perfops.telemetry.exposition import LineCache

    cache = LineCache()
    parse('x{a="1"} 1\n', line_cache=cache)
    with pytest.raises(ExpositionError, match="duplicate series"):
        parse('x{a="1"} 1\nx{a="1"} 2\n', line_cache=cache)
    parse('x{a="1"} 1\n# EOF\n', line_cache=cache)
    assert cache.openmetrics is True
