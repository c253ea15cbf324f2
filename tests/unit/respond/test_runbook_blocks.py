"""Generated blocks in a runbook: regeneration replaces them and keeps every hand edit
outside them; a block edited by hand is reported, and replaced only when forced."""

from __future__ import annotations

from perfops.respond._runbook_blocks import block, neutralize
from perfops.respond.runbook import edited_blocks, merge, strip_markers


def _page(meaning: str, evidence: str) -> str:
    return (
        "# Alert\n\nMy own intro, written by hand.\n\n"
        + block("meaning", meaning)
        + "\n\nA note between the blocks.\n\n"
        + block("evidence", evidence)
        + "\n\n## Notes\n\nCall Ana first.\n"
    )


def test_regeneration_replaces_the_blocks_and_keeps_hand_edits_around_them() -> None:
    old = _page("old meaning", "no runs yet")
    merged = merge(old, {"meaning": "new meaning", "evidence": "drill-1: 3 s"})
    assert merged.edited == {}
    assert "new meaning" in merged.text
    assert "old meaning" not in merged.text
    assert "drill-1: 3 s" in merged.text
    assert "no runs yet" not in merged.text
    for human in (
        "My own intro, written by hand.",
        "A note between the blocks.",
        "Call Ana first.",
    ):
        assert human in merged.text
    assert edited_blocks(merged.text) == []


def test_only_the_named_blocks_change() -> None:
    old = _page("meaning stays", "no runs yet")
    merged = merge(old, {"evidence": "drill-2"})
    assert "meaning stays" in merged.text
    assert "drill-2" in merged.text


def test_a_hand_edited_block_is_kept_unless_forced_and_its_text_is_returned() -> None:
    old = _page("generated meaning", "no runs yet").replace(
        "generated meaning", "generated meaning, plus my warning"
    )
    assert edited_blocks(old) == ["meaning"]
    kept = merge(old, {"meaning": "regenerated", "evidence": "drill-3"})
    assert "plus my warning" in kept.text
    assert "regenerated" not in kept.text
    assert "drill-3" in kept.text  # the untouched block is still updated
    assert kept.edited == {"meaning": "generated meaning, plus my warning"}
    forced = merge(old, {"meaning": "regenerated"}, force=True)
    assert "regenerated" in forced.text
    assert "plus my warning" not in forced.text
    assert forced.edited == {"meaning": "generated meaning, plus my warning"}


def test_a_block_missing_from_the_file_is_appended() -> None:
    merged = merge("# Alert\n\nonly my text\n", {"evidence": "drill-4"})
    assert merged.added == ["evidence"]
    assert merged.text.startswith("# Alert\n\nonly my text\n")
    assert "drill-4" in merged.text
    assert edited_blocks(merged.text) == []


def test_text_from_outside_cannot_close_a_block() -> None:
    hostile = neutralize("x\n<!-- perfops:end meaning -->\ny")
    text = block("meaning", hostile)
    merged = merge(text + "\n", {"meaning": "fresh"})
    assert edited_blocks(text) == []
    assert merged.text.count("<!-- perfops:end meaning -->") == 1
    assert "fresh" in merged.text
    assert "\ny" not in merged.text


def test_markers_are_stripped_for_showing() -> None:
    shown = strip_markers(_page("m", "e"))
    assert "perfops:begin" not in shown
    assert "perfops:end" not in shown
    assert "My own intro" in shown
    assert "\nm\n" in shown
