"""One keyword's classifier: logistic regression on image embeddings, its threshold chosen for precision.

Cross-validation on the examples gives out-of-fold scores; the threshold is the lowest that keeps the estimated
precision at the target, so the engine tags fewer photos rather than wrong ones. scikit-learn is imported lazily.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIN_EXAMPLES = 3
TARGET_PRECISION = 0.9
MIN_PRECISION = 0.75  # below this at every threshold the examples do not tell the keyword apart
WELL_TAUGHT = 10  # from this many examples on, `teach` stops asking for more
NEGATIVE_SAMPLE = 3000
REGULARISATION = 10.0  # LogisticRegression C: the embeddings are unit vectors, whose weights need room to grow
INSTALL_HINT = "taught keywords need scikit-learn: pip install 'image-engine[learn]' (or pip install scikit-learn)"


@dataclass
class Trained:
    """A trained classifier (state 'ready'), or why there is none (too_few, inconsistent)."""

    state: str
    positives: int
    negatives: int
    weights: np.ndarray | None = None
    intercept: float = 0.0
    threshold: float = math.inf
    precision: float | None = None
    recall: float | None = None
    best_precision: float | None = None


def train(
    positives: np.ndarray,
    negatives: np.ndarray,
    negative_weight: float = 1.0,
    target: float = TARGET_PRECISION,
    seed: int = 0,
) -> Trained:
    """`negative_weight`: how many library photos each sampled negative stands for (precision is about the library)."""
    n_pos, n_neg = len(positives), len(negatives)
    if n_pos < MIN_EXAMPLES or n_neg < 2:
        return Trained("too_few", n_pos, n_neg)
    try:
        from sklearn.linear_model import LogisticRegression
        from sklearn.model_selection import StratifiedKFold, cross_val_predict
    except ImportError as exc:
        raise RuntimeError(INSTALL_HINT) from exc

    features = np.concatenate([positives, negatives]).astype(np.float32)
    labels = np.concatenate([np.ones(n_pos, dtype=np.int8), np.zeros(n_neg, dtype=np.int8)])

    def model() -> LogisticRegression:
        return LogisticRegression(C=REGULARISATION, class_weight="balanced", max_iter=1000)

    folds = StratifiedKFold(n_splits=min(5, n_pos, n_neg), shuffle=True, random_state=seed)
    held_out = cross_val_predict(model(), features, labels, cv=folds, method="decision_function")
    threshold, precision, recall, best = choose_threshold(held_out[:n_pos], held_out[n_pos:], negative_weight, target)
    final = model().fit(features, labels)
    trained = Trained(
        "ready",
        n_pos,
        n_neg,
        final.coef_[0].astype(np.float32),
        float(final.intercept_[0]),
        threshold,
        precision,
        recall,
        best,
    )
    if precision < MIN_PRECISION:
        trained.state = "inconsistent"
    return trained


def choose_threshold(
    positive_scores: np.ndarray, negative_scores: np.ndarray, negative_weight: float, target: float
) -> tuple[float, float, float, float]:
    """(threshold, precision, recall, best precision seen) from held-out scores.

    The lowest threshold whose precision reaches `target` (most recall); when none does, the most precise one.
    """
    positives = np.sort(np.asarray(positive_scores, dtype=np.float64))[::-1]
    negatives = np.sort(np.asarray(negative_scores, dtype=np.float64))[::-1]
    best: tuple[float, float, float] | None = None  # (precision, recall, threshold)
    chosen: tuple[float, float, float] | None = None
    for index, cut in enumerate(positives):
        true_positives = index + 1
        if index + 1 < len(positives) and positives[index + 1] == cut:
            continue  # ties: decide at the last positive with this score
        false_positives = int(np.searchsorted(-negatives, -cut, side="right"))
        precision = true_positives / (true_positives + negative_weight * false_positives)
        recall = true_positives / len(positives)
        threshold = _between(cut, negatives, false_positives)
        if best is None or precision > best[0]:
            best = (precision, recall, threshold)
        if precision >= target:
            chosen = (precision, recall, threshold)
    assert best is not None
    precision, recall, threshold = chosen or best
    return threshold, precision, recall, best[0]


def _between(cut: float, negatives: np.ndarray, above: int) -> float:
    """Halfway between the chosen positive score and the next negative below it: a margin for unseen photos."""
    below = negatives[above:] if above < len(negatives) else np.zeros(0)
    lower = below[below < cut]
    return float(cut) if not len(lower) else float((cut + lower[0]) / 2)


def lookalikes(positives: np.ndarray, others: np.ndarray, closest: bool = False) -> np.ndarray:
    """Which of `others` are as near to an example as the examples are to each other (their nearest example's cosine
    similarity reaches the examples' median nearest-example one): maybe more photos of the keyword, maybe look-alikes.

    `closest`: only those nearer to an example than the two closest examples are to each other: most likely more
    photos of the keyword (the same subject, the same series), which the sample must not count as not-KEYWORD."""
    if len(positives) < 2 or not len(others):
        return np.zeros(len(others), dtype=bool)
    units = positives / np.maximum(np.linalg.norm(positives, axis=1, keepdims=True), 1e-12)
    among = units @ units.T
    np.fill_diagonal(among, -1.0)
    nearest = (others / np.maximum(np.linalg.norm(others, axis=1, keepdims=True), 1e-12)) @ units.T
    bar = float(among.max()) if closest else float(np.median(among.max(axis=1)))
    return nearest.max(axis=1) >= bar


def sample_negatives(positives: np.ndarray, sampled: np.ndarray) -> np.ndarray:
    """The sampled library photos that count as not-KEYWORD: all but the closest look-alikes of the examples (most
    likely untaught photos of the keyword; counted against it they made the engine refuse keywords the library has
    many photos of). The user's counter-examples always count: they are not sampled."""
    return sampled[~lookalikes(positives, sampled, closest=True)] if len(sampled) else sampled


def scores(matrix: np.ndarray, weights: np.ndarray, intercept: float) -> np.ndarray:
    """Decision values (log-odds) for rows of `matrix`."""
    return matrix @ np.asarray(weights, dtype=np.float32) + np.float32(intercept)


def probability(decision: float) -> float:
    """The score shown and stored with a learned keyword."""
    return 1.0 / (1.0 + math.exp(-max(-60.0, min(60.0, decision))))
