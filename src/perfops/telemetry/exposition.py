"""Prometheus text exposition (0.0.4) and OpenMetrics 1.0 text: a strict, fast parser.

Prometheus rejects a whole scrape on the first malformed line, and so does :func:`parse`: it
raises :class:`ExpositionError` with the 1-based line and column, what is wrong and the fix.
Samples come back columnar and raw: the sample name and the label text exactly as written (with
the name, a hashable series key), the value and the timestamp in milliseconds.
:func:`parse_labels` turns a label text into a dict; the scraper calls it once per new series.

Strict like Prometheus, and on a few points like client_golang's stricter text parser: label
values allow only the escapes ``\\\\`` ``\\"`` ``\\n``; a label name appears once per sample, and a
series (name and label set, in any order) once per scrape; a family has one HELP and one TYPE
line, before its samples (OpenMetrics: all its metadata); values are what Go's ParseFloat takes,
without hex or underscores; OpenMetrics ends with ``# EOF``. Names are the classic ones: quoted
UTF-8 names are refused. OpenMetrics' semantic rules (bucket order, counter signs, interleaved
families) are not checked, and exemplars are checked for syntax only, then dropped.

Speed: one precompiled expression accepts a sample line in the common, well-formed shapes, and
another a plain HELP/TYPE line. Every other line (blank lines, comments, whitespace variants,
exemplars, errors) goes to a careful scanner that agrees with the expressions on what they both
accept (the tests check it). Label texts are checked for duplicate names once per distinct text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from perfops.errors import PerfopsError

__all__ = [
    "Exposition",
    "ExpositionError",
    "Family",
    "LineCache",
    "content_type_is_openmetrics",
    "parse",
    "parse_labels",
]

_TYPES = {
    False: ("counter", "gauge", "histogram", "summary", "untyped"),
    True: ("counter", "gauge", "histogram", "gaugehistogram", "stateset", "info", "summary",
           "unknown"),
}  # fmt: skip
# The sample-name suffixes a family owns, by format and type ("" is the family name itself).
_SUFFIXES: dict[bool, dict[str, tuple[str, ...]]] = {
    False: {"histogram": ("_bucket", "_sum", "_count"), "summary": ("", "_sum", "_count")},
    True: {
        "counter": ("_total", "_created"),
        "histogram": ("_bucket", "_sum", "_count", "_created"),
        "gaugehistogram": ("_bucket", "_gsum", "_gcount"),
        "summary": ("", "_sum", "_count", "_created"),
        "info": ("_info",),
    },
}
_ALL_SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created", "_gcount", "_gsum", "_info")
_INT64_MAX = 2**63 - 1
_EMPTY = ("", 0)

# Grammar. Possessive quantifiers keep every expression linear on hostile input.
_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*+"
_LNAME = r"[a-zA-Z_][a-zA-Z0-9_]*+"
_QUOTED = r'"[^"\\]*+(?:\\[\\"n][^"\\]*+)*+"'
_PAIRS = rf"{_LNAME}={_QUOTED}(?:,{_LNAME}={_QUOTED})*+"
_DEC = r"[+-]?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?"
_FLOAT = rf"{_DEC}|[+-]?[iI][nN][fF](?:[iI][nN][iI][tT][yY])?|[nN][aA][nN]"  # Go's ParseFloat
_FAST = {
    False: re.compile(rf"({_NAME})(?:\{{((?:{_PAIRS},?)?)\}})? ({_FLOAT})(?: ([0-9]++))?", re.A),
    True: re.compile(rf"({_NAME})(?:\{{((?:{_PAIRS})?)\}})? ({_FLOAT})(?: ({_DEC}))?", re.A),
}
_FAST_META = {
    False: re.compile(rf"# (HELP|TYPE) ({_NAME})(?: (.*))?", re.A),
    True: re.compile(rf"# (HELP|TYPE|UNIT) ({_NAME}) (.*)", re.A),
}
_META = {False: re.compile(r"[ \t]*#[ \t]+(HELP|TYPE)[ \t]+"), True: re.compile(r"# (\w+) ?")}
_NAME_RE = re.compile(_NAME, re.A)
_LNAME_RE = re.compile(rf"{_LNAME}(?![^=,}}{{ \t\"])", re.A)
_FLOAT_RE = re.compile(_FLOAT, re.A)
_DEC_RE = re.compile(_DEC, re.A)
_PAIR_TEXT = re.compile(rf"{_LNAME}={_QUOTED}", re.A)
_PAIR_PARTS = re.compile(rf"({_LNAME})[ \t]*=[ \t]*({_QUOTED})", re.A)
_NAME_TWICE = re.compile(rf'(?:^|,)({_LNAME})="[^"\\]*+(?:\\.[^"\\]*+)*+",\1=', re.A)
_WORD = re.compile(r"[^ \t{]*")
_LABEL_WORD = re.compile(r'[^=,}{ \t"]*')
_RUN = re.compile(r'[^"\\]*+')
_TOKEN = {False: re.compile(r"[^ \t]+"), True: re.compile(r"[^ ]+")}
_ESCAPES = {"\\\\": "\\", '\\"': '"', "\\n": "\n"}
_ESCAPE_RE = {False: re.compile(r"\\[\\n]"), True: re.compile(r'\\[\\"n]')}  # HELP: 0.0.4, OM

_NAMES = "metric names match [a-zA-Z_:][a-zA-Z0-9_:]*"
_LNAMES = "label names match [a-zA-Z_][a-zA-Z0-9_]*"
_SHAPE = 'a sample line is: name{{label="value",...}} value [timestamp]'
_NOT_METRICS = "looks like {what}, not Prometheus exposition — is the URL the /metrics endpoint?"
# Every error this module raises: kind -> (message, hint), both str.format templates.
_WHY: dict[str, tuple[str, str]] = {
    "html": (_NOT_METRICS.format(what="HTML"), "point the target at the exporter's metrics path"),
    "json": (_NOT_METRICS.format(what="JSON"), "point the target at the exporter's metrics path"),
    "bom": ("the text starts with a byte-order mark (U+FEFF)", "write UTF-8 without a BOM"),
    "indent": ("whitespace at the start of the line", "OpenMetrics lines start in column 1"),
    "no_name": ("metric name missing", "quoted (UTF-8) metric names are not supported; " + _NAMES),
    "name_char": ("invalid character {char!r} in metric name {word!r}", _NAMES),
    "name": ("invalid metric name {word!r}", _NAMES),
    "meta_name": ("invalid metric name {word!r} in {keyword} line", _NAMES),
    "meta_short": ("{keyword} line ends after the metric name", "write '# {keyword} {name} ...'"),
    "type": ("unknown metric type {word!r}", "use one of: {types}"),
    "meta_twice": ("second {keyword} line for {name} (the first is on line {first})",
                   "give each metric family one {keyword} line"),
    "meta_late": ("{keyword} line for {name} comes after its samples (the first is on line "
                  "{first})", "put HELP and TYPE lines before the family's first sample"),
    "comment": ("unexpected comment {word!r}",
                "OpenMetrics allows only # HELP, # TYPE and # UNIT lines and a final # EOF"),
    "blank": ("blank line", "OpenMetrics allows no blank lines"),
    "lname": ("invalid label name {word!r}{colon}", _LNAMES),
    "lname_quoted": ("quoted (UTF-8) label names are not supported", _LNAMES),
    "expected": ("expected {what}, found {char!r}", _SHAPE),
    "unclosed_set": ("unterminated label set: the '{{' at column {opened} has no closing '}}'",
                     "was the line cut off? " + _SHAPE),
    "unclosed_value": ("unterminated label value: no closing '\"'",
                       'close the value with ", and escape any " inside it as \\"'),
    "escape": ("invalid escape \\{char} in label value",
               'escape only \\\\, \\" and \\n; write a backslash as \\\\'),
    "comma": ("comma before '}}'", "OpenMetrics allows no comma after the last label"),
    "stray": ("unexpected '}}' in the label text", _SHAPE),
    "missing": ("missing {what}", "was the line cut off? " + _SHAPE),
    "space": ("expected a space before the {what}, found {char!r}", _SHAPE),
    "spaces": ("more than one space before the {what}",
               "OpenMetrics separates fields with exactly one space"),
    "value": ("invalid value {word!r}: not a number",
              "values are floats: 1, -2.5, 1e3, NaN, +Inf or -Inf"),
    "overflow": ("value {word!r} is out of range for a 64-bit float",
                 "values must lie within ±1.8e308"),
    "timestamp": ("invalid timestamp {word!r}", "timestamps are {unit}"),
    "ts_range": ("timestamp {word!r} is out of range", "timestamps must fit in 64-bit ms"),
    "trailing": ("unexpected {word!r} after the {what}", _SHAPE),
    "exemplar": ("expected '{{' after ' # ' to open an exemplar",
                 'an exemplar is: # {{trace_id="abc"}} 0.5 [timestamp]'),
    "too_big": ("label set is {size:,} bytes, over the limit of {limit:,}",
                "raise max_label_bytes if the target is trusted, or drop the labels at the "
                "exporter"),
    "label_twice": ("duplicate label name {word!r}", "give each label once per sample"),
    "reserved": ("reserved label name '__name__'", "write the metric name before the '{{'"),
    "series_twice": ("duplicate series {name} (the same name and labels are on line {first})",
                     "each series may appear once per scrape; is a collector registered twice?"),
    "too_many": ("more than {limit:,} samples in one scrape",
                 "the limit is max_samples={limit}: if the target really exposes this many "
                 "series, raise max_samples for it (or telemetry.max_samples) in perfops.yaml; "
                 "else drop series at the exporter"),
    "no_eof": ("missing '# EOF' at the end of OpenMetrics text",
               "OpenMetrics ends with a '# EOF' line: the answer was cut short, or it is not "
               "OpenMetrics (pass openmetrics=False)"),
    "after_eof": ("sample or other text after '# EOF'",
                  "'# EOF' must be the last line; are two outputs concatenated?"),
    "utf8": ("invalid UTF-8 {what}", "exposition text must be UTF-8"),
}  # fmt: skip
_CRLF = "the line ends with a carriage return: use \\n line endings, not \\r\\n"


class ExpositionError(PerfopsError):
    """Malformed exposition text: where (1-based line and column), what, and how to fix it.

    ``line`` is 0 for errors in a bare label text (:func:`parse_labels`).
    """

    def __init__(self, message: str, *, line: int, column: int, excerpt: str = "",
                 hint: str | None = None) -> None:  # fmt: skip
        where = f"line {line}, column {column}" if line else f"label text, column {column}"
        super().__init__(f"{where}: {message}", hint=hint)
        self.line, self.column, self.excerpt = line, column, excerpt


@dataclass(frozen=True, slots=True)
class Family:
    """A metric family's metadata, from its ``# HELP``, ``# TYPE`` and ``# UNIT`` lines."""

    name: str
    type: str  # counter gauge histogram summary untyped | OpenMetrics: ... info stateset unknown
    help: str
    unit: str


