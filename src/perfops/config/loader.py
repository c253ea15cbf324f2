"""Load perfops.yaml: parse with positions, apply env overrides, validate, report every problem.

Problems read like compiler errors::

    perfops.yaml:14:5 slos[0].objectiv: unknown field; did you mean "objective"?
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from perfops._internal.durations import parse_duration
from perfops.config._bounds import MAX_SCRAPE_INTERVAL_S, MIN_SCRAPE_INTERVAL_S
from perfops.config._escalation_refs import escalation_references
from perfops.config._schema import field_names, resolve
from perfops.config._yaml import Located, Path_, _dotted, load_located
from perfops.config.models import API_VERSION, Config
from perfops.errors import ConfigError, Problem

__all__ = [
    "CONFIG_ENV",
    "ENV_PREFIX",
    "find_config",
    "load_config",
    "parse_config",
    "parse_spec",
    "shown_path",
]

ENV_PREFIX = "PERFOPS__"
CONFIG_ENV = "PERFOPS_CONFIG"
Warn = Callable[[str], None]


def find_config(path: str | Path | None, environ: Mapping[str, str]) -> Path:
    """The config file to load: ``path``, else $PERFOPS_CONFIG, else ./perfops.yaml."""
    chosen = Path(path) if path else Path(environ.get(CONFIG_ENV, "perfops.yaml"))
    try:
        if chosen.is_dir():
            chosen = chosen / "perfops.yaml"
        found = chosen.is_file()
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ConfigError(
            [Problem(shown_path(chosen), "", f"cannot use this path: {reason}")],
            source=shown_path(chosen),
        ) from None
    if not found:
        raise ConfigError(
            [
                Problem(
                    shown_path(chosen),
                    "",
                    "file not found",
                    "run `perfops init` to write one, or pass --config PATH",
                )
            ],
            source=shown_path(chosen),
        )
    return chosen


def shown_path(path: str | Path) -> str:
    """``path`` as an error shows it: as written, or escaped (``\\n``) when it holds a line
    break or another character that cannot be shown, so a message stays on its lines."""
    text = str(path)
    return text if text.isprintable() else repr(text)[1:-1]


def load_config(
    path: str | Path | None = None,
    *,
    environ: Mapping[str, str] | None = None,
    warn: Warn | None = None,
) -> Config:
    """Load and validate a perfops.yaml; raises ConfigError listing every problem."""
    env = os.environ if environ is None else environ
    file = find_config(path, env)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            [Problem(shown_path(file), "", f"cannot read: {exc}")], source=shown_path(file)
        ) from None
    source = shown_path(path if path else file.name)
    config = parse_config(text, source=source, environ=env, warn=warn)
    lake = config.workspace.lake
    if not lake.is_absolute():
        lake = (file.parent / lake).resolve()
    update: dict[str, object] = {"workspace": config.workspace.model_copy(update={"lake": lake})}
    catalog = config.pricing.catalog
    if catalog and not Path(catalog).is_absolute():  # relative to perfops.yaml, as the lake
        update["pricing"] = config.pricing.model_copy(
            update={"catalog": str((file.parent / catalog).resolve())}
        )
    folder = config.runbooks.dir
    if not folder.is_absolute():  # next to perfops.yaml, as the lake
        update["runbooks"] = config.runbooks.model_copy(
            update={"dir": (file.parent / folder).resolve()}
        )
    postmortems = config.reviews.postmortems
    if not postmortems.is_absolute():  # next to perfops.yaml, as the runbooks
        update["reviews"] = config.reviews.model_copy(
            update={"postmortems": (file.parent / postmortems).resolve()}
        )
    return config.model_copy(update=update)


def parse_config(
    text: str,
    *,
    source: str = "perfops.yaml",
    environ: Mapping[str, str] | None = None,
    warn: Warn | None = None,
) -> Config:
    """Validate perfops.yaml text (plus PERFOPS__ overrides from ``environ``) into a Config."""
    located = load_located(text, source)
    if located.data is None:
        located.data = {}
    if not isinstance(located.data, dict):
        raise ConfigError(
            [
                Problem(
                    f"{source}:1:1",
                    "",
                    "the file must be a mapping",
                    f"start it with `apiVersion: {API_VERSION}`",
                )
            ],
            source=source,
        )
    env_paths = _apply_env(located.data, environ or {}, warn or (lambda _msg: None))
    problems = list(located.problems)
    try:
        config = Config.model_validate(located.data)
    except ValidationError as exc:
        problems += [_problem(e, located, env_paths, source) for e in exc.errors()]
    problems += [
        _located(path, msg, hint, located, env_paths, source)
        for path, msg, hint in _cross_references(located.data)
    ]
    if problems:
        problems.sort(key=_line_order)
        raise ConfigError(problems, source=source)
    config._where = {(): source} | {
        path: f"{source}:{line}:{col}" for path, (line, col) in located.values.items() if path
    }
    return config


SpecT = TypeVar("SpecT", bound=BaseModel)
Locate = Callable[[Path_, str, str | None], Problem]


def parse_spec(model: type[SpecT], text: str, source: str) -> tuple[SpecT, Locate]:
    """Validate YAML ``text`` into ``model`` with every problem located (file:line:col, field
    path, hint), as perfops.yaml is. Returns the spec and a function that locates further
    problems (cross-references the caller checks) by their data path."""
    located = load_located(text, source)
    data = located.data if located.data is not None else {}

    def locate(path: Path_, message: str, hint: str | None) -> Problem:
        return _located(path, message, hint, located, {}, source)

    if not isinstance(data, dict):
        raise ConfigError(
            [Problem(f"{source}:1:1", "", "the file must be a mapping", "start with apiVersion:")],
            source=source,
        )
    problems = list(located.problems)
    spec = None
    try:
        spec = model.model_validate(data)
    except ValidationError as exc:
        problems += [_problem(e, located, {}, source, model) for e in exc.errors()]
    if problems or spec is None:
        problems.sort(key=_line_order)
        raise ConfigError(problems, source=source)
    return spec, locate


def _line_order(problem: Problem) -> tuple[int, int, str]:
    parts = problem.location.rsplit(":", 2)
    if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
        return int(parts[1]), int(parts[2]), problem.path
    return 1 << 30, 0, problem.path


# -- environment overrides ---------------------------------------------------------------------


def _env_path(name: str) -> Path_:
    parts = name[len(ENV_PREFIX) :].lower().split("__")
    return tuple(int(p) if p.isdigit() else p for p in parts)


def _apply_env(data: dict[str, Any], environ: Mapping[str, str], warn: Warn) -> dict[Path_, str]:
    """Set PERFOPS__SECTION__FIELD values into ``data``; warn about names that match no field."""
    applied: dict[Path_, str] = {}
    for name in sorted(environ):
        if not name.startswith(ENV_PREFIX):
            continue
        path = _env_path(name)
        if resolve(Config, path) is None or "" in path:
            warn(f"ignoring {name}: {_unknown_env_hint(path)}")
            continue
        try:
            value = yaml.safe_load(environ[name])
        except yaml.YAMLError:
            value = environ[name]
        if _set_path(data, path, value):
            applied[path] = name
        else:
            warn(f"ignoring {name}: {_dotted(path)} does not exist in the file to override")
    return applied


def _unknown_env_hint(path: Path_) -> str:
    for i in range(len(path)):
        if resolve(Config, path[: i + 1]) is None:
            parent = resolve(Config, path[:i])
            valid = field_names(parent)
            guess = difflib.get_close_matches(str(path[i]), valid, n=1)
            where = _dotted(path[:i]) or "perfops.yaml"
            if guess:
                return f"{where} has no field {path[i]!r}; did you mean {guess[0]!r}?"
            return f"{where} has no field {path[i]!r}" + (
                f" (fields: {', '.join(valid)})" if valid else ""
            )
    return "empty section name"


def _set_path(data: Any, path: Path_, value: Any) -> bool:
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(data, list) or part >= len(data):
                return False
            data = data[part]
        else:
            if not isinstance(data, dict):
                return False
            data = data.setdefault(part, {})
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(data, list) or last >= len(data):
            return False
        data[last] = value
    elif isinstance(data, dict):
        data[last] = value
    else:
        return False
    return True


# -- validation errors -------------------------------------------------------------------------


def _data_path(loc: tuple[int | str, ...], data: Any) -> Path_:
    """Pydantic's loc without the tag entries of discriminated unions, as a data path."""
    path: list[str | int] = []
    node = data
    for i, part in enumerate(loc):
        if (
            isinstance(node, dict)
            and part not in node
            and i < len(loc) - 1
            and node.get("kind") == part
        ):
            continue
        path.append(part)
        node = (
            node.get(part)
            if isinstance(node, dict)
            else (
                node[part]
                if isinstance(node, list) and isinstance(part, int) and part < len(node)
                else None
            )
        )
    return tuple(path)


