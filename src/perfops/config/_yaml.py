"""YAML to plain data, keeping where each key and value stands in the file."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml

from perfops.errors import ConfigError, Problem

__all__ = ["Located", "Path_", "load_located"]

Path_ = tuple[str | int, ...]
_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Located:
    """Parsed data plus the 1-based (line, column) of every value and every mapping key."""

    data: Any
    values: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    keys: dict[Path_, tuple[int, int]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def position(self, path: Path_, *, key: bool = False) -> tuple[int, int] | None:
        """Where ``path`` stands (its key when ``key``), else where its nearest parent does."""
        if key and path in self.keys:
            return self.keys[path]
        for i in range(len(path), -1, -1):
            if path[:i] in self.values:
                return self.values[path[:i]]
        return None


def _mark(node: yaml.Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


def _walk(
    loader: yaml.SafeLoader,
    node: yaml.Node,
    path: Path_,
    out: Located,
    problems: list[Problem],
    source: str,
) -> Any:
    out.values[path] = _mark(node)
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if key == "<<":
                problems.append(
                    Problem(
                        f"{source}:{_mark(key_node)[0]}:{_mark(key_node)[1]}",
                        _dotted(path),
                        "YAML merge keys (<<) are not supported",
                        "write the fields out in full",
                    )
                )
                continue
            if not isinstance(key, str | int):
                key = str(key)
            if key in result:
                line, col = _mark(key_node)
                problems.append(
                    Problem(
                        f"{source}:{line}:{col}",
                        _dotted((*path, key)),
                        "duplicate key",
                        "keep one of the two entries",
                    )
                )
            out.keys[(*path, key)] = _mark(key_node)
            result[key] = _walk(loader, value_node, (*path, key), out, problems, source)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _walk(loader, item, (*path, i), out, problems, source)
            for i, item in enumerate(node.value)
        ]
    return loader.construct_object(node, deep=True)


def _dotted(path: Path_) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _syntax_problem(exc: yaml.MarkedYAMLError, source: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    where = f"{source}:{mark.line + 1}:{mark.column + 1}" if mark else source
    what = " ".join(p for p in (exc.context, exc.problem) if p) or "invalid YAML"
    return Problem(
        where,
        "",
        f"YAML syntax error: {what}",
        "check the indentation and quoting on this line and the one before",
    )


def _reader_problem(exc: yaml.reader.ReaderError, text: str, source: str) -> Problem:
    """A character YAML does not allow (a control character), where it stands."""
    at = exc.position
    line, column = text.count("\n", 0, at) + 1, at - text.rfind("\n", 0, at)
    char = exc.character if isinstance(exc.character, int) else ord(str(exc.character)[:1] or " ")
    return Problem(
        f"{source}:{line}:{column}",
        "",
        f"character {char:#06x} is not allowed in YAML (control characters are not)",
        "remove it; inside a double-quoted string, write it as an escape such as \\x1f",
    )


def load_located(text: str, source: str) -> Located:
    """Parse one YAML document; a syntax error raises ConfigError with its position, and
    softer problems (duplicate keys) are returned in ``problems`` for the caller to report."""
    try:
        loader = _Loader(text)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_problem(exc, text, source)], source=source) from None
    out = Located(data=None)
    try:
        node = loader.get_single_node()
        if node is not None:
            out.data = _walk(loader, node, (), out, out.problems, source)
    except yaml.reader.ReaderError as exc:
        raise ConfigError([_reader_problem(exc, text, source)], source=source) from None
    except yaml.MarkedYAMLError as exc:
        raise ConfigError([_syntax_problem(exc, source)], source=source) from None
    except RecursionError:
        problem = Problem(source, "", "nested too deeply", "flatten the document")
        raise ConfigError([problem], source=source) from None
    finally:
        loader.dispose()
    return out
