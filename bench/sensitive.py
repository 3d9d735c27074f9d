"""False positives of the sensitive-content analyzer on the whole shared corpus (none of it is sensitive: goal 0).

Every file under ../shared/corpus that decodes is reduced the way probe reduces it (384 px, upright) and scored by
open_nsfw (daemon/ml/nsfw.py); figures: photos scored, flagged at the default threshold and at 0.5, the highest
scores with their files, ms per photo (wall and CPU). Usage: python -m bench.sensitive [--threshold 0.8]
"""

from __future__ import annotations

import argparse
import os
import time
from statistics import median

from bench.common import CORPUS, emit, log
from daemon.config import SensitiveConfig
from daemon.ml.nsfw import MODEL_NAME, NsfwClassifier
from daemon.pipeline.imaging import open_image, reduce

REDUCED = 384  # engine.reduced_size default: what probe hands the analyzers
ORIENTATION = 0x0112
SKIP = {".csv", ".md", ".txt", ".json", ".xmp"}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--threshold", type=float, default=SensitiveConfig().threshold)
    args = parser.parse_args()
    import pillow_heif

    pillow_heif.register_heif_opener()
    files = sorted(p for p in CORPUS.rglob("*") if p.is_file() and p.suffix.lower() not in SKIP)
    classifier = NsfwClassifier(device="cpu")
    classifier.scores([open_image((CORPUS / "labelled" / "felix_101.jpg").read_bytes(), CORPUS, 10**8)])  # load
    scored: list[tuple[float, str]] = []
    undecodable: list[str] = []
    wall, cpu = [], []
    for path in files:
        try:
            opened = open_image(path.read_bytes(), path, 10**8)
            image = reduce(opened, REDUCED, opened.getexif().get(ORIENTATION))  # upright, as probe hands it over
        except Exception:  # noqa: BLE001 - broken/ on purpose: the engine reports these, the bench counts them
            undecodable.append(str(path.relative_to(CORPUS)))
            continue
        began, began_cpu = time.perf_counter(), time.process_time()
        score = classifier.scores([image])[0]
        wall.append((time.perf_counter() - began) * 1000)
        cpu.append((time.process_time() - began_cpu) * 1000)
        scored.append((score, str(path.relative_to(CORPUS))))
    scored.sort(reverse=True)
    log(f"scored {len(scored)} files, {len(undecodable)} did not decode")
    emit(
        {
            "model": MODEL_NAME,
            "provider": classifier.provider,
            "corpus_files": len(files),
            "scored": len(scored),
            "undecodable": len(undecodable),
            "threshold": args.threshold,
            "flagged": [name for score, name in scored if score >= args.threshold],
            "flagged_at_0_5": [name for score, name in scored if score >= 0.5],
            "false_positive_rate": round(sum(score >= args.threshold for score, _ in scored) / max(len(scored), 1), 4),
            "highest": [{"file": name, "score": round(score, 4)} for score, name in scored[:8]],
            "median_score": round(median(score for score, _ in scored), 4) if scored else None,
            "ms_per_photo": {"wall_median": round(median(wall), 1), "cpu_median": round(median(cpu), 1)},
            "load_average_1min": round(os.getloadavg()[0], 2),
        }
    )


if __name__ == "__main__":
    main()
