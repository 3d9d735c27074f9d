"""What `image-engine status` and the control API answer: "done today" from the user's midnight, and a clear 400
for a request that lacks its `path`."""

from __future__ import annotations

import sqlite3
import time

import pytest

from daemon.control.client import ApiError, ControlClient
from tests.support import Engine, copy_in, corpus

HOUR = 3600.0


def zone_where_utc_and_local_days_differ(now: float) -> tuple[str, float, int]:
    """A time zone, a finish time before now, and how many jobs that zone counts as done today.

    Before UTC noon, UTC-12 is still on the previous day: a job an hour before UTC midnight is done "today" there.
    From UTC noon, UTC+12 is already on the next day: a job an hour after UTC midnight was done "yesterday" there.
    """
    utc_midnight = now - now % 86400
    if now - utc_midnight < 12 * HOUR:
        return "Etc/GMT+12", utc_midnight - HOUR, 1
    return "Etc/GMT-12", utc_midnight + HOUR, 0


def test_done_today_counts_from_local_midnight(engine_factory, monkeypatch) -> None:
    zone, finished, expected = zone_where_utc_and_local_days_differ(time.time())
    monkeypatch.setenv("TZ", zone)  # the engine subprocess lives in that zone
    engine: Engine = engine_factory()
    copy_in([corpus() / "labelled" / "felix_316.jpg"], engine.drop)
    engine.wait_idle(1)
    assert engine.status()["done_today"] == 1, "done just now: today in any zone"

    with sqlite3.connect(engine.data / "image-engine.db", timeout=30) as conn:
        conn.execute("UPDATE jobs SET finished_at = ? WHERE state = 'done'", (finished,))
    assert engine.status()["done_today"] == expected, (zone, finished)


@pytest.mark.parametrize("route", ["/tags", "/similar"])
def test_a_photo_route_without_a_path_is_a_bad_request_that_says_so(engine_factory, route: str) -> None:
    engine: Engine = engine_factory()
    with pytest.raises(ApiError) as answer:
        ControlClient(engine.data).get(route)
    assert answer.value.status == 400 and "path is missing" in str(answer.value)
    with pytest.raises(ApiError) as unknown:
        ControlClient(engine.data).get(f"{route}?path=/nowhere/photo.jpg")
    assert unknown.value.status == 404 and "/nowhere/photo.jpg is not a file the engine knows" in str(unknown.value)
