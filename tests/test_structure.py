"""The shape of the house: no import cycles in daemon/, tray/, service/; one CLI parser behind every entry point;
`daemon/` itself holds only the package face, `__main__`, `cli` and `errors` beside its packages (`config` one of them).
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

from tests.support import REPO

PACKAGES = ("daemon", "tray", "service")


def module_files(root: Path) -> dict[str, tuple[Path, bool]]:
    """Dotted module name -> (file, is a package's __init__)."""
    found: dict[str, tuple[Path, bool]] = {}
    for package in PACKAGES:
        for file in sorted((root / package).rglob("*.py")):
            parts = list(file.relative_to(root).with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            found[".".join(parts[:-1] if is_package else parts)] = (file, is_package)
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    """Every import of our own modules, wherever it stands: top level, inside functions, under TYPE_CHECKING."""
    modules = module_files(root)

    def ours(name: str) -> str | None:
        while name and name not in modules:
            name = name.rpartition(".")[0]
        return name or None

    graph: dict[str, set[str]] = {name: set() for name in modules}
    for name, (file, is_package) in modules.items():
        package = name if is_package else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"), str(file))):
            targets: list[str | None] = []
            if isinstance(node, ast.Import):
                targets = [ours(alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    parent = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join([*parent, base] if base else parent)
                for alias in node.names:  # `from daemon.store import queue` imports the module daemon.store.queue
                    full = f"{base}.{alias.name}"
                    targets.append(full if full in modules else ours(base))
            graph[name].update(target for target in targets if target and target != name)
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_there_are_no_import_cycles() -> None:
    graph = import_graph(REPO)
    assert len(graph) > 100 and "daemon.store.queue" in graph["daemon.pipeline.workers"]  # the walk sees imports
    assert cycles(graph) == []


def test_the_cycle_finder_sees_a_cycle_hidden_under_type_checking(tmp_path: Path) -> None:
    (tmp_path / "daemon" / "control").mkdir(parents=True)
    (tmp_path / "tray").mkdir()
    (tmp_path / "service").mkdir()
    (tmp_path / "daemon" / "__init__.py").write_text("")
    (tmp_path / "daemon" / "control" / "__init__.py").write_text("")
    (tmp_path / "daemon" / "app.py").write_text("from daemon.control import api\n")
    (tmp_path / "daemon" / "control" / "api.py").write_text(
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from daemon.app import App\n"
    )
    assert cycles(import_graph(tmp_path)) == [["daemon.app", "daemon.control.api"]]


def listed_commands(argv: list[str]) -> list[str]:
    shown = subprocess.run(argv + ["--help"], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0, shown.stderr
    choices = re.search(r"\{([a-z,-]+)\}", shown.stdout)
    assert choices, shown.stdout
    return choices[1].split(",")


def test_every_entry_point_lists_the_same_commands() -> None:
    script = Path(sys.executable).parent / "image-engine"
    assert script.exists(), f"{script} missing: install the project (scripts/setup-test.sh) for its entry point"
    module_cli = listed_commands([sys.executable, "-m", "daemon.cli"])
    package = listed_commands([sys.executable, "-m", "daemon"])
    installed = listed_commands([str(script)])
    assert module_cli == package == installed
    assert {"run", "status", "jobs", "config", "tags", "dupes", "undo", "service", "tray"} <= set(module_cli)


def test_daemon_top_level_holds_only_the_package_face() -> None:
    loose = sorted(file.stem for file in (REPO / "daemon").glob("*.py"))
    assert loose == ["__init__", "__main__", "cli", "errors"]


def test_the_slow_list_names_tests_that_exist() -> None:
    from tests.markers import SLOW_FILES, SLOW_TESTS

    defined = set()
    for file in (REPO / "tests").glob("test_*.py"):
        tree = ast.parse(file.read_text(encoding="utf-8"))
        defined |= {f"{file.name}::{node.name}" for node in tree.body if isinstance(node, ast.FunctionDef)}
    assert SLOW_TESTS - defined == set()
    assert {name for name in SLOW_FILES if not (REPO / "tests" / name).exists()} == set()
