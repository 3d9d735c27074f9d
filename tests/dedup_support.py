"""Near-duplicates made from real photos, and the real pipeline driven in-process (no threads) for dedup tests.

`make_variants` writes the copies a photo library really gets: resized, recompressed, re-oriented, cropped,
watermarked, converted. `Pipeline` runs the real stages through real StageWorkers on a real SQLite file.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw, ImageFont, ImageOps

from daemon.config import Config, DedupConfig, WatchConfig
from daemon.pipeline import build_pipeline
from daemon.pipeline.workers import Control, StageWorker
from daemon.store import Store, queue
from daemon.store.queue import FileStat

TAG_ORIENTATION, TAG_EXIF_IFD, TAG_DATETIME_ORIGINAL = 0x0112, 0x8769, 0x9003
VARIANTS = (
    "resize50",
    "resize25",
    "jpeg_q50",
    "rotated_pixels",
    "orientation_tag",
    "turned_untagged",
    "mirrored",
    "crop5",
    "text",
    "png",
)


def upright(source: Path) -> tuple[Image.Image, Image.Exif]:
    """The photo as displayed (orientation applied, RGB, transparency on white) and its EXIF with Orientation 1."""
    with Image.open(source) as image:
        exif = image.getexif()
        shown = ImageOps.exif_transpose(image)
        if shown.mode in ("RGBA", "LA", "P"):
            rgba = shown.convert("RGBA")
            background = Image.new("RGB", rgba.size, (255, 255, 255))
            background.paste(rgba, mask=rgba.getchannel("A"))
            shown = background
        shown = shown.convert("RGB")
    if TAG_ORIENTATION in exif:
        exif[TAG_ORIENTATION] = 1
    return shown, exif


def make_variant(source: Path, kind: str, target_dir: Path) -> Path:
    """One near-duplicate of `source`; the file name says which (e.g. `photo__crop5.jpg`)."""
    image, exif = upright(source)
    width, height = image.size
    stem = f"{source.stem}__{kind}"
    target = target_dir / f"{stem}.{'png' if kind == 'png' else 'jpg'}"
    if kind == "resize50":
        image.resize((width // 2, height // 2), Image.Resampling.LANCZOS).save(target, quality=90, exif=exif)
    elif kind == "resize25":
        image.resize((max(1, width // 4), max(1, height // 4)), Image.Resampling.LANCZOS).save(
            target, quality=90, exif=exif
        )
    elif kind == "jpeg_q50":
        image.save(target, quality=50, exif=exif)
    elif kind == "rotated_pixels":  # stored turned, with the Orientation tag that turns it back (as phones do)
        exif[TAG_ORIENTATION] = 6
        image.transpose(Image.Transpose.ROTATE_90).save(target, quality=90, exif=exif)
    elif kind == "orientation_tag":  # the same pixels, Orientation changed: viewers show it turned by 90 degrees
        exif[TAG_ORIENTATION] = 6
        image.save(target, quality=95, exif=exif)
    elif kind == "turned_untagged":  # a phone's sideways pixels saved without their Orientation tag (a converter)
        image.transpose(Image.Transpose.ROTATE_90).save(target, quality=90, exif=exif)
    elif kind == "mirrored":  # a selfie flipped left to right
        image.transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(target, quality=90, exif=exif)
    elif kind == "crop5":  # 5% of width and height cut away, half on each side
        dx, dy = round(width * 0.025), round(height * 0.025)
        image.crop((dx, dy, width - dx, height - dy)).save(target, quality=90, exif=exif)
    elif kind == "text":  # a small watermark in the lower left corner, 1/20 of the height
        marked = image.copy()
        size = max(10, height // 20)
        font = ImageFont.load_default(size=size)
        ImageDraw.Draw(marked).text(
            (width // 40, height - 2 * size), "(c) 2024 Jane Doe", fill=(255, 255, 255), font=font
        )
        marked.save(target, quality=90, exif=exif)
    elif kind == "png":
        image.save(target, "PNG")
    else:
        raise ValueError(kind)
    return target


def crop_copy(source: Path, target: Path, cut: float, side: bool = False) -> Path:
    """`source` with `cut` of its width and height cut away (half on each side), or of its width from one side."""
    image, exif = upright(source)
    width, height = image.size
    if side:
        box = (0, 0, width - round(width * cut), height)
    else:
        dx, dy = round(width * cut / 2), round(height * cut / 2)
        box = (dx, dy, width - dx, height - dy)
    image.crop(box).save(target, quality=90, exif=exif)
    return target


def screenshot_of(source: Path, target: Path, share: float = 0.6) -> Path:
    """A 1280x800 screenshot of a viewer showing `source` at `share` of the screen's width, on a dark background
    with a title bar (no EXIF: a screenshot has none of the photo's)."""
    image, _ = upright(source)
    screen = Image.new("RGB", (1280, 800), (32, 33, 36))
    ImageDraw.Draw(screen).rectangle((0, 0, 1280, 40), fill=(60, 64, 72))
    ImageDraw.Draw(screen).text((16, 10), source.name, fill=(230, 230, 230), font=ImageFont.load_default(size=18))
    width = round(1280 * share)
    height = round(width * image.height / image.width)
    if height > 720:
        height, width = 720, round(720 * image.width / image.height)
    screen.paste(image.resize((width, height), Image.Resampling.LANCZOS), ((1280 - width) // 2, 60))
    screen.save(target, "PNG")
    return target


def make_variants(source: Path, target_dir: Path, kinds: Iterable[str] = VARIANTS) -> dict[str, Path]:
    target_dir.mkdir(parents=True, exist_ok=True)
    return {kind: make_variant(source, kind, target_dir) for kind in kinds}


def burst_frame(source: Path, target: Path, seconds: int = 1, shift: float = 0.02) -> Path:
    """A burst-like next frame: the camera moved by `shift` of the width and the capture time is `seconds` later."""
    image, exif = upright(source)
    width, height = image.size
    dx = round(width * shift)
    frame = image.crop((dx, 0, width, height)).resize((width, height), Image.Resampling.BICUBIC)
    exif_ifd = exif.get_ifd(TAG_EXIF_IFD)
    taken = exif_ifd.get(TAG_DATETIME_ORIGINAL)
    if not taken:
        raise ValueError(f"{source} has no DateTimeOriginal to shift")
    later = dt.datetime.strptime(str(taken)[:19], "%Y:%m:%d %H:%M:%S") + dt.timedelta(seconds=seconds)
    exif_ifd[TAG_DATETIME_ORIGINAL] = later.strftime("%Y:%m:%d %H:%M:%S")
    frame.save(target, quality=92, exif=exif)
    return target


def dedup_section(**settings: Any) -> str:
    import json

    return "[dedup]\n" + "\n".join(f"{key} = {json.dumps(value)}" for key, value in settings.items()) + "\n"


class InProcessEngine:
    """The real stages and StageWorkers on a real SQLite file, driven tick by tick from the test (no threads)."""

    def __init__(self, folder: Path, dedup: DedupConfig | None = None, filing: bool = False, tagging: bool = False):
        self.folder = folder
        self.drop = folder / "drop"
        self.drop.mkdir(parents=True, exist_ok=True)
        self.config = Config(data_dir=folder / "data", watch=[WatchConfig(path=self.drop)])
        self.config.library.root = folder / "library"
        if dedup is not None:
            self.config.dedup = dedup
        # Dedup alone: embeddings are written by the tests that need them; files stay where they were dropped.
        self.config.tagging.enabled = self.config.rename.enabled = self.config.metadata.enabled = False
        self.config.people.enabled = False
        self.config.rename.enabled = filing  # rename files them into the library (no metadata written)
        if tagging:  # the default tagger on the CPU: it stores the embeddings dedup compares
            self.config.tagging.enabled, self.config.tagging.device = True, "cpu"
        self.config.cache_dir.mkdir(parents=True, exist_ok=True)
        self.store = Store(self.config.db_path)
        self.pipeline = build_pipeline(self.config, self.store)
        control = Control()
        self.workers = [
            StageWorker(pool, 0, stages, self.pipeline, self.store, self.config, control, lambda path: None)
            for pool, stages in self.pipeline.pools().items()
        ]

    @property
    def conn(self):  # noqa: ANN201 - sqlite3.Connection
        return self.store.conn

    def add(self, paths: Iterable[Path]) -> None:
        """Queue the files (as the watcher would) and run every stage until nothing is left."""
        self.queue(paths)
        self.run()

    def queue(self, paths: Iterable[Path]) -> None:
        for path in paths:
            stat = os.stat(path)
            queue.enqueue(
                self.conn, str(path), str(self.drop), FileStat(stat.st_size, stat.st_mtime_ns, stat.st_ino), "probe"
            )

    def run(self) -> None:
        busy = True
        while busy:
            busy = False
            for worker in self.workers:
                while worker.tick():
                    busy = True

    def judge_again(self, path: Path) -> None:
        """Run the finished job of `path` again from the dedup stage (as `dupes --resolve` re-queues)."""
        from daemon.store import dedup_groups

        assert dedup_groups.apply_decision(self.conn, self.file_id(path), {}, "dedup") == "requeued"
        self.run()

    def file_id(self, path: Path) -> int:
        return self.conn.execute("SELECT id FROM files WHERE path = ?", (str(path),)).fetchone()[0]

    def group_of(self, path: Path) -> int | None:
        row = self.conn.execute(
            "SELECT group_id FROM dedup_members JOIN files ON files.id = dedup_members.file_id WHERE files.path = ?",
            (str(path),),
        ).fetchone()
        return None if row is None else row[0]

    def result(self, path: Path) -> dict[str, Any]:
        import json

        row = self.conn.execute(
            "SELECT data FROM results JOIN files ON files.id = results.file_id WHERE files.path = ? AND stage = 'dedup'",
            (str(path),),
        ).fetchone()
        assert row is not None, f"no dedup result for {path}"
        return json.loads(row[0])

    def stage_result(self, file_id: int, stage: str) -> dict[str, Any]:
        import json

        row = self.conn.execute("SELECT data FROM results WHERE file_id = ? AND stage = ?", (file_id, stage)).fetchone()
        assert row is not None, f"no {stage} result for file {file_id}"
        return json.loads(row[0])

    def failures(self) -> list[tuple[str, str]]:
        rows = self.conn.execute(
            "SELECT files.path, jobs.error FROM jobs JOIN files ON files.id = jobs.file_id WHERE jobs.state = 'failed'"
        )
        return [(row[0], row[1]) for row in rows]

    def close(self) -> None:
        self.pipeline.close()
        self.store.close()


def pair_scores(truth: dict[Path, str], predicted: dict[Path, int | None]) -> dict[str, Any]:
    """Pairwise precision and recall of predicted groups against true clusters (same label = same picture)."""
    paths = sorted(truth)
    true_pairs = {(a, b) for i, a in enumerate(paths) for b in paths[i + 1 :] if truth[a] == truth[b]}
    found = {
        (a, b)
        for i, a in enumerate(paths)
        for b in paths[i + 1 :]
        if predicted.get(a) is not None and predicted.get(a) == predicted.get(b)
    }
    hits = len(true_pairs & found)
    return {
        "pairs_true": len(true_pairs),
        "pairs_found": len(found),
        "precision": round(hits / len(found), 4) if found else 1.0,
        "recall": round(hits / len(true_pairs), 4) if true_pairs else 1.0,
        "missed": sorted((a.name, b.name) for a, b in true_pairs - found),
        "wrong": sorted((a.name, b.name) for a, b in found - true_pairs),
    }
