"""`--config FILE` works before or after the command, as the README writes it: `image-engine run --config my.toml`."""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from daemon.cli import build_parser
from tests.support import REPO, wait_for, write_config


def leaf_commands(parser: argparse.ArgumentParser, names: tuple[str, ...] = ()) -> dict[tuple[str, ...], object]:
    found: dict[tuple[str, ...], object] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                found.update(leaf_commands(sub, (*names, name)) or {(*names, name): sub})
    return found


def test_every_command_accepts_config_after_its_name() -> None:
    commands = leaf_commands(build_parser())
    assert ("run",) in commands and ("config", "check") in commands and len(commands) > 15
    missing = [" ".join(names) for names, sub in commands.items() if "--config" not in sub._option_string_actions]
    assert not missing, f"no --config after: {missing}"
    parser = build_parser()
    assert parser.parse_args(["run", "--config", "my.toml"]).config == "my.toml"
    assert parser.parse_args(["--config", "my.toml", "status"]).config == "my.toml"
    assert parser.parse_args(["config", "check", "x.toml", "--config", "my.toml"]).config == "my.toml"


def test_image_engine_run_with_config_after_the_command_runs_the_service(tmp_path: Path) -> None:
    config = write_config(tmp_path)

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "daemon", *args], cwd=REPO, capture_output=True, text=True)

    with open(tmp_path / "engine.out", "wb") as log:
        service = subprocess.Popen(
            [sys.executable, "-m", "daemon", "run", "--config", str(config)],
            cwd=REPO,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_for(
                lambda: service.poll() is not None or cli("status", "--config", str(config)).returncode == 0,
                30,
                message="the service answers",
            )
            assert service.poll() is None, (tmp_path / "engine.out").read_text()
            status = json.loads(cli("status", "--json", "--config", str(config)).stdout)
            assert status["data_dir"] == str(tmp_path / "data")
        finally:
            os.killpg(service.pid, signal.SIGTERM)
            assert service.wait(timeout=20) == 0
