"""Checks across a parsed config's keys: ranges, paths that must not nest, templates and names that must parse.

Each problem names the file, the dotted key and the bad value; all are reported at once.
"""

from __future__ import annotations

from pathlib import Path

from daemon.config.settings import Config, DedupConfig, PeopleConfig, SensitiveConfig, TaggingConfig


def check_semantics(config: Config, source: Path, problems: list[str]) -> None:
    if not config.watch:
        problems.append(f"{source}: watch: at least one [[watch]] table is needed")
    for index, watch in enumerate(config.watch):
        if watch.poll_interval <= 0:
            problems.append(f"{source}: watch[{index}].poll_interval: must be > 0 (got {watch.poll_interval})")
        if _inside(watch.path, config.data_dir):
            problems.append(f"{source}: watch[{index}].path: must not be inside data_dir ({watch.path})")
    if config.engine.workers < 1:
        problems.append(f"{source}: engine.workers: must be at least 1 (got {config.engine.workers})")
    if config.engine.settle_seconds < 0:
        problems.append(f"{source}: engine.settle_seconds: must be >= 0 (got {config.engine.settle_seconds})")
    if config.engine.max_attempts < 1:
        problems.append(f"{source}: engine.max_attempts: must be at least 1 (got {config.engine.max_attempts})")
    if not 64 <= config.engine.reduced_size <= 4096:
        problems.append(f"{source}: engine.reduced_size: must be 64..4096 (got {config.engine.reduced_size})")
    if not 1 <= config.metadata.batch_size <= 1000:
        problems.append(f"{source}: metadata.batch_size: must be 1..1000 (got {config.metadata.batch_size})")
    if not 0 < config.places.max_km <= 1000:
        problems.append(f"{source}: places.max_km: must be more than 0 and at most 1000 (got {config.places.max_km})")
    if not 0 <= config.control.port <= 65535:
        problems.append(f"{source}: control.port: must be 0..65535 (got {config.control.port})")
    _check_tagging(config.tagging, source, problems)
    if not 0 <= config.ocr.min_confidence <= 1:
        problems.append(f"{source}: ocr.min_confidence: must be 0..1 (got {config.ocr.min_confidence})")
    if not 256 <= config.ocr.read_size <= 8192:
        problems.append(f"{source}: ocr.read_size: must be 256..8192 (got {config.ocr.read_size})")
    _check_people(config.people, source, problems)
    _check_sensitive(config.sensitive, source, problems)
    _check_gpu_and_schedule(config, source, problems)
    _check_rename(config, source, problems)
    _check_dedup(config.dedup, source, problems)


def _check_people(people: PeopleConfig, source: Path, problems: list[str]) -> None:
    if not 128 <= people.detect_size <= 8192:
        problems.append(f"{source}: people.detect_size: must be 128..8192 (got {people.detect_size})")
    for key in ("min_score", "match_distance", "cluster_distance"):
        value = getattr(people, key)
        if not 0 < value <= 2:
            problems.append(f"{source}: people.{key}: must be more than 0 and at most 2 (got {value})")
    if people.min_faces < 1:
        problems.append(f"{source}: people.min_faces: must be at least 1 (got {people.min_faces})")


def _check_tagging(tagging: TaggingConfig, source: Path, problems: list[str]) -> None:
    for key in ("batch_size", "top_k", "max_keywords"):
        if getattr(tagging, key) < 1:
            problems.append(f"{source}: tagging.{key}: must be at least 1 (got {getattr(tagging, key)})")
    if tagging.idle_unload_seconds < 0:
        problems.append(f"{source}: tagging.idle_unload_seconds: must be >= 0 (got {tagging.idle_unload_seconds})")
    if not 0 <= tagging.threshold <= 1:
        problems.append(f"{source}: tagging.threshold: must be 0..1 (got {tagging.threshold})")
    for keyword, value in tagging.thresholds.items():
        if not 0 <= value <= 1:
            problems.append(f"{source}: tagging.thresholds.{keyword}: must be 0..1 (got {value})")
    for index, template in enumerate(tagging.prompt_templates):
        if "{}" not in template:
            problems.append(
                f"{source}: tagging.prompt_templates[{index}]: needs '{{}}' for the concept (got {template!r})"
            )
    imagenet_models = ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2")
    if tagging.backend == "imagenet" and tagging.model and tagging.model not in imagenet_models:
        problems.append(
            f"{source}: tagging.model: the imagenet backend takes one of {', '.join(imagenet_models)}"
            f" (got {tagging.model!r})"
        )


