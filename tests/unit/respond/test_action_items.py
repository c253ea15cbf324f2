"""Action items read from a postmortem's Markdown: task-list items under `## Action items`,
open (`- [ ]`) or done (`- [x]`), each with its file and line, owner and due date; the
template's unwritten placeholders, other sections and code blocks are not action items."""

from __future__ import annotations

import datetime as dt

from perfops.respond.action_items import parse_action_items
from perfops.respond.postmortem import HUMAN

POSTMORTEM = f"""\
# Postmortem: chat answers slowly

## Summary

- [ ] not an action item: outside the section

## Action items

One action a line, as a task list: `- [ ] action (owner, YYYY-MM-DD)`.

- [ ] Alert on KV-cache usage above 90% (alice, 2026-12-20) · prevent · OPS-1 · sev2_20261203
- [x] Roll back the tokenizer change (bob, 2026-12-04) · mitigate
* [X] Page the model team too
- [ ] {HUMAN} (owner, YYYY-MM-DD) · mitigate / prevent · ticket · sev2_20261203
  - [ ] Load test at 2x peak before the next release (carol)
1. [ ] Add a drill for KV-cache pressure (2027-01-15, dan)
- [] malformed: no space in the box
- plain bullet

```
- [ ] inside a code block
```

### Follow-ups

- [ ] a sub-heading is still part of the section (erin)

## Lessons learned

- [ ] after the section: not read
"""


def test_open_and_done_items_with_their_file_and_line() -> None:
    items = parse_action_items(POSTMORTEM, "postmortems/inc-1.md")
    lines = POSTMORTEM.splitlines()
    assert [(i.text[:24], i.done) for i in items] == [
        ("Alert on KV-cache usage ", False),
        ("Roll back the tokenizer ", True),
        ("Page the model team too", True),
        ("Load test at 2x peak bef", False),
        ("Add a drill for KV-cache", False),
        ("a sub-heading is still p", False),
    ]
    for item in items:
        assert item.text in lines[item.line - 1]  # the line number is 1-based and right
        assert item.where == f"postmortems/inc-1.md:{item.line}"
        assert item.title == "Postmortem: chat answers slowly"


def test_owner_and_due_date_from_the_parenthesis() -> None:
    items = {i.text.split(" (")[0]: i for i in parse_action_items(POSTMORTEM, "pm.md")}
    alert = items["Alert on KV-cache usage above 90%"]
    assert (alert.owner, alert.due) == ("alice", dt.date(2026, 12, 20))
    drill = items["Add a drill for KV-cache pressure"]
    assert (drill.owner, drill.due) == ("dan", dt.date(2027, 1, 15))
    load = items["Load test at 2x peak before the next release"]
    assert (load.owner, load.due) == ("carol", None)
    assert (items["Page the model team too"].owner, items["Page the model team too"].due) == (
        None, None,
    )  # fmt: skip


def test_a_postmortem_without_the_section_or_with_only_placeholders_has_none() -> None:
    assert parse_action_items("# Postmortem\n\n- [ ] a task elsewhere\n", "a.md") == []
    blank = f"# P\n\n## Action items\n\n- [ ] {HUMAN} (owner, YYYY-MM-DD)\n"
    assert parse_action_items(blank, "b.md") == []


def test_a_bad_date_is_no_due_date() -> None:
    [item] = parse_action_items("## Action Items:\n- [ ] x (ana, 2026-02-30)\n", "c.md")
    assert (item.owner, item.due, item.line) == ("ana", None, 2)