def _problem(
    err: ErrorDetails,
    located: Located,
    env: dict[Path_, str],
    source: str,
    model: type[BaseModel] = Config,
) -> Problem:
    path = _data_path(err["loc"], located.data)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        valid = field_names(resolve(model, path[:-1]))
        guess = difflib.get_close_matches(str(path[-1]), valid, n=1)
        hint = f'did you mean "{guess[0]}"?' if guess else f"valid fields: {', '.join(valid)}"
        return _located(path, "unknown field", hint, located, env, source, key=True)
    if kind == "missing":
        return _located(
            path, "required field is missing", f'add "{path[-1]}:" here', located, env, source
        )
    if kind == "union_tag_invalid":
        ctx = err.get("ctx", {})
        return _located(
            (*path, "kind"),
            f"unknown kind {ctx.get('tag')!r}",
            f"valid kinds: {ctx.get('expected_tags')}",
            located,
            env,
            source,
        )
    if kind == "union_tag_not_found":
        return _located(path, "kind is missing", "add a kind: field", located, env, source)
    message = err["msg"].removeprefix("Value error, ")
    shown = repr(value)
    if (
        not isinstance(value, dict | list)
        and not message.startswith(shown)
        and not message.endswith(f"got {shown}")
    ):
        message = f"{message} (got {shown})"
    fix = "use apiVersion: perfops/v1" if path == ("apiVersion",) else None
    return _located(path, message, fix, located, env, source)