def _check_gpu_and_schedule(config: Config, source: Path, problems: list[str]) -> None:
    from daemon.schedule.workhours import parse_clock, parse_windows

    gpu, schedule = config.gpu, config.schedule
    checks = [
        ("engine.rescan_minutes", config.engine.rescan_minutes, config.engine.rescan_minutes >= 0, ">= 0 (0 = off)"),
        ("engine.crash_retry_minutes", config.engine.crash_retry_minutes, config.engine.crash_retry_minutes > 0, "> 0"),
        (
            "engine.wal_autocheckpoint",
            config.engine.wal_autocheckpoint,
            0 <= config.engine.wal_autocheckpoint <= 1_000_000,
            "0..1000000 (0: never)",
        ),
        ("gpu.sample_seconds", gpu.sample_seconds, gpu.sample_seconds > 0, "> 0"),
        ("gpu.yield_above_share", gpu.yield_above_share, 0 <= gpu.yield_above_share <= 1, "0..1 (1 = never)"),
        ("gpu.memory_budget_mb", gpu.memory_budget_mb, gpu.memory_budget_mb >= 0, ">= 0 (0 = no cap)"),
        ("gpu.device", gpu.device, gpu.device >= 0, ">= 0"),
        ("schedule.retry_failed_minutes", schedule.retry_failed_minutes, schedule.retry_failed_minutes >= 0, ">= 0"),
        ("schedule.log_retention_days", schedule.log_retention_days, schedule.log_retention_days >= 1, ">= 1"),
    ]
    for key, value, ok, expected in checks:
        if not ok:
            problems.append(f"{source}: {key}: must be {expected} (got {value})")
    try:
        parse_windows(schedule.work_hours)
    except ValueError as exc:
        problems.append(f"{source}: schedule.work_hours: {exc}")
    if schedule.maintenance_at.strip():
        try:
            parse_clock(schedule.maintenance_at)
        except ValueError as exc:
            problems.append(f"{source}: schedule.maintenance_at: {exc}")


def _check_rename(config: Config, source: Path, problems: list[str]) -> None:
    from daemon.rename.safety import legal_name
    from daemon.rename.template import TemplateError, parse_template

    try:
        parse_template(config.rename.template)
    except TemplateError as exc:
        problems.extend(
            f"{source}: rename.template: {problem} (got {config.rename.template!r})" for problem in exc.problems
        )
    placeholder = config.rename.placeholder
    if not placeholder or legal_name(placeholder) != placeholder:
        problems.append(
            f'{source}: rename.placeholder: must be a plain, non-empty name without / \\ : * ? " < > | (got {placeholder!r})'
        )
    for index, watch in enumerate(config.watch):
        if watch.mode == "drop" and _inside(config.library.root, watch.path):
            problems.append(
                f"{source}: library.root: must not be inside the drop folder watch[{index}].path ({watch.path}),"
                " or filed photos would land back in the drop folder"
            )


def _check_sensitive(sensitive: SensitiveConfig, source: Path, problems: list[str]) -> None:
    if not 0 < sensitive.threshold <= 1:
        problems.append(f"{source}: sensitive.threshold: must be in (0, 1] (got {sensitive.threshold})")
    if not sensitive.keyword.strip():
        problems.append(f"{source}: sensitive.keyword: must not be empty")
    folder = Path(sensitive.folder)
    if not sensitive.folder.strip() or folder.is_absolute() or ".." in folder.parts:
        problems.append(
            f"{source}: sensitive.folder: must be a relative folder inside the library (got {sensitive.folder!r})"
        )


def _check_dedup(dedup: DedupConfig, source: Path, problems: list[str]) -> None:
    for key in ("phash_distance", "dhash_distance", "embedding_phash_distance"):
        value = getattr(dedup, key)
        if not 0 <= value <= 32:
            problems.append(f"{source}: dedup.{key}: must be 0..32 bits of 64 (got {value})")
    if not 0 < dedup.embedding_similarity <= 1:
        problems.append(f"{source}: dedup.embedding_similarity: must be in (0, 1] (got {dedup.embedding_similarity})")
    rules = ("pixels", "size", "taken", "metadata", "best_quality")
    for index, rule in enumerate(dedup.keeper):
        if rule not in rules:
            problems.append(f"{source}: dedup.keeper[{index}]: unknown rule {rule!r} (use {', '.join(rules)})")
    if not dedup.keeper or len(set(dedup.keeper)) != len(dedup.keeper):
        problems.append(f"{source}: dedup.keeper: needs each rule at most once and at least one (got {dedup.keeper})")
    if not dedup.tag_keyword.strip():
        problems.append(f"{source}: dedup.tag_keyword: must not be empty")
    folder = Path(dedup.folder)
    if not dedup.folder.strip() or folder.is_absolute() or ".." in folder.parts:
        problems.append(f"{source}: dedup.folder: must be a folder name inside the library (got {dedup.folder!r})")


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except ValueError:
        return False