@dataclass(slots=True)
class Exposition:
    """One parsed scrape, columnar: sample ``i`` is ``names[i]{label_texts[i]} values[i]``."""

    families: dict[str, Family] = field(default_factory=dict)
    names: list[str] = field(default_factory=list)
    label_texts: list[str] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps_ms: list[int | None] = field(default_factory=list)
    openmetrics: bool = False

    def __len__(self) -> int:
        return len(self.values)

    def family_of(self, sample_name: str) -> Family | None:
        """The declared family a sample belongs to, by the format's suffix rules; else None."""
        owns = _SUFFIXES[self.openmetrics]
        family = self.families.get(sample_name)
        if family is not None and "" in owns.get(family.type, ("",)):
            return family
        for suffix in _ALL_SUFFIXES:
            if sample_name.endswith(suffix):
                family = self.families.get(sample_name[: -len(suffix)])
                if family is not None and suffix in owns.get(family.type, ("",)):
                    return family
        return None


def content_type_is_openmetrics(content_type: str | None) -> bool:
    """True for ``application/openmetrics-text`` with any parameters."""
    media = (content_type or "").split(";", 1)[0].strip().lower()
    return media == "application/openmetrics-text"


def parse(
    data: str | bytes | bytearray,
    *,
    openmetrics: bool | None = None,
    max_samples: int = 2_000_000,
    max_label_bytes: int = 16_384,
    line_cache: LineCache | None = None,
) -> Exposition:
    """Parse one scrape; raise :class:`ExpositionError` at the first malformed line.

    ``line_cache``, kept by the caller from one scrape of a target to the next, remembers the
    ``name{labels}`` part of sample lines already validated, so a repeat line costs a dict
    lookup and a float() instead of a full match: exporters answer the same series every time.

    More than ``max_samples`` samples, or a label set (the text between the braces) longer than
    ``max_label_bytes`` UTF-8 bytes, is an error too. ``openmetrics=None`` detects the format: a
    ``# EOF`` line means OpenMetrics, which must then end with it. Pass
    :func:`content_type_is_openmetrics` of the Content-Type when it is known.
    """
    lines = _decode(data).split("\n")
    om = "# EOF" in lines if openmetrics is None else openmetrics
    if om and lines[-1] == "":
        lines.pop()  # the newline that ends the last line
    end = lines.index("# EOF") if om and "# EOF" in lines else len(lines)
    state = _State(om, max_samples, max_label_bytes)
    if line_cache is not None and line_cache.openmetrics is not om:
        line_cache.clear()
        line_cache.openmetrics = om
    _parse_lines(lines[:end], state, line_cache)
    if om and end == len(lines):
        raise _error("", end + 1, _err(1, "no_eof"))
    if end + 1 < len(lines):
        raise _error(lines[end + 1], end + 2, _err(1, "after_eof"))
    return state.result()


