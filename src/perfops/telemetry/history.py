"""History read from Prometheus, shaped as the lake's samples: pure parts of `collect import`.

- :class:`RawChunks` cuts ``[start, end]`` into left-open windows ``(lo, hi]`` whose raw reads
  stay near a target size (the next window grows or shrinks with the last answer, and halves
  when the server says a read loads too many samples).
- :class:`GapMarkers` puts a staleness marker where raw samples show a gap. A range read
  returns no staleness markers (Prometheus drops them), so a series that ends or pauses is seen
  as a gap longer than 1.5 of its scrape intervals; the marker goes one interval after the
  last sample, where the scrape that missed it would have written one.
- :class:`LookbackTrim` takes ``query_range`` points of an expression and drops the flat
  points that only the 5-minute lookback made (an instant selector keeps showing a series'
  last sample for 5 minutes after it ends), putting a staleness marker in their place.
"""

from __future__ import annotations

import statistics
from collections import deque
from collections.abc import Iterable, Sequence

from perfops.telemetry.series import STALE_NAN

__all__ = ["LOOKBACK_MS", "GapMarkers", "LookbackTrim", "RawChunks"]

LOOKBACK_MS = 300_000  # Prometheus' default --query.lookback-delta
Point = tuple[int, float]


class RawChunks:
    """Left-open windows ``(lo, hi]`` covering ``[start_ms, end_ms]`` exactly once."""

    def __init__(
        self,
        start_ms: int,
        end_ms: int,
        *,
        first_ms: int = 3_600_000,
        target_samples: int = 250_000,
        max_ms: int = 86_400_000,
    ) -> None:
        self.lo = start_ms - 1  # (start - 1 ms, ...] holds a sample at start itself
        self.end_ms = end_ms
        self.span = first_ms
        self.target = target_samples
        self.max_ms = max_ms

    def next(self) -> tuple[int, int] | None:
        """The next window, or None when the range is covered."""
        if self.lo >= self.end_ms:
            return None
        return self.lo, min(self.end_ms, self.lo + self.span)

    def done(self, hi: int, samples: int) -> None:
        """The window ending at ``hi`` was read and held ``samples``: move on, resized."""
        self.lo = hi
        if samples > self.target:
            self.span = max(1, self.span * self.target // samples)
        elif samples < self.target // 4:
            self.span = min(self.max_ms, self.span * 2)

    def too_big(self) -> bool:
        """The server refused the window as too many samples: halve it. False when a window
        of one millisecond was refused (nothing smaller can be asked)."""
        if self.span <= 1:
            return False
        self.span //= 2
        return True


def _interval(deltas: Sequence[int]) -> int:
    """A series' scrape interval from its sample spacing: the median, to 100 ms from 1 s on
    (so that a few ms of scrape jitter give the same interval whatever the window)."""
    mid = int(statistics.median(deltas))
    return max(1, round(mid, -2)) if mid >= 1000 else max(1, mid)


class GapMarkers:
    """Where raw samples of each series show a gap, the staleness markers to store."""

    def __init__(self) -> None:
        self._last: dict[int, int] = {}
        self._interval: dict[int, int] = {}
        self._marked: set[int] = set()  # stale since its last sample: marker written

    def window(self, series: dict[int, Sequence[int]], hi: int) -> dict[int, list[int]]:
        """Marker timestamps per series for one window ending at ``hi``, given the (sorted)
        sample timestamps each series has in it; series read before but absent here count."""
        out: dict[int, list[int]] = {}
        for key, stamps in series.items():
            marks = self._inside(key, stamps)
            if marks:
                out[key] = marks
        for key in self._last:
            mark = self._silent(key, hi)
            if mark is not None:
                out.setdefault(key, []).append(mark)
        return out

    def _inside(self, key: int, stamps: Sequence[int]) -> list[int]:
        if not stamps:
            return []
        prev = self._last.get(key)
        run = [prev, *stamps] if prev is not None else list(stamps)
        deltas = [b - a for a, b in zip(run, run[1:], strict=False)]
        if len(deltas) >= 4 or (deltas and key not in self._interval):  # a few: keep the last
            self._interval[key] = _interval(deltas)
        step = self._interval.get(key)
        marks = []
        if step is not None:
            for a, b in zip(run, run[1:], strict=False):
                if b - a > 1.5 * step and not (a == prev and key in self._marked):
                    marks.append(a + step)
        self._marked.discard(key)
        self._last[key] = stamps[-1]
        return marks

    def _silent(self, key: int, hi: int) -> int | None:
        step = self._interval.get(key)
        last = self._last[key]
        if step is None or key in self._marked or hi - last <= 1.5 * step:
            return None
        self._marked.add(key)
        return last + step


class LookbackTrim:
    """``query_range`` points of one expression, per series, without lookback padding.

    Feed each series' points window by window (:meth:`add`), then :meth:`finish` at the end
    of the range. A run of equal values that ends where the series disappears (a missing step,
    or the range's end passed) keeps its first point and the points more than a lookback
    before the disappearance; the later ones are what the lookback repeated after the last
    sample and are dropped, a staleness marker taking the first one's place. Real flat values
    in a series' last 5 minutes before it disappears look the same and are dropped too."""

    def __init__(self, step_ms: int, end_ms: int, lookback_ms: int = LOOKBACK_MS) -> None:
        self.step = step_ms
        self.end_ms = end_ms
        self.lookback = lookback_ms
        self._run: dict[int, deque[Point]] = {}  # the trailing run of equal values
        self._first: dict[int, bool] = {}  # is the run's head its first point?

    def add(self, key: int, points: Iterable[Point]) -> list[Point]:
        """Points of ``key`` (in time order) now known to stay; later ones wait."""
        out: list[Point] = []
        run = self._run.setdefault(key, deque())
        for ts, value in points:
            if run and ts - run[-1][0] > self.step:  # steps missing: it disappeared
                out += self._ended(key, run[-1][0] + self.step)
            if run and value != run[-1][1]:
                out += run
                run.clear()
            if not run:
                self._first[key] = True
            run.append((ts, value))
            while len(run) > 1 and run[0][0] <= ts - self.lookback - self.step:
                out.append(run.popleft())  # too old to be padding
                self._first[key] = False
        return out

    def _ended(self, key: int, gone_ms: int) -> list[Point]:
        run = self._run[key]
        cut = gone_ms - self.lookback - self.step
        head = 1 if self._first[key] else 0  # the run's first point is a real value
        points = list(run)
        kept = points[:head] + [p for p in points[head:] if p[0] <= cut]
        dropped = [p for p in points[head:] if p[0] > cut]
        run.clear()
        return [*kept, (dropped[0][0] if dropped else gone_ms, STALE_NAN)]

    def finish(self) -> dict[int, list[Point]]:
        """What remains of every series at the end of the range."""
        out = {}
        for key, run in self._run.items():
            if not run:
                continue
            gone = run[-1][0] + self.step
            out[key] = self._ended(key, gone) if gone <= self.end_ms else list(run)
        return out
