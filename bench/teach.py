"""Taught keywords on the labelled corpus: precision and recall from k = 1, 3, 5, 10 examples, against zero-shot.

Per task and k, over several random draws: the k examples plus a random half of the other photos form the library the
engine learns from (daemon.learn.classifier.train, EfficientNet-Lite0 embeddings); the held-out photos (the task's
other photos and the other half) are the new photos it tags. Refusals (too few / inconsistent) tag nothing. Zero-shot:
the ImageNet keyword mapping on the same held-out photos. Also: time to retrain and to apply to a stored library.
Usage: python -m bench.teach [--draws 10] [--library 100000]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import emit, log
from daemon.config import TaggingConfig
from daemon.learn import classifier

CORPUS = Path(__file__).resolve().parent.parent.parent / "shared" / "corpus"
KS = (1, 3, 5, 10)
# task -> (corpus label taught, zero-shot rule on the ImageNet keywords of a photo)
TASKS = {
    "domestic cat (vs small wild and big cats, and the rest)": (
        "domestic_cat",
        lambda words: "cat" in words and not ({"wild cat", "big cat"} & words),
    ),
    "big cat (vs domestic and small wild cats, and the rest)": ("big_cat", lambda words: "big cat" in words),
    "small wild cat (vs domestic and big cats, and the rest)": ("small_wild_cat", lambda words: "wild cat" in words),
    "african elephant (camera trap, vs the rest)": ("african_elephant", lambda words: "elephant" in words),
}


def embed_corpus() -> tuple[list[str], np.ndarray, list[set[str]]]:
    """Labels, EfficientNet-Lite0 embeddings and ImageNet keywords of the labelled photos, as the tag stage makes them."""
    from daemon.ml.imagenet import ImagenetBackend
    from daemon.pipeline import exif
    from daemon.pipeline.imaging import open_image, reduce
    from daemon.pipeline.vocabulary import Vocabulary

    with open(CORPUS / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["file"].startswith("labelled/")]
    config = TaggingConfig()
    backend = ImagenetBackend(config)
    backend.load("cpu")
    vocabulary = Vocabulary(config)
    images = []
    for row in rows:
        path = CORPUS / row["file"]
        image = open_image(path.read_bytes(), path, 200_000_000)
        images.append(reduce(image, 384, exif.read_facts(image, 0.0)["orientation"]))
    predictions = []
    for start in range(0, len(images), 16):
        predictions += backend.predict(images[start : start + 16])
    words = [
        {k.keyword.lower() for k in vocabulary.keywords(p, backend.describe, backend.exclusive)} for p in predictions
    ]
    backend.unload()
    return [row["label"] for row in rows], np.stack([p.embedding for p in predictions]).astype(np.float32), words


def cached_corpus(cache: Path | None) -> tuple[list[str], np.ndarray, list[set[str]]]:
    if cache is not None and cache.exists():
        log(f"corpus embeddings from {cache}")
        saved = np.load(cache, allow_pickle=False)
        words = [set(json.loads(line)) for line in saved["words"].tolist()]
        return saved["labels"].tolist(), saved["vectors"], words
    log("embedding the labelled corpus with EfficientNet-Lite0 (CPU)")
    labels, vectors, words = embed_corpus()
    if cache is not None:
        np.savez(
            cache, labels=np.array(labels), vectors=vectors, words=np.array([json.dumps(sorted(w)) for w in words])
        )
    return labels, vectors, words


def measure(labels: np.ndarray, vectors: np.ndarray, words: list[set[str]], label: str, rule: Any, k: int, draws: int):
    rng = np.random.default_rng(k)
    positives_all = np.flatnonzero(labels == label)
    if k >= len(positives_all):
        return {"k": k, "skipped": f"only {len(positives_all)} photos of {label}: none left to find"}
    others_all = np.flatnonzero(labels != label)
    runs = []
    for _ in range(draws):
        positives = rng.permutation(positives_all)
        others = rng.permutation(others_all)
        half = len(others) // 2
        examples, library_others = positives[:k], others[:half]
        held_out = np.concatenate([positives[k:], others[half:]])
        truth = labels[held_out] == label
        trained = classifier.train(vectors[examples], vectors[library_others])
        if trained.state == "ready":
            tagged = classifier.scores(vectors[held_out], trained.weights, trained.intercept) >= trained.threshold
        else:
            tagged = np.zeros(len(held_out), dtype=bool)
        zero_shot = np.array([rule(words[i]) for i in held_out])
        runs.append((trained.state, trained.precision, _pr(tagged, truth), _pr(zero_shot, truth)))
    ready = [run for run in runs if run[0] == "ready"]
    return {
        "k": k,
        "draws": draws,
        "tagged_in_draws": len(ready),
        "refused": {state: sum(1 for run in runs if run[0] == state) for state in {run[0] for run in runs} - {"ready"}},
        "estimated_precision": _mean([run[1] for run in ready]),
        "precision": _mean([run[2][0] for run in runs if run[2][0] is not None]),
        "recall": _mean([run[2][1] for run in runs]),
        "zero_shot_precision": _mean([run[3][0] for run in runs if run[3][0] is not None]),
        "zero_shot_recall": _mean([run[3][1] for run in runs]),
    }


def _pr(tagged: np.ndarray, truth: np.ndarray) -> tuple[float | None, float]:
    hits = int((tagged & truth).sum())
    return (hits / int(tagged.sum()) if tagged.any() else None), hits / max(1, int(truth.sum()))


def _mean(values: list[Any]) -> float | None:
    values = [v for v in values if v is not None]
    return round(float(np.mean(values)), 3) if values else None


def timings(size: int, dim: int = 1280) -> dict[str, Any]:
    """Retrain (10 examples + the 3,000-photo sample) and one pass over `size` stored embeddings in SQLite."""
    from daemon.store import Store, embeddings, learned
    from daemon.store.connection import transaction

    rng = np.random.default_rng(0)
    sample = rng.normal(size=(classifier.NEGATIVE_SAMPLE + 10, dim)).astype(np.float32)
    sample /= np.linalg.norm(sample, axis=1, keepdims=True)
    sample[:10, :8] += 0.2
    began = time.perf_counter()
    trained = classifier.train(sample[:10], sample[10:], negative_weight=size / classifier.NEGATIVE_SAMPLE)
    train_s = time.perf_counter() - began
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder) / "bench.db")
        conn = store.conn
        with transaction(conn):
            for start in range(0, size, 5000):
                count = min(5000, size - start)
                conn.executemany(
                    "INSERT INTO files (path, root, size, mtime_ns, inode, first_seen, last_seen)"
                    " VALUES (?, '/', 1, 1, ?, 0, 0)",
                    [(f"/p/{i}.jpg", i) for i in range(start, start + count)],
                )
                block = rng.normal(size=(count, dim)).astype(np.float32)
                block /= np.linalg.norm(block, axis=1, keepdims=True)
                for offset, vector in enumerate(block):
                    embeddings.put(conn, start + offset + 1, "m", vector)
        began = time.perf_counter()
        _, drawn, others = learned.sample_others(conn, "m", set(range(1, 11)), classifier.NEGATIVE_SAMPLE)
        sample_s = time.perf_counter() - began
        began = time.perf_counter()
        weights = trained.weights if trained.weights is not None else np.zeros(dim, dtype=np.float32)
        hits = 0
        for _, matrix in learned.embedding_pages(conn, "m"):
            hits += int((classifier.scores(matrix, weights, trained.intercept) >= trained.threshold).sum())
        apply_s = time.perf_counter() - began
        store.close()
    return {
        "library": size,
        "dim": dim,
        "train_s (10 examples + 3000 sampled)": round(train_s, 2),
        "sample_negatives_from_store_s": round(sample_s, 2),
        "score_every_stored_embedding_s": round(apply_s, 2),
        "sampled": len(drawn),
        "others": others,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--library", type=int, default=100_000)
    parser.add_argument("--cache", type=Path, help="keep the corpus embeddings in this .npz (re-runs skip the model)")
    args = parser.parse_args()
    began = time.perf_counter()
    labels, vectors, words = cached_corpus(args.cache)
    embed_s = time.perf_counter() - began
    tasks = {}
    for name, (label, rule) in TASKS.items():
        log(f"task: {name}")
        tasks[name] = [measure(np.array(labels), vectors, words, label, rule, k, args.draws) for k in KS]
    log(f"timing retrain and apply at {args.library} stored embeddings")
    emit(
        {
            "benchmark": "teach",
            "photos": len(labels),
            "embedding": "imagenet:efficientnet-lite0 (1280-d)",
            "embed_corpus_s": round(embed_s, 1),
            "target_precision": classifier.TARGET_PRECISION,
            "min_examples": classifier.MIN_EXAMPLES,
            "tasks": tasks,
            "timing": timings(args.library),
        }
    )


if __name__ == "__main__":
    main()
