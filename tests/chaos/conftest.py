"""The chaos suite's ledger: every scenario adds what it injected and what it checked; a table ends the run.

The table is printed in pytest's terminal summary and written to test-artifacts/chaos-report.json.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest

from tests.support import REPO


@dataclass
class Ledger:
    scenarios: list[str] = field(default_factory=list)
    faults_injected: int = 0
    bad_inputs_tried: int = 0
    files_checked: int = 0
    files_lost: int = 0
    files_corrupted: int = 0
    stuck_jobs: int = 0
    peak_rss_mb: float = 0.0
    notes: list[str] = field(default_factory=list)

    def table(self) -> str:
        rows = [
            ("scenarios run", len(self.scenarios)),
            ("faults injected", self.faults_injected),
            ("bad inputs tried", self.bad_inputs_tried),
            ("files checked", self.files_checked),
            ("files lost", self.files_lost),
            ("files corrupted", self.files_corrupted),
            ("stuck jobs", self.stuck_jobs),
            ("peak RSS (MB)", round(self.peak_rss_mb, 1)),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"{name:<{width}}  {value}" for name, value in rows)


LEDGER = Ledger()


@pytest.fixture
def ledger(request: pytest.FixtureRequest) -> Iterator[Ledger]:
    LEDGER.scenarios.append(request.node.name)
    yield LEDGER


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not LEDGER.scenarios:
        return
    terminalreporter.section("chaos report")
    terminalreporter.write_line(LEDGER.table())
    for note in LEDGER.notes:
        terminalreporter.write_line(f"  - {note}")
    out = REPO / "test-artifacts"
    out.mkdir(exist_ok=True)
    (out / "chaos-report.json").write_text(json.dumps(asdict(LEDGER), indent=2))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.chaos)
