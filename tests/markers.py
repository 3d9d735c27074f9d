"""The test pyramid's markers, applied in one place: unit, integration, e2e, chaos, slow, desktop.

unit: asks for no fixture that touches the world (no tmp_path, no engine, no shared model); integration: real
SQLite, exiftool, watchdog (the default); e2e: the real `image-engine run` process (the `engine_factory` fixture,
or `tests.support.Engine` started by the test itself); chaos: tests/chaos/; desktop: a real X session; slow: what
`--durations` showed takes several seconds. The quick loop is `scripts/run-tests.sh -m "not slow and not chaos"`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

TESTS = Path(__file__).parent
# Fixtures that leave the test's own memory alone: a test asking for nothing else is a unit test.
HARMLESS_FIXTURES = frozenset({"request", "monkeypatch", "caplog", "capsys", "capfd", "recwarn", "no_leaked_threads"})
E2E_FIXTURES = frozenset({"engine_factory"})
DESKTOP_FILES = frozenset({"test_tray_desktop.py"})
# Files whose tests start the engine process through tests.support.Engine themselves.
E2E_FILES = frozenset({"test_crash.py", "test_service.py", "test_tray_desktop.py"})
# Test files (every test in them) and single tests that take several seconds each (measured with --durations).
SLOW_FILES = frozenset({"test_crash.py", "test_tray_desktop.py"})
SLOW_TESTS = frozenset(
    {
        "test_service.py::test_real_user_manager_runs_the_unit",
        "test_service.py::test_engine_reports_ready_status_watchdog_and_stopping",
        "test_metadata_engine.py::test_engine_writes_keywords_into_an_in_place_folder_exactly_once",
        "test_rename.py::test_kill_9_during_a_run_of_50_files_then_restart_files_each_exactly_once",
        "test_rename.py::test_a_drop_of_100_photos_is_filed_with_counters_and_undo_all_restores_every_path",
    }
)


def markers_for(item: pytest.Item) -> list[str]:
    path = Path(str(item.fspath))
    name = f"{path.name}::{getattr(item, 'originalname', item.name)}"
    fixtures = set(getattr(item, "fixturenames", ()))
    found = []
    if TESTS / "chaos" in path.parents:
        found.append("chaos")
    if path.name in DESKTOP_FILES:
        found.append("desktop")
    if fixtures & E2E_FIXTURES or path.name in E2E_FILES:
        found.append("e2e")
    elif not fixtures - HARMLESS_FIXTURES:
        found.append("unit")
    else:
        found.append("integration")
    if path.name in SLOW_FILES or name in SLOW_TESTS:
        found.append("slow")
    return found


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for marker in markers_for(item):
            item.add_marker(getattr(pytest.mark, marker))
