"""OCR on ../shared/corpus/text/ (labels.csv: ground truth and kind): the engine's way against the naive ways.

Ours: text detection on the reduced copy (at 320 px, one thread); only where it finds text, detection + orientation
+ recognition on a copy of up to [ocr] read_size px. Naive: recognition on the whole image (no detection). Ungated:
detection + recognition on every photo, text or not. Figures per kind: character error rate (edit distance / truth
length; files whose truth is only an excerpt are left out of CER), word recall (truth words found), ms per photo
with and without text, in wall time and in this process's CPU time (all its threads; on a shared, loaded machine the
wall time mostly measures waiting). Usage: python -m bench.ocr [--repeat 1]
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import time
from statistics import mean, median

from PIL import Image, ImageOps

from bench.common import CORPUS, emit, log
from daemon.config import OcrConfig
from daemon.ml.ocr import TextReader, model_name

REDUCED = 384  # engine.reduced_size default: what probe hands the analyzers


def edit_distance(first: str, second: str) -> int:
    previous = list(range(len(second) + 1))
    for index, char in enumerate(first, 1):
        current = [index]
        for other_index, other in enumerate(second, 1):
            current.append(min(previous[other_index] + 1, current[-1] + 1, previous[other_index - 1] + (char != other)))
        previous = current
    return previous[-1]


def normalise(text: str) -> str:
    return " ".join(text.replace("\\n", "\n").split())


def words(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


def scored(truth: str, found: str, partial: bool) -> dict[str, float | None]:
    truth, found = normalise(truth), normalise(found)
    wanted = words(truth)
    got = set(words(found))
    recall = sum(word in got for word in wanted) / len(wanted) if wanted else None
    cer = None if partial or not truth else edit_distance(found, truth) / len(truth)
    return {"cer": cer, "word_recall": recall}


def copy_of(image: Image.Image, size: int) -> Image.Image:
    copy = image.copy()
    copy.thumbnail((size, size))
    return copy


def timed(function, *args, repeat: int = 1):  # noqa: ANN001, ANN202 - bench helper
    """(value, wall ms, CPU ms of this process, all threads) of the fastest of `repeat` runs."""
    best, best_cpu, value = float("inf"), float("inf"), None
    for _ in range(repeat):
        began, began_cpu = time.perf_counter(), time.process_time()
        value = function(*args)
        best = min(best, (time.perf_counter() - began) * 1000)
        best_cpu = min(best_cpu, (time.process_time() - began_cpu) * 1000)
    return value, best, best_cpu


def summary(rows: list[dict], key: str) -> float | None:
    values = [row[key] for row in rows if row[key] is not None]
    return round(mean(values), 4) if values else None


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=1, help="runs per image; the fastest counts")
    args = parser.parse_args()
    config = OcrConfig()
    reader = TextReader()
    with open(CORPUS / "text" / "labels.csv", newline="", encoding="utf-8") as handle:
        labels = list(csv.DictReader(handle))
    warm = Image.new("RGB", (64, 64), "white")
    reader.has_text(warm), reader.read(warm, 0.5), reader.read_whole(warm)  # load the models outside the timings
    rows = []
    for label in labels:
        path = CORPUS / label["file"]
        with Image.open(path) as opened:
            image = ImageOps.exif_transpose(opened).convert("RGB")
        reduced, larger = copy_of(image, REDUCED), copy_of(image, config.read_size)
        regions, gate_ms, gate_cpu = timed(reader.has_text, reduced, repeat=args.repeat)
        lines, read_ms, read_cpu = (
            timed(reader.read, larger, config.min_confidence, repeat=args.repeat) if regions else ([], 0.0, 0.0)
        )
        ours = "\n".join(line.text for line in lines)
        naive, naive_ms, naive_cpu = timed(reader.read_whole, larger, repeat=args.repeat)
        # Without the gate every photo pays for detection at reading size, text or not:
        ungated_ms, ungated_cpu = (read_ms, read_cpu) if regions else timed(reader.read, larger, 0.0)[1:]
        kind = label["kind"] if label["kind"] in ("scan", "photo", "screenshot", "none") else "scan"
        partial = "first ~" in label["label_source"]
        truth = label["text"] if kind != "none" else ""
        row = {
            "file": label["file"],
            "kind": kind,
            "language": label["language"],
            "ms": round(gate_ms + read_ms, 1),
            "cpu_ms": round(gate_cpu + read_cpu, 1),
            "gate_ms": round(gate_ms, 1),
            "naive_ms": round(naive_ms, 1),
            "naive_cpu_ms": round(naive_cpu, 1),
            "ungated_ms": round(ungated_ms, 1),
            "ungated_cpu_ms": round(ungated_cpu, 1),
            "text_found": bool(ours),
            **scored(truth, ours, partial),
            **{f"naive_{key}": value for key, value in scored(truth, naive, partial).items()},
        }
        log(f"  {row['file']}: {row['kind']} {row['ms']} ms, cer {row['cer']}, recall {row['word_recall']}")
        rows.append(row)
    kinds = {}
    for kind in sorted({row["kind"] for row in rows}):
        group = [row for row in rows if row["kind"] == kind]
        kinds[kind] = {
            "photos": len(group),
            "cer": summary(group, "cer"),
            "word_recall": summary(group, "word_recall"),
            "ms_median": round(median(row["ms"] for row in group), 1),
            "cpu_ms_median": round(median(row["cpu_ms"] for row in group), 1),
            "naive_cer": summary(group, "naive_cer"),
            "naive_word_recall": summary(group, "naive_word_recall"),
            "naive_ms_median": round(median(row["naive_ms"] for row in group), 1),
            "naive_cpu_ms_median": round(median(row["naive_cpu_ms"] for row in group), 1),
        }
    with_text = [row["ms"] for row in rows if row["kind"] != "none"]
    without = [row for row in rows if row["kind"] == "none"]
    emit(
        {
            "model": model_name(),
            "reduced_size": REDUCED,
            "read_size": config.read_size,
            "by_kind": kinds,
            "ms_per_photo_with_text_median": round(median(with_text), 1),
            "ms_per_photo_without_text_median": round(median(row["ms"] for row in without), 1),
            "cpu_ms_per_photo_without_text_median": round(median(row["cpu_ms"] for row in without), 1),
            "ungated_ms_per_photo_without_text_median": round(median(row["ungated_ms"] for row in without), 1),
            "ungated_cpu_ms_per_photo_without_text_median": round(median(row["ungated_cpu_ms"] for row in without), 1),
            "load_average_1min": round(os.getloadavg()[0], 2),
            "cpus": os.cpu_count(),
            "photos_without_text_given_text": sum(row["text_found"] for row in without),
            "naive_ms_per_photo_median": round(median(row["naive_ms"] for row in rows), 1),
            "files": rows,
        }
    )


if __name__ == "__main__":
    main()
