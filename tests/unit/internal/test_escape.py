"""The escaping functions, one per target language, fed hostile values and checked by a
parser of that language where one exists (Python's string literals for PromQL's Go-style
escapes, PyYAML, markdown-it, html.parser, perfops' own exposition parser); promtool,
amtool and the Grafana SDK check the generated files in tests/integration/slo."""

from __future__ import annotations

import ast
import re
from html.parser import HTMLParser

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from perfops._internal.escape import (
    alertmanager_matcher,
    exposition_label_value,
    go_template_text,
    grafana_promql_label_value,
    html_attr,
    html_text,
    markdown_text,
    promql_label_name,
    promql_label_value,
    promql_matcher,
    promql_selector,
    terminal_text,
    yaml_comment,
    yaml_dump,
)
from perfops.telemetry.exposition import parse_labels

BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
HOSTILE = [
    'x"} or vector(1) or foo{a="',
    "back\\slash\\",
    "new\nline\r\n",
    '{{ query "up" }} {{ $value }} {}}{',
    "[/bold]x [red]y[/]",
    "\x1b]8;;http://evil.example/\x1b\\click\x1b]8;;\x1b\\",
    "\x1b[2J\x1b[H",
    "\x9b31m c1 csi \x07 bel \x7f del",
    "abc\u202edef \u2066iso\u2069 \u200e",
    "line\u2028sep\u2029",
    "*bold* _em_ `code` <script>alert(1)</script> &amp; | a | $x$ # h",
    "",
]
# Characters a reader must never receive raw.
UNSAFE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ud800-\udfff" + BIDI + "]")
# Text Hypothesis draws: every category, hostile characters well represented.
texts = st.text(
    alphabet=st.one_of(
        st.characters(codec="utf-8"),
        st.sampled_from('\x1b\x07\x9b\x85\r\n\t"\\{}[]$`<>&*_' + BIDI + "\u2028\u2029"),
    ),
    max_size=40,
)


# -- terminal ------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_terminal_text_shows_controls_escaped(value: str) -> None:
    shown = terminal_text(value)
    assert not UNSAFE.search(shown)
    assert "\x1b" not in shown


def test_terminal_text_escapes_visibly_and_keeps_layout() -> None:
    assert terminal_text("\x1b[2J") == "\\x1b[2J"
    assert terminal_text("a\u202eb") == "a\\u202eb"
    assert terminal_text("\x9b\x07\r\x7f") == "\\x9b\\x07\\x0d\\x7f"
    assert terminal_text(b"bad \x9b".decode("utf-8", "surrogateescape")) == "bad \\udc9b"
    assert terminal_text("two\nlines\tand tab, café, 日本") == "two\nlines\tand tab, café, 日本"


@given(st.text(st.characters(exclude_categories=()), max_size=40) | texts)
def test_terminal_text_leaves_nothing_unsafe_and_safe_text_alone(value: str) -> None:
    shown = terminal_text(value)
    assert not UNSAFE.search(shown)
    if not UNSAFE.search(value):
        assert shown == value


# -- PromQL --------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_promql_label_value_is_one_literal_that_reads_back(value: str) -> None:
    literal = promql_label_value(value)
    # PromQL string literals use Go's escapes; for \\ \" \n \t \uXXXX Python's are the same.
    assert ast.literal_eval(literal) == value
    assert re.fullmatch(r'"(?:[^"\\\n]|\\.)*"', literal), literal  # no early end, no newline
    assert not UNSAFE.search(literal)


@given(texts)
def test_promql_label_value_round_trips(value: str) -> None:
    literal = promql_label_value(value)
    assert ast.literal_eval(literal) == value
    assert "\n" not in literal


def test_promql_matchers_and_selectors() -> None:
    assert promql_matcher("model_name", 'a"b') == 'model_name="a\\"b"'
    assert promql_matcher("le", "0.5", "!=") == 'le!="0.5"'
    assert promql_selector({"slo": "s", "service": "x\ny"}) == '{slo="s",service="x\\ny"}'
    with pytest.raises(ValueError, match="operator"):
        promql_matcher("a", "b", "=~")


@pytest.mark.parametrize("name", ["", "0gpu", "model-name", "a b", 'a="x"', "é", "a{b}"])
def test_an_invalid_label_name_is_refused_not_escaped(name: str) -> None:
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        promql_label_name(name)
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        promql_selector({name: "v"})


@pytest.mark.parametrize("name", ["a", "_x", "model_name", "UUID", "le", "a1_B2"])
def test_valid_label_names_pass(name: str) -> None:
    assert promql_label_name(name) == name


@given(texts)
def test_grafana_values_name_no_dashboard_variable_and_read_back(value: str) -> None:
    literal = grafana_promql_label_value(value)
    assert "$" not in literal
    assert "[[" not in literal
    assert ast.literal_eval(literal) == value