def _located(
    path: Path_,
    message: str,
    hint: str | None,
    located: Located,
    env: dict[Path_, str],
    source: str,
    *,
    key: bool = False,
) -> Problem:
    for i in range(len(path), 0, -1):
        if path[:i] in env:
            return Problem(f"env {env[path[:i]]}", _dotted(path), message, hint)
    pos = located.position(path, key=key)
    where = f"{source}:{pos[0]}:{pos[1]}" if pos else source
    return Problem(where, _dotted(path), message, hint)


def _names(data: Any, *path: str) -> list[tuple[int, Any]]:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    if not isinstance(data, list):
        return []
    return [(i, item.get("name")) for i, item in enumerate(data) if isinstance(item, dict)]


def _items(data: Any, *path: str) -> list[tuple[int, dict[str, Any]]]:
    for part in path:
        data = data.get(part) if isinstance(data, dict) else None
    return (
        [(i, x) for i, x in enumerate(data) if isinstance(x, dict)]
        if isinstance(data, list)
        else []
    )


def _cross_references(data: dict[str, Any]) -> list[tuple[Path_, str, str | None]]:
    """Names that must be unique and references that must resolve (checked on the raw data,
    so that these problems are reported together with the schema's)."""
    out: list[tuple[Path_, str, str | None]] = []
    for section in (
        ("services",),
        ("slos",),
        ("telemetry", "targets"),
        ("escalation", "receivers"),
        ("escalation", "schedules"),
    ):
        seen: set[str] = set()
        for i, name in _names(data, *section):
            if not isinstance(name, str):
                continue  # the schema reports a name that is not text
            if name in seen:
                out.append(
                    (
                        (*section, i, "name"),
                        f"duplicate name {name!r}",
                        "names must be unique within a section",
                    )
                )
            seen.add(name)
    services = [str(n) for _, n in _names(data, "services") if n is not None]
    for section in (("slos",), ("telemetry", "targets")):
        for i, item in _items(data, *section):
            ref = item.get("service")
            if isinstance(ref, str) and ref not in services:
                out.append(_unknown_ref((*section, i, "service"), ref, services, "service"))
    receivers = [str(n) for _, n in _names(data, "escalation", "receivers") if n is not None]
    for i, route in _items(data, "escalation", "routes"):
        names = route.get("receivers")
        for j, name in enumerate(names if isinstance(names, list) else []):
            if isinstance(name, str) and name not in receivers:
                out.append(
                    _unknown_ref(
                        ("escalation", "routes", i, "receivers", j), name, receivers, "receiver"
                    )
                )
    return out + _scrape_timing(data) + escalation_references(data)


def _seconds(value: Any) -> float | None:
    try:
        return parse_duration(value)
    except ValueError:
        return None  # the schema reports it


def _interval(value: Any) -> float | None:
    seconds = _seconds(value)
    if seconds is None or not MIN_SCRAPE_INTERVAL_S <= seconds <= MAX_SCRAPE_INTERVAL_S:
        return None  # the schema reports it
    return seconds


def _scrape_timing(data: dict[str, Any]) -> list[tuple[Path_, str, str | None]]:
    """A timeout written beside an interval (telemetry's, or a target's own or inherited one)
    must be below it: a scrape ends before the next is due. A timeout that is only inherited
    is capped at the interval instead, as Prometheus does."""
    tel = data.get("telemetry")
    tel = tel if isinstance(tel, dict) else {}
    interval = _interval(tel.get("interval", 15.0))
    out: list[tuple[Path_, str, str | None]] = []
    pairs: list[tuple[Path_, Any, float | None]] = [(("telemetry",), tel, interval)]
    for i, target in _items(data, "telemetry", "targets"):
        own = _interval(target["interval"]) if "interval" in target else interval
        pairs.append((("telemetry", "targets", i), target, own))
    for path, section, every in pairs:
        timeout = _seconds(section["timeout"]) if "timeout" in section else None
        if timeout is not None and every is not None and timeout >= every:
            out.append(
                (
                    (*path, "timeout"),
                    f"the timeout ({timeout:g} s) is not below the scrape interval ({every:g} s)",
                    "a scrape must end before the next one is due: lower the timeout or "
                    "raise the interval",
                )
            )
    return out


def _unknown_ref(
    path: Path_, name: str, known: list[str], what: str
) -> tuple[Path_, str, str | None]:
    guess = difflib.get_close_matches(name, known, n=1)
    hint = (
        f'did you mean "{guess[0]}"?'
        if guess
        else (f"known {what}s: {', '.join(known)}" if known else f"declare the {what} first")
    )
    return path, f"unknown {what} {name!r}", hint
