"""Work-hours windows ("22:00-07:00, 12:00-13:00"): parsed at config load, asked "is now inside?".

Heavy stages run only inside the windows; `WorkHours.gate` is the pipeline gate that says why they wait.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from daemon.pipeline.base import Stage

_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_CLOCK = re.compile(r"^(\d{1,2}):(\d{2})$")
EXPECTED = 'windows like "22:00-07:00" (24-hour HH:MM-HH:MM, several separated by commas), or "" for any time'


@dataclass(frozen=True)
class Window:
    """Minutes after midnight; `end` <= `start` means the window crosses midnight."""

    start: int
    end: int  # up to 24 * 60 ("24:00")

    def contains(self, minute: int) -> bool:
        if self.start < self.end:
            return self.start <= minute < self.end
        return minute >= self.start or minute < self.end

    def __str__(self) -> str:
        return f"{_hhmm(self.start)}-{_hhmm(self.end)}"


def parse_windows(text: str) -> list[Window]:
    """Parse `[schedule] work_hours`; raises ValueError naming the bad part. Empty text = no windows."""
    if not text.strip():
        return []
    windows = []
    for part in (piece.strip() for piece in text.split(",")):
        match = _WINDOW.match(part)
        if not match:
            raise ValueError(f"expected {EXPECTED}, got {part!r}")
        start_h, start_m, end_h, end_m = (int(group) for group in match.groups())
        if start_h > 23 or start_m > 59 or end_m > 59 or end_h > 24 or (end_h == 24 and end_m):
            raise ValueError(f"{part!r} is not a time of day (00:00 to 24:00)")
        start, end = start_h * 60 + start_m, end_h * 60 + end_m
        if start == end:
            raise ValueError(f"{part!r} starts and ends at the same time (leave work_hours empty for any time)")
        windows.append(Window(start, end))
    return windows


def parse_clock(text: str) -> time:
    """Parse "HH:MM" (e.g. `[schedule] maintenance_at`); raises ValueError."""
    match = _CLOCK.match(text.strip())
    if not match or int(match.group(1)) > 23 or int(match.group(2)) > 59:
        raise ValueError(f'expected a 24-hour time like "03:30", got {text!r}')
    return time(int(match.group(1)), int(match.group(2)))


class WorkHours:
    """The configured windows plus a clock; `now` is injectable so tests drive time without sleeping."""

    def __init__(self, text: str, now: Callable[[], datetime] = datetime.now):
        self.windows = parse_windows(text)
        self.text = ", ".join(str(window) for window in self.windows)
        self.now = now

    def inside(self, moment: datetime | None = None) -> bool:
        if not self.windows:
            return True
        moment = moment or self.now()
        minute = moment.hour * 60 + moment.minute
        return any(window.contains(minute) for window in self.windows)

    def next_start(self, moment: datetime | None = None) -> datetime | None:
        """When the next window opens after `moment` (None when there are no windows)."""
        if not self.windows:
            return None
        moment = (moment or self.now()).replace(second=0, microsecond=0)
        midnight = moment.replace(hour=0, minute=0)
        candidates = []
        for window in self.windows:
            opens = midnight + timedelta(minutes=window.start)
            candidates.append(opens if opens > moment else opens + timedelta(days=1))
        return min(candidates)

    def reason(self, moment: datetime | None = None) -> str | None:
        moment = moment or self.now()
        if self.inside(moment):
            return None
        opens = self.next_start(moment)
        assert opens is not None
        when = opens.strftime("%H:%M") if opens.date() == moment.date() else opens.strftime("%H:%M tomorrow")
        return f"outside work hours {self.text}; resumes at {when}"

    def gate(self, stage: Stage) -> str | None:
        """Pipeline gate: heavy stages wait outside the windows; light stages always run."""
        return self.reason() if stage.heavy else None


def _hhmm(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"
