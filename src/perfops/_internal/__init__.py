"""Private helpers shared by several concepts: clock, ids, durations. Not public API."""
