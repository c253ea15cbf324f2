"""The escalation policy's references, checked on the raw data so that each problem is located
(file:line:col) and reported together with the schema's: a step or role naming an unknown
schedule, a person on no schedule, a step's unknown receiver, a person on call twice in one
rotation."""

from __future__ import annotations

import difflib
from typing import Any

from perfops.config._yaml import Path_

__all__ = ["escalation_references"]

Found = tuple[Path_, str, str | None]


def _list(data: Any, key: str) -> list[Any]:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, list) else []


def _texts(values: list[Any]) -> list[str]:
    return [v for v in values if isinstance(v, str)]


def _schedules(escalation: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in _list(escalation, "schedules"):
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            people = item.get("people")
            out[item["name"]] = (
                [p for p in people if isinstance(p, str)] if isinstance(people, list) else []
            )
    return out


def _unknown(path: Path_, name: str, schedules: dict[str, list[str]]) -> Found:
    people = sorted({p for names in schedules.values() for p in names})
    guess = difflib.get_close_matches(name, [*schedules, *people], n=1)
    if guess:
        hint = f'did you mean "{guess[0]}"?'
    elif schedules:
        hint = f"schedules: {', '.join(schedules)}; people: {', '.join(people) or 'none'}"
    else:
        hint = "declare it under escalation.schedules (a rotation with its people)"
    return path, f"{name!r} is neither a schedule nor a person on any schedule", hint


def _who(path: Path_, value: Any, schedules: dict[str, list[str]]) -> list[Found]:
    people = {p for names in schedules.values() for p in names}
    if isinstance(value, str) and value not in schedules and value not in people:
        return [_unknown(path, value, schedules)]
    return []


def _steps(escalation: Any, schedules: dict[str, list[str]]) -> list[Found]:
    receivers = _texts(
        [r.get("name") for r in _list(escalation, "receivers") if isinstance(r, dict)]
    )
    out: list[Found] = []
    for i, step in enumerate(_list(escalation, "steps")):
        path: Path_ = ("escalation", "steps", i)
        for j, name in enumerate(_list(step, "notify")):
            out += _who((*path, "notify", j), name, schedules)
        receiver = step.get("receiver") if isinstance(step, dict) else None
        if isinstance(receiver, str) and receiver not in receivers:
            guess = difflib.get_close_matches(receiver, receivers, n=1)
            hint = f'did you mean "{guess[0]}"?' if guess else (
                f"known receivers: {', '.join(receivers)}" if receivers else
                "declare it under escalation.receivers"
            )  # fmt: skip
            out.append(((*path, "receiver"), f"unknown receiver {receiver!r}", hint))
    return out


def _doubles(escalation: Any) -> list[Found]:
    out: list[Found] = []
    for i, item in enumerate(_list(escalation, "schedules")):
        seen: set[str] = set()
        for j, person in enumerate(_list(item, "people")):
            if not isinstance(person, str):
                continue  # the schema reports it
            if person in seen:
                out.append(
                    (
                        ("escalation", "schedules", i, "people", j),
                        f"{person!r} is twice in this rotation",
                        "list each person once; a longer rotation gives more time on call",
                    )
                )
            seen.add(person)
    return out


def escalation_references(data: dict[str, Any]) -> list[Found]:
    """Every broken reference of ``data["escalation"]``, as (data path, message, hint)."""
    escalation = data.get("escalation")
    if not isinstance(escalation, dict):
        return []
    schedules = _schedules(escalation)
    roles = escalation.get("roles")
    out = _steps(escalation, schedules) + _doubles(escalation)
    for role, who in roles.items() if isinstance(roles, dict) else ():
        out += _who(("escalation", "roles", role), who, schedules)
    return out
