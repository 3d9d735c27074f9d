"""TOML config -> typed, validated settings.

Every problem is reported at once, each naming the file, the dotted key and the bad value.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from daemon.config.checks import check_semantics
from daemon.config.schema import build
from daemon.config.settings import (
    APP_NAME,
    AnalyzersConfig,
    ClusterConfig,
    Config,
    ControlConfig,
    DedupConfig,
    EngineConfig,
    GpuConfig,
    LibraryConfig,
    LogConfig,
    MetadataConfig,
    OcrConfig,
    PeopleConfig,
    PlacesConfig,
    QualityConfig,
    RenameConfig,
    ScheduleConfig,
    SensitiveConfig,
    TaggingConfig,
    WatchConfig,
    default_config_path,
    default_data_dir,
    default_drop_dir,
    default_library_root,
)
from daemon.errors import ConfigError

__all__ = [
    "APP_NAME",
    "default_data_dir",
    "default_drop_dir",
    "default_library_root",
    "default_config_path",
    "WatchConfig",
    "LibraryConfig",
    "EngineConfig",
    "ControlConfig",
    "LogConfig",
    "TaggingConfig",
    "DedupConfig",
    "RenameConfig",
    "MetadataConfig",
    "PlacesConfig",
    "AnalyzersConfig",
    "OcrConfig",
    "QualityConfig",
    "SensitiveConfig",
    "PeopleConfig",
    "GpuConfig",
    "ScheduleConfig",
    "ClusterConfig",
    "Config",
    "ConfigError",
    "load_config",
    "parse_config",
]


def load_config(path: Path | str | None) -> Config:
    """Read and validate a TOML file; None means the defaults with one drop folder."""
    if path is None:
        config = Config()
        config.watch = [WatchConfig(path=default_drop_dir())]
        return config
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError([f"{path}: file not found"]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: not valid TOML: {exc}"]) from None
    return parse_config(raw, path)


def parse_config(raw: dict[str, Any], source: Path) -> Config:
    problems: list[str] = []
    config = build(Config, raw, "", source, problems)
    if config is not None:
        config.source = source
        check_semantics(config, source, problems)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config
