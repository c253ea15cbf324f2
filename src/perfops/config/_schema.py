"""Walk the config models by field path: which fields exist where (for hints and env vars)."""

from __future__ import annotations

import types
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel

__all__ = ["field_names", "resolve"]


def _strip(tp: Any) -> Any:
    while get_origin(tp) is Annotated:
        tp = get_args(tp)[0]
    return tp


def _models_in(tp: Any) -> list[type[BaseModel]]:
    tp = _strip(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [tp]
    if get_origin(tp) in (Union, types.UnionType):
        return [m for arg in get_args(tp) for m in _models_in(arg)]
    return []


def _step(tp: Any, part: str | int) -> Any | None:
    """The type found one step below ``tp`` at ``part``; None when there is no such field."""
    tp = _strip(tp)
    origin = get_origin(tp)
    if origin in (tuple, list):
        return get_args(tp)[0] if isinstance(part, int) else None
    if origin is dict:
        return get_args(tp)[1]
    for model in _models_in(tp):
        for name, info in model.model_fields.items():
            if part in (name, info.alias):
                return info.annotation
    return None


def resolve(root: type[BaseModel], path: tuple[str | int, ...]) -> Any | None:
    """The annotation at ``path`` below ``root``, or None if the path names no field."""
    tp: Any = root
    for part in path:
        tp = _step(tp, part)
        if tp is None:
            return None
    return tp


def field_names(tp: Any) -> list[str]:
    """The field names a mapping of type ``tp`` accepts (empty if it is not a model)."""
    names: list[str] = []
    for model in _models_in(tp):
        for name, info in model.model_fields.items():
            key = info.alias or name
            if key not in names:
                names.append(key)
    return names