def parse_labels(label_text: str) -> dict[str, str]:
    """The labels of a label text from :func:`parse` (the part between the braces)."""
    wrapped = label_text + "}"
    try:
        if (end := _scan_labels(wrapped, 0, False)) != len(wrapped):
            raise _err(end, "stray")
        _label_key(label_text, 4 * len(label_text), 1)
    except _LineError as err:
        raise _error(label_text, 0, err) from None
    unescape = _ESCAPE_RE[True]
    return {name: _unescape(raw[1:-1], unescape) for name, raw in _PAIR_PARTS.findall(label_text)}


class _LineError(Exception):
    """An error within one line; :func:`_error` adds the line number and an excerpt."""

    def __init__(self, column: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.column, self.message, self.hint = column, message, hint


def _err(column: int, kind: str, **fields: object) -> _LineError:
    message, hint = _WHY[kind]
    crlf = any(isinstance(v, str) and v.endswith("\r") for v in fields.values())
    return _LineError(column, message.format(**fields), _CRLF if crlf else hint.format(**fields))


def _error(line: str, lineno: int, err: _LineError) -> ExpositionError:
    start = max(0, err.column - 40)
    excerpt = ("…" if start else "") + line[start : start + 80]
    excerpt += "…" if start + 80 < len(line) else ""
    return ExpositionError(err.message, line=lineno, column=err.column, excerpt=excerpt,
                           hint=err.hint)  # fmt: skip


def _decode(data: str | bytes | bytearray) -> str:
    if isinstance(data, str):
        try:
            if not data.isascii():
                data.encode()
        except UnicodeEncodeError as exc:
            lineno, start = data.count("\n", 0, exc.start) + 1, data.rfind("\n", 0, exc.start)
            err = _err(exc.start - start, "utf8", what="text (a lone surrogate)")
            raise _error(data[start + 1 : exc.end], lineno, err) from None
        return data
    try:
        return data.decode()  # bytes or bytearray: no copy before decoding
    except UnicodeDecodeError as exc:
        start = data.rfind(b"\n", 0, exc.start) + 1
        head = data[start : exc.start].decode(errors="replace")
        err = _err(len(head) + 1, "utf8", what=f"byte 0x{data[exc.start]:02x}")
        raise _error(head, data.count(b"\n", 0, exc.start) + 1, err) from None


class LineCache(dict[str, tuple[str, str, str]]):
    """Validated ``name{labels}`` line heads of one target -> (name, label text, identity)."""

    max_entries = 500_000

    def __init__(self) -> None:
        super().__init__()
        self.openmetrics: bool | None = None
        self.meta: dict[str, tuple[str, str, str | None, int]] = {}  # HELP/TYPE/UNIT lines

    def clear(self) -> None:
        super().clear()
        self.meta.clear()


_SPECIAL_VALUES = frozenset({"NaN", "+Inf", "-Inf", "Inf"})


def _cached_value(tail: str) -> float | None:
    """``tail`` as a float when it is certainly a valid sample value; None: take the full path."""
    if not tail or "_" in tail:
        return None
    try:
        value = float(tail)
    except ValueError:
        return None
    if value - value != 0 and tail not in _SPECIAL_VALUES:  # NaN/Inf spelled otherwise
        return None
    return value


def _parse_lines(lines: list[str], state: _State, cache: LineCache | None = None) -> None:
    """The hot loop: one expression match per ordinary sample line, bookkeeping inline."""
    fast, om = _FAST[state.om].fullmatch, state.om
    room = cache is not None and len(cache) < cache.max_entries
    names, texts, values, stamps = state.names, state.texts, state.values, state.stamps
    keys: dict[str, str] = {"": ""}  # label text -> order-insensitive label-set identity
    series: dict[tuple[str, str], int] = {}  # (name, identity) -> sample index
    first, prev, count, limit = state.first_line, "", 0, state.max_samples
    for lineno, line in enumerate(lines, 1):
        try:
            hit = None
            if cache is not None:
                if line[:1] == "#" and (meta := cache.meta.get(line)) is not None:
                    state.add_meta(*meta, lineno)  # ordering rules are still checked
                    continue
                head, _, tail = line.rpartition(" ")
                hit = cache.get(head)
            if hit is not None and (cached := _cached_value(tail)) is not None:
                name, text, key = hit
                value, ts = cached, None
            else:
                m = fast(line)
                if m is not None:
                    name, text, raw, raw_ts = m.groups()
                    value = float(raw)
                    if value - value and raw[-1] in "0123456789.":  # overflowed to +-Inf
                        _to_float(raw, m.start(3) + 1)
                    ts = None if raw_ts is None else _timestamp(raw_ts, m.start(4) + 1, om)
                    text = text or ""
                else:
                    sample = _other_line(line, lineno, state, cache)
                    if sample is None:
                        continue
                    name, text, value, ts = sample
                known = keys.get(text)
                if known is None:
                    known = keys[text] = _label_key(text, state.max_label_bytes, line.find("{") + 2)
                key = known
                if room and m is not None and ts is None:
                    cache[line.rpartition(" ")[0]] = (name, text, key)  # type: ignore[index]
            if count == limit:
                raise _err(1, "too_many", limit=limit)
            if series.setdefault((name, key), count) != count:
                first_line = _line_of_sample(lines, series[name, key])
                raise _err(line.find(name) + 1, "series_twice", name=name, first=first_line)
            names.append(name)
            texts.append(text)
            values.append(value)
            stamps.append(ts)
            count += 1
            if name != prev:
                first.setdefault(name, lineno)
                prev = name
        except _LineError as err:
            raise _error(line, lineno, err) from None


class _State:
    """What a parse accumulates: the columns, the metadata, where each name first appeared."""

    def __init__(self, om: bool, max_samples: int, max_label_bytes: int) -> None:
        self.om, self.max_samples, self.max_label_bytes = om, max_samples, max_label_bytes
        self.names: list[str] = []
        self.texts: list[str] = []
        self.values: list[float] = []
        self.stamps: list[int | None] = []
        self.first_line: dict[str, int] = {}  # sample name -> line of its first sample
        self.meta: dict[str, dict[str, tuple[str, int]]] = {}  # family -> keyword -> text, line

    def add_meta(self, keyword: str, name: str, text: str | None, at: int, lineno: int) -> None:
        """Record a HELP/TYPE/UNIT line; ``at`` is the column of the family name."""
        if text is None and (self.om or keyword == "TYPE"):
            raise _err(at + len(name), "meta_short", keyword=keyword, name=name)
        family = self.meta.get(name)
        if family is None:
            family = self.meta[name] = {}
        elif keyword in family:
            raise _err(at, "meta_twice", keyword=keyword, name=name, first=family[keyword][1])
        text = text or ""
        if keyword == "TYPE":
            text = text if self.om else text.strip(" \t")
            if text not in _TYPES[self.om]:
                types = ", ".join(_TYPES[self.om])
                raise _err(at + len(name) + 1, "type", word=text[:40], types=types)
        elif keyword == "HELP" and "\\" in text:
            text = _unescape(text, _ESCAPE_RE[self.om])
        if keyword == "TYPE" or self.om:  # 0.0.4 allows a late HELP, OpenMetrics nothing late
            kind = text if keyword == "TYPE" else family.get("TYPE", ("", 0))[0]
            for suffix in _SUFFIXES[self.om].get(kind, ("",)):
                if (line := self.first_line.get(name + suffix)) is not None:
                    raise _err(at, "meta_late", keyword=keyword, name=name, first=line)
        family[keyword] = (text, lineno)

    def result(self) -> Exposition:
        none = ("unknown" if self.om else "untyped", 0)
        families = {
            name: Family(name, m.get("TYPE", none)[0], m.get("HELP", _EMPTY)[0],
                         m.get("UNIT", _EMPTY)[0])
            for name, m in self.meta.items()
        }  # fmt: skip
        return Exposition(families, self.names, self.texts, self.values, self.stamps, self.om)


def _other_line(
    line: str, lineno: int, state: _State, cache: LineCache | None = None
) -> tuple[str, str, float, int | None] | None:
    """A line the fast path did not take: metadata, a comment, a blank or an unusual sample."""
    m = _FAST_META[state.om].fullmatch(line)
    if m is not None:
        state.add_meta(m[1], m[2], m[3], m.start(2) + 1, lineno)
        if cache is not None and len(cache.meta) < cache.max_entries:
            cache.meta[line] = (m[1], m[2], m[3], m.start(2) + 1)
        return None
    body = line if state.om else line.lstrip(" \t")
    if not body:
        if state.om:
            raise _err(1, "blank")
        return None
    if body[0] != "#":
        return _scan_sample(line, state.om)
    m = _META[state.om].match(line)
    if m is None or (state.om and m[1] not in ("HELP", "TYPE", "UNIT")):
        if state.om:
            raise _err(1, "comment", word=line[:40])
        return None  # a 0.0.4 comment
    name = _NAME_RE.match(line, m.end())
    end = name.end() if name else m.end()
    if name is None or (end < len(line) and line[end] not in (" " if state.om else " \t")):
        raise _err(m.end() + 1, "meta_name", word=_word(_WORD, line, m.end()), keyword=m[1])
    text = line[end + 1 :] if end < len(line) else None
    state.add_meta(m[1], name.group(), text, m.end() + 1, lineno)
    return None


def _scan_sample(line: str, om: bool) -> tuple[str, str, float, int | None]:
    """Scan one sample line the slow, careful way; the fast expression must agree with it."""
    pos = 0 if om else _skip(line, 0)
    m = _NAME_RE.match(line, pos)
    if m is None or line[m.end() : m.end() + 1] not in ("", " ", "\t", "{"):
        raise _bad_name(line, pos, m.end() if m else pos)
    name, pos, text = m.group(), m.end(), ""
    brace = pos if om else _skip(line, pos)
    if line.startswith("{", brace):
        pos = _scan_labels(line, brace + 1, om)
        text = line[brace + 1 : pos - 1]
    start = _separator(line, pos, om, "value")
    raw = _word(_TOKEN[om], line, start)
    value, pos = _to_float(raw, start + 1), start + len(raw)
    if om:
        return name, text, value, _om_tail(line, pos)
    ts, after = None, _skip(line, pos)
    if after < len(line):
        raw = _word(_TOKEN[om], line, after)
        ts, pos = _timestamp(raw, after + 1, om), _skip(line, after + len(raw))
        if pos < len(line):
            raise _err(pos + 1, "trailing", word=line[pos:][:20], what="timestamp")
    return name, text, value, ts


def _om_tail(line: str, pos: int) -> int | None:
    """The optional timestamp and exemplar after an OpenMetrics value."""
    ts = None
    if pos < len(line) and not line.startswith(" # ", pos):
        start = _separator(line, pos, True, "timestamp")
        raw = _word(_TOKEN[True], line, start)
        ts, pos = _timestamp(raw, start + 1, True), start + len(raw)
    if line.startswith(" # ", pos):
        pos = _scan_exemplar(line, pos + 3)
    if pos < len(line):
        raise _err(pos + 1, "trailing", word=line[pos:][:20], what="sample")
    return ts


def _scan_exemplar(line: str, pos: int) -> int:
    """Check the exemplar at ``pos`` (after ' # '), which is then dropped; return its end."""
    if not line.startswith("{", pos):
        raise _err(pos + 1, "exemplar")
    pos = _scan_labels(line, pos + 1, True)
    start = _separator(line, pos, True, "exemplar value")
    raw = _word(_TOKEN[True], line, start)
    _to_float(raw, start + 1)
    pos = start + len(raw)
    if pos < len(line) and not line.startswith(" # ", pos):
        start = _separator(line, pos, True, "exemplar timestamp")
        raw = _word(_TOKEN[True], line, start)
        _timestamp(raw, start + 1, True)
        pos = start + len(raw)
    return pos


def _scan_labels(line: str, pos: int, om: bool) -> int:
    """Scan the label set whose '{' is just before ``pos``; return the index after its '}'."""
    opened = pos  # the 1-based column of the '{'
    pos = pos if om else _skip(line, pos)
    if line.startswith("}", pos):
        return pos + 1
    while True:
        pos = _scan_pair(line, pos, om, opened)
        pos = pos if om else _skip(line, pos)
        if line.startswith("}", pos):
            return pos + 1
        _expect(line, pos, ",", "',' or '}' after a label value", opened)
        comma, pos = pos, pos + 1 if om else _skip(line, pos + 1)
        if line.startswith("}", pos):
            if om:
                raise _err(comma + 1, "comma")
            return pos + 1


def _scan_pair(line: str, pos: int, om: bool, opened: int) -> int:
    """Scan ``name="value"``; return the index after the closing quote."""
    m = _LNAME_RE.match(line, pos)
    if m is None:
        if line.startswith('"', pos):
            raise _err(pos + 1, "lname_quoted")
        word = _word(_LABEL_WORD, line, pos)
        if not word:
            _expect(line, pos, "", "a label name", opened)
        colon = " (label names may not contain ':')" if ":" in word else ""
        raise _err(pos + 1, "lname", word=word[:40], colon=colon)
    label, pos = m.group(), m.end() if om else _skip(line, m.end())
    _expect(line, pos, "=", f"'=' after label name {label!r}", opened)
    pos = pos + 1 if om else _skip(line, pos + 1)
    _expect(line, pos, '"', f"a quoted value after '{label}='", opened)
    return _scan_quoted(line, pos)


def _scan_quoted(line: str, pos: int) -> int:
    """Scan the label value whose opening quote is at ``pos``; return the index after it."""
    start = pos
    while True:
        pos += 1 + len(_word(_RUN, line, pos + 1))
        if pos >= len(line) or (line[pos] == "\\" and pos + 1 == len(line)):
            raise _err(start + 1, "unclosed_value")
        if line[pos] == '"':
            return pos + 1
        if line[pos + 1] not in '\\"n':
            raise _err(pos + 1, "escape", char=line[pos + 1])
        pos += 1


def _expect(line: str, pos: int, char: str, what: str, opened: int) -> None:
    """Raise unless ``line[pos]`` is ``char``: the set is unterminated, or something else."""
    if pos >= len(line):
        raise _err(pos + 1, "unclosed_set", opened=opened)
    if line[pos] != char:
        raise _err(pos + 1, "expected", what=what, char=line[pos])


def _separator(line: str, pos: int, om: bool, what: str) -> int:
    """The index of ``what`` after the blanks at ``pos`` (OpenMetrics: exactly one space)."""
    after = (pos + 1 if line.startswith(" ", pos) else pos) if om else _skip(line, pos)
    if after >= len(line):
        raise _err(len(line) + 1, "missing", what=what, line=line)
    if after == pos:
        raise _err(pos + 1, "space", what=what, char=line[pos])
    if om and line[after] == " ":
        raise _err(after + 1, "spaces", what=what)
    return after


def _bad_name(line: str, pos: int, end: int) -> _LineError:
    if line.startswith(("<", "\ufeff", " ", "\t"), pos):
        return _err(pos + 1, {"<": "html", "\ufeff": "bom"}.get(line[pos], "indent"))
    if line.startswith(("{", "["), pos) and '":' in line:
        return _err(pos + 1, "json")
    if line.startswith(("{", '"'), pos):
        return _err(pos + 1, "no_name")
    word = _word(_WORD, line, pos)[:40]
    if end > pos:
        return _err(end + 1, "name_char", char=line[end], word=word)
    return _err(pos + 1, "name", word=word)


def _to_float(raw: str, column: int) -> float:
    if _FLOAT_RE.fullmatch(raw) is None:
        raise _err(column, "value", word=raw[:40])
    value = float(raw)
    if value - value and raw[-1] in "0123456789.":
        raise _err(column, "overflow", word=raw[:40])
    return value


def _timestamp(raw: str, column: int, om: bool) -> int:
    """Milliseconds: 0.0.4 writes integer ms, OpenMetrics seconds (cut to whole ms, exactly)."""
    if not (_DEC_RE.fullmatch(raw) if om else raw.isdigit() and raw.isascii()):
        unit = "seconds, e.g. 1700000000.123" if om else "integer milliseconds, e.g. 1700000000123"
        raise _err(column, "timestamp", word=raw[:40], unit=unit)
    if om and Decimal(raw).adjusted() > 15:  # do not build a huge int from 1e999999
        raise _err(column, "ts_range", word=raw[:40])
    ms = int(Decimal(raw).scaleb(3)) if om else int(raw)
    if abs(ms) > _INT64_MAX:
        raise _err(column, "ts_range", word=raw[:40])
    return ms


def _label_key(text: str, max_bytes: int, column: int) -> str:
    """The order-insensitive identity of a well-formed label text; checks names and size."""
    if len(text) > max_bytes or (len(text) * 4 > max_bytes and len(text.encode()) > max_bytes):
        raise _err(column, "too_big", size=len(text.encode()), limit=max_bytes)
    if " " in text or "\t" in text:
        pairs = [f"{name}={raw}" for name, raw in _PAIR_PARTS.findall(text)]
    else:
        pairs = _PAIR_TEXT.findall(text)
    if len(pairs) == 1 and not pairs[0].startswith("__name__="):
        return pairs[0]
    key = ",".join(sorted(pairs))  # a duplicate label name sorts next to its twin
    if _NAME_TWICE.search(key) or "__name__=" in key:
        _check_names(text, column)
    return key


def _check_names(text: str, column: int) -> None:
    seen: set[str] = set()
    for m in _PAIR_PARTS.finditer(text):
        if m[1] == "__name__":
            raise _err(column + m.start(1), "reserved")
        if m[1] in seen:
            raise _err(column + m.start(1), "label_twice", word=m[1])
        seen.add(m[1])


def _line_of_sample(lines: list[str], index: int) -> int:
    """The line of sample ``index``, counting the lines that are not blank and not comments."""
    for lineno, line in enumerate(lines, 1):
        body = line.lstrip(" \t")
        if body and body[0] != "#":
            if index == 0:
                return lineno
            index -= 1
    return 0


def _skip(line: str, pos: int) -> int:
    """The index of the first character at or after ``pos`` that is not a space or a tab."""
    while pos < len(line) and line[pos] in " \t":
        pos += 1
    return pos


def _word(pattern: re.Pattern[str], line: str, pos: int) -> str:
    m = pattern.match(line, pos)
    return m.group() if m else ""


def _unescape(text: str, escapes: re.Pattern[str]) -> str:
    return escapes.sub(lambda m: _ESCAPES[m.group()], text) if "\\" in text else text