# -- exposition, Alertmanager, Go templates -------------------------------------------------------


@given(texts)
def test_exposition_label_value_round_trips_through_the_parser(value: str) -> None:
    assert parse_labels(f'v="{exposition_label_value(value)}",w="2"') == {"v": value, "w": "2"}


@pytest.mark.parametrize("value", HOSTILE)
def test_alertmanager_matcher_has_one_quoted_value(value: str) -> None:
    matcher = alertmanager_matcher("severity", value)
    assert re.fullmatch(r'severity="(?:[^"\\\n]|\\[\\"n])*"', matcher), matcher
    with pytest.raises(ValueError, match="not a Prometheus label name"):
        alertmanager_matcher("sev-erity", value)


def _expand_go_text(template: str) -> str:
    """What Go's text/template makes of text whose only actions are string constants."""
    out, pos = [], 0
    for action in re.finditer(r'\{\{"((?:[^"\\]|\\.)*)"\}\}', template):
        assert "{{" not in template[pos : action.start()], "an action perfops did not write"
        out += [template[pos : action.start()], ast.literal_eval(f'"{action.group(1)}"')]
        pos = action.end()
    assert "{{" not in template[pos:]
    return "".join([*out, template[pos:]])


@pytest.mark.parametrize("value", HOSTILE)
def test_go_template_text_runs_no_action_and_expands_to_itself(value: str) -> None:
    assert _expand_go_text(go_template_text(value)) == value


@given(texts)
def test_go_template_text_expands_to_itself(value: str) -> None:
    assert _expand_go_text(go_template_text(value)) == value


# -- YAML ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("value", HOSTILE)
def test_yaml_dump_round_trips_hostile_values_and_shows_controls_escaped(value: str) -> None:
    data = {"description": value, "labels": {"model": value}, "list": [value, 1, None]}
    text = yaml_dump(data)
    assert yaml.safe_load(text) == data
    assert not UNSAFE.search(text)


@given(st.dictionaries(texts, texts, max_size=3))
def test_yaml_dump_round_trips(data: dict[str, str]) -> None:
    text = yaml_dump(data)
    assert yaml.safe_load(text) == (data or {})
    assert not UNSAFE.search(text)


def test_yaml_dump_keeps_multi_line_text_readable() -> None:
    text = yaml_dump({"expr": "a\n  or b", "name": "café"})
    assert text == "expr: |-\n  a\n    or b\nname: café\n"


@given(texts)
def test_yaml_comment_stays_a_comment(value: str) -> None:
    text = yaml_comment(value) + "\nkey: 1\n"
    assert yaml.safe_load(text) == {"key": 1}
    assert not UNSAFE.search(text)


# -- Markdown and HTML ----------------------------------------------------------------------------


class _Collect(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text = ""

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text += data


def _parse_html(text: str) -> _Collect:
    parser = _Collect()
    parser.feed(text)
    parser.close()
    return parser


@pytest.mark.parametrize("value", HOSTILE)
def test_html_text_and_attr_add_no_tag_and_read_back(value: str) -> None:
    page = _parse_html(f"<p title=\"{html_attr(value)}\" data-x='{html_attr(value)}'>"
                       f"{html_text(value)}</p>")  # fmt: skip
    assert page.tags == [("p", [("title", terminal_text(value)), ("data-x", terminal_text(value))])]
    assert page.text == terminal_text(value)


@given(texts)
def test_html_round_trips(value: str) -> None:
    page = _parse_html(f'<td title="{html_attr(value)}">{html_text(value)}</td>')
    assert page.tags == [("td", [("title", terminal_text(value))])]
    assert page.text == terminal_text(value)


def _markdown_plain(text: str) -> tuple[list[str], str]:
    """The tags markdown-it makes of ``text`` and the text a reader sees."""
    page = _parse_html(MarkdownIt("commonmark").enable("table").render(text))
    return [tag for tag, _ in page.tags], page.text.strip()


@pytest.mark.parametrize("value", HOSTILE)
def test_markdown_text_is_shown_as_typed(value: str) -> None:
    tags, shown = _markdown_plain("Model: " + markdown_text(value))
    assert tags == ["p"]
    flat = " ".join(value.split("\n")).replace("\r", " ")
    assert shown == f"Model: {terminal_text(flat)}".strip()


@given(texts)
def test_markdown_text_makes_no_markup(value: str) -> None:
    tags, _ = _markdown_plain("x " + markdown_text(value))
    assert tags == ["p"]


def test_markdown_text_in_a_table_cell_stays_in_its_cell() -> None:
    row = f"| {markdown_text('a | b')} | {markdown_text('[x](javascript:alert(1))')} |"
    html = MarkdownIt("commonmark").enable("table").render(f"| h1 | h2 |\n|---|---|\n{row}\n")
    assert html.count("<td>") == 2
    assert "<a" not in html
