"""Config validation: every problem names file, dotted key and value; the sample config stays valid."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from daemon.config import load_config, parse_config
from daemon.errors import ConfigError
from tests.support import REPO


def problems_of(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "bad.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    return caught.value.problems


def test_example_config_is_valid_and_documents_every_section() -> None:
    config = load_config(REPO / "config.example.toml")
    assert config.watch and config.watch[0].mode == "drop"
    text = (REPO / "config.example.toml").read_text()
    for section in ("[library]", "[engine]", "[control]", "[log]", "[tagging]", "[dedup]", "[rename]", "[metadata]"):
        assert section in text


def test_unknown_key_is_named_with_a_hint(tmp_path: Path) -> None:
    found = problems_of('[[watch]]\npath = "/tmp/x"\n[engine]\nworkrs = 2\n', tmp_path)
    assert found == [f"{tmp_path / 'bad.toml'}: engine.workrs: unknown key (did you mean 'engine.workers'?)"]


def test_wrong_types_and_values_are_all_reported_at_once(tmp_path: Path) -> None:
    found = problems_of(
        '[[watch]]\npath = "/tmp/x"\nmode = "sideways"\nrecursive = "yes"\n[engine]\nworkers = 0\n', tmp_path
    )
    text = "\n".join(found)
    assert "watch[0].mode: expected one of 'drop', 'in-place', got 'sideways'" in text
    assert "watch[0].recursive: expected true or false, got 'yes'" in text
    assert len(found) == 2  # workers=0 is checked only once the types are right


def test_semantic_checks(tmp_path: Path) -> None:
    found = problems_of('[[watch]]\npath = "/tmp/x"\n[engine]\nworkers = 0\n', tmp_path)
    assert found == [f"{tmp_path / 'bad.toml'}: engine.workers: must be at least 1 (got 0)"]
    assert "watch: at least one [[watch]] table is needed" in problems_of("[engine]\nworkers = 1\n", tmp_path)[0]


def test_missing_required_key_and_broken_toml(tmp_path: Path) -> None:
    assert problems_of("[[watch]]\nrecursive = true\n", tmp_path) == [
        f"{tmp_path / 'bad.toml'}: watch[0].path: required key is missing"
    ]
    assert "not valid TOML" in problems_of("[[watch]\n", tmp_path)[0]


def test_paths_expand_user(tmp_path: Path) -> None:
    config = parse_config({"watch": [{"path": "~/drop"}], "data_dir": "~/data"}, tmp_path / "c.toml")
    assert config.watch[0].path == Path.home() / "drop"
    assert config.data_dir == Path.home() / "data"


def test_cli_bad_config_exits_2_with_one_line_naming_the_key(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[[watch]]\npath = "/tmp/x"\n[control]\nport = "eighty"\n', encoding="utf-8")
    for args in (["config", "check", str(path)], ["--config", str(path), "run"]):
        result = subprocess.run([sys.executable, "-m", "daemon", *args], cwd=REPO, capture_output=True, text=True)
        assert result.returncode == 2
        assert result.stderr.strip() == f"{path}: control.port: expected an integer, got 'eighty'"
    good = subprocess.run(
        [sys.executable, "-m", "daemon", "config", "check", str(REPO / "config.example.toml")],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert good.returncode == 0 and "ok" in good.stdout


def test_example_config_lists_every_key_of_every_section_with_its_default() -> None:
    import dataclasses
    import tomllib

    from daemon.config import Config

    raw = tomllib.loads((REPO / "config.example.toml").read_text())
    defaults = Config()
    for field in dataclasses.fields(Config):
        section = getattr(defaults, field.name)
        if not dataclasses.is_dataclass(section):
            continue
        written = raw.get(field.name, {})
        # A key whose default is None ("unset": [people] enabled) cannot be written in TOML: it is shown commented out.
        names = {f.name for f in dataclasses.fields(section) if getattr(section, f.name) is not None}
        assert set(written) == names, (field.name, names ^ set(written))
        for key, value in written.items():
            if field.name == "library":  # the default library folder depends on the platform
                continue
            assert value == getattr(section, key), (
                f"[{field.name}] {key} = {value!r}, default {getattr(section, key)!r}"
            )
