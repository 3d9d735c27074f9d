"""The learner: one background thread that retrains a taught keyword when its examples change, applies it to the
library already tagged, and takes a keyword back (`untaught`); changed photos go back to the metadata stage.

Requests are served in order; each answers through an Event once its classifier is stored, while the library
is still being updated (progress in `status()`; it waits while the engine is paused).
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from daemon.learn import classifier, vocabulary
from daemon.learn.apply import version_label
from daemon.store import Store, feedback, learned

if TYPE_CHECKING:
    from daemon.pipeline.workers import Control

log = logging.getLogger("image_engine.learn")
CHUNK = 500  # photos written per transaction while applying to the library
CORRECTIONS_EVERY_SECONDS = 5.0  # how often the review app's corrections are looked at


@dataclass
class Request:
    keyword: str
    action: str  # "train" | "apply" (the stored classifier, e.g. imported) | "forget" | "vocabulary" (a model keyword)
    trained: threading.Event = field(default_factory=threading.Event)
    outcome: dict[str, Any] = field(default_factory=dict)


class Learner:
    def __init__(
        self,
        store: Store,
        stop: threading.Event,
        paused: Callable[[], bool],
        wake_workers: Callable[[], None],
        metadata_stage: str | None,
    ):
        self.store = store
        self.stop = stop
        self.paused = paused
        self.wake_workers = wake_workers
        self.metadata_stage = metadata_stage
        self._requests: list[Request] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._progress: dict[str, Any] = {"state": "idle"}
        self._thread = threading.Thread(target=self._loop, name="learner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        """After the stop event is set: wait for the request in hand to end (training is seconds)."""
        if self._thread.ident is not None:
            self._thread.join(timeout)

    @classmethod
    def for_engine(cls, store: Store, control: Control, stage_names: set[str]) -> Learner:
        """`control`: the workers' Control (stop event, paused flag, wake-up); metadata is redone when it is a stage."""
        return cls(
            store,
            control.stop,
            lambda: control.paused,
            control.work_available.set,
            "metadata" if "metadata" in stage_names else None,
        )

    def submit(self, keyword: str, action: str = "train") -> Request:
        request = Request(keyword, action)
        with self._lock:
            self._requests.append(request)
        self._wake.set()
        return request

    def status(self) -> dict[str, Any]:
        with self._lock:
            return {**self._progress, "waiting": [r.keyword for r in self._requests]}

    def _loop(self) -> None:
        next_look = 0.0
        try:
            while not self.stop.is_set():
                self._wake.wait(0.5)
                self._wake.clear()
                if time.monotonic() >= next_look:
                    next_look = time.monotonic() + CORRECTIONS_EVERY_SECONDS
                    self._retrain_corrected()
                while not self.stop.is_set():
                    with self._lock:
                        if not self._requests:
                            break
                        request = self._requests.pop(0)
                        # busy from the moment it leaves the queue: status never shows idle with work in hand
                        self._progress = {"state": "starting", "keyword": request.keyword}
                    self._serve(request)
        finally:
            self.store.release_thread()

    def _retrain_corrected(self) -> None:
        """Retrain keywords with new examples: rejected (or added) in the review app, or examples tagged since."""
        try:
            corrected = learned.corrections_since(self.store.conn)
            corrected |= set(learned.examples_newly_embedded(self.store.conn))
            judged = feedback.collect(self.store.conn)  # the model's own keywords the user rejected or kept
        except Exception:  # noqa: BLE001 - the learner keeps serving requests
            log.exception("cannot read corrections", extra={"event": "learn_failed"})
            return
        waiting = self.status()["waiting"]
        for keyword in sorted(corrected):
            if keyword not in waiting:
                self.submit(keyword)
        for keyword in sorted(judged):
            self.submit(keyword, "vocabulary")

    def _serve(self, request: Request) -> None:
        try:
            if request.action == "forget":
                self._forget(request)
            elif request.action == "vocabulary":
                self._adjust_vocabulary(request)
            elif request.action == "apply":
                self._apply_stored(request)
            else:
                self._train(request)
        except Exception as exc:  # noqa: BLE001 - a failed keyword is reported, the learner goes on
            log.exception("learning failed", extra={"event": "learn_failed", "detail": request.keyword})
            request.outcome = {"keyword": request.keyword, "state": "failed", "message": f"{request.keyword}: {exc}"}
        finally:
            request.trained.set()
            with self._lock:
                self._progress = {"state": "idle"}

    # --- train, then apply to the library ---

    def _train(self, request: Request) -> None:
        conn = self.store.conn
        keyword = request.keyword
        self._set_progress(state="training", keyword=keyword, done=0, total=0)
        labels = learned.examples(conn, keyword)
        model = learned.model_of_examples(conn, keyword)
        positives_wanted = sorted(f for f, label in labels.items() if label == 1)
        if model is None:
            message = (
                f"{keyword}: {len(positives_wanted)} example(s), none tagged yet (no image embedding);"
                " it learns once they are"
            )
            learned.save_classifier(conn, keyword, state="no_embeddings", message=message)
            request.outcome = self._summary(keyword)
            request.trained.set()
            return
        _, positives = learned.embeddings_of(conn, positives_wanted, model)
        rejected = sorted(f for f, label in labels.items() if label == 0)
        _, counter = learned.embeddings_of(conn, rejected, model)
        # Photos carrying the keyword by learning, which the user has not rejected, are no negatives: counting them
        # as such would make each retraining contradict the last one.
        leave_out = set(labels) | set(learned.learned_files(conn, keyword))
        _, sampled, others = learned.sample_others(conn, model, leave_out, classifier.NEGATIVE_SAMPLE)
        alike = int(classifier.lookalikes(positives, sampled).sum()) if len(sampled) else 0
        sampled = classifier.sample_negatives(positives, sampled)
        weight = others / len(sampled) if len(sampled) else 1.0
        negatives = (
            np.concatenate([m for m in (counter, sampled) if len(m)]) if len(counter) or len(sampled) else counter
        )
        started = time.monotonic()
        trained = classifier.train(positives, negatives, weight if not len(counter) else 1.0)
        train_ms = (time.monotonic() - started) * 1000
        wanted = self._score_library(model, trained, set(rejected)) if trained.state == "ready" else {}
        would_tag = len(wanted)
        message = describe(keyword, trained, would_tag, alike)
        version = learned.save_classifier(
            conn,
            keyword,
            model=model,
            state=trained.state,
            message=message,
            weights=trained.weights,
            intercept=trained.intercept,
            threshold=None if math.isinf(trained.threshold) else trained.threshold,
            precision=trained.precision,
            recall=trained.recall,
            positives=trained.positives,
            negatives=trained.negatives,
            would_tag=would_tag,
        )
        log.info("keyword taught", extra={"event": "taught", "detail": f"{message} ({train_ms:.0f} ms)"})
        request.outcome = self._summary(keyword)
        request.trained.set()
        if trained.state == "ready":
            self._apply(keyword, wanted, version)
        else:
            self._withdraw(keyword, set(learned.learned_files(conn, keyword)))

    def _apply_stored(self, request: Request) -> None:
        conn = self.store.conn
        info = learned.classifier(conn, request.keyword)
        request.outcome = self._summary(request.keyword)
        request.trained.set()
        if info is None or info["state"] != "ready" or info["weights"] is None or info["threshold"] is None:
            return
        stored = classifier.Trained(
            "ready", info["positives"], info["negatives"], info["weights"], info["intercept"] or 0.0, info["threshold"]
        )
        rejected = {f for f, label in learned.examples(conn, request.keyword).items() if label == 0}
        self._apply(request.keyword, self._score_library(info["model"], stored, rejected), info["version"])

    def _score_library(self, model: str, trained: classifier.Trained, rejected: set[int]) -> dict[int, float]:
        """file id -> score of every library photo the classifier tags (one pass: it also gives "would tag N")."""
        wanted: dict[int, float] = {}
        for ids, matrix in learned.embedding_pages(self.store.conn, model):
            decisions = classifier.scores(matrix, trained.weights, trained.intercept)
            for index in np.flatnonzero(decisions >= trained.threshold).tolist():
                file_id = int(ids[index])
                if file_id not in rejected:
                    wanted[file_id] = classifier.probability(float(decisions[index]))
        return wanted

    def _apply(self, keyword: str, wanted: dict[int, float], version: int) -> None:
        before = learned.learned_files(self.store.conn, keyword)
        label = version_label(version)
        add = {f: s for f, s in wanted.items() if f not in before or abs(before[f] - round(s, 4)) > 1e-4}
        remove = [f for f in before if f not in wanted]
        self._write(keyword, add, remove, label)

    def _forget(self, request: Request) -> None:
        conn = self.store.conn
        keyword = request.keyword
        self._set_progress(state="removing", keyword=keyword, done=0, total=0)
        files = set(learned.learned_files(conn, keyword))
        learned.forget(conn, keyword)
        request.outcome = {"keyword": keyword, "removed": len(files)}
        request.trained.set()
        self._withdraw(keyword, files)

    def _withdraw(self, keyword: str, files: set[int]) -> None:
        self._write(keyword, {}, sorted(files), "")

    def _write(self, keyword: str, add: dict[int, float], remove: list[int], label: str) -> None:
        work: list[tuple[str, int, float]] = [("add", f, s) for f, s in add.items()]
        work += [("remove", f, 0.0) for f in remove]

        def change(chunk: list[tuple[str, int, float]]) -> list[int]:
            return learned.set_learned(
                self.store.conn,
                keyword,
                {f: s for kind, f, s in chunk if kind == "add"},
                [f for kind, f, _ in chunk if kind == "remove"],
                label,
            )

        self._in_chunks(keyword, work, change)

    def _in_chunks(self, keyword: str, work: list[Any], change: Callable[[list[Any]], list[int]]) -> None:
        """In chunks, so the tag stage and the API are never kept waiting long; waits while the engine is paused.
        `change` edits one chunk and returns the photos whose keywords changed (their metadata is written again)."""
        self._set_progress(state="applying", keyword=keyword, done=0, total=len(work))
        for start in range(0, len(work), CHUNK):
            while self.paused() and not self.stop.is_set():
                self._set_progress(state="paused")
                time.sleep(0.2)
            if self.stop.is_set():
                return
            self._set_progress(state="applying")
            chunk = work[start : start + CHUNK]
            changed = change(chunk)
            if self.metadata_stage and changed:
                learned.requeue_metadata(self.store.conn, changed, self.metadata_stage)
                self.wake_workers()
            self._set_progress(done=start + len(chunk))

    # --- the model's own keywords, from the user's corrections ---

    def _adjust_vocabulary(self, request: Request) -> None:
        """Decide from the verdicts on a model keyword; a raised threshold or a muted keyword also takes the keyword
        back from the photos the user has not judged (where the engine wrote it)."""
        conn = self.store.conn
        keyword = request.keyword
        current = feedback.adjustment(conn, keyword)
        verdicts = feedback.verdicts(conn, keyword)
        if current is not None and (current["state"] == "kept" or not verdicts):
            decided = current  # the user's "keep proposing it", or one imported from another machine: as it is
        else:
            decision = vocabulary.decide(keyword, verdicts)
            if decision is None:
                if current is not None:
                    feedback.clear_adjustment(conn, keyword)
                request.outcome = {"keyword": keyword, "state": "as configured"}
                return
            decided = {"state": decision.state, "threshold": decision.threshold, "reason": decision.reason}
            if current is None or (current["state"], current["threshold"]) != (decision.state, decision.threshold):
                feedback.save_adjustment(
                    conn,
                    keyword,
                    decision.state,
                    decision.threshold,
                    decision.accepted,
                    decision.rejected,
                    decision.reason,
                )
                log.info("keyword adjusted", extra={"event": "vocabulary", "detail": f"{keyword}: {decision.reason}"})
        request.outcome = {"keyword": keyword, **decided}
        request.trained.set()
        if decided["state"] in ("raised", "muted"):
            files = feedback.proposals_to_withdraw(conn, keyword, decided["threshold"])
            self._in_chunks(keyword, files, lambda chunk: feedback.withdraw(self.store.conn, keyword, chunk))

    def _set_progress(self, **values: Any) -> None:
        with self._lock:
            self._progress.update(values)

    def _summary(self, keyword: str) -> dict[str, Any]:
        return summary(self.store.conn, keyword)


def summary(conn: Any, keyword: str) -> dict[str, Any]:
    """One taught keyword as the API shows it (no weights)."""
    info = learned.classifier(conn, keyword)
    if info is None:
        return {"keyword": keyword, "state": "unknown", "message": f"{keyword} is not a taught keyword"}
    info.pop("weights", None)
    return {**info, **learned.counts(conn, keyword)}


def describe(keyword: str, trained: classifier.Trained, would_tag: int, lookalikes: int = 0) -> str:
    """The sentence `teach` prints; `lookalikes`: other photos that look as much like the examples as they do each
    other (they count as not-KEYWORD until the user says: when they are KEYWORD, that is why it refuses)."""
    examples = f"{trained.positives} example{'s' if trained.positives != 1 else ''}"
    if trained.state == "too_few":
        if trained.positives < classifier.MIN_EXAMPLES:
            return (
                f"{keyword}: {examples}; teach at least {classifier.MIN_EXAMPLES} (better 5-10) before it tags anything"
            )
        return f"{keyword}: {examples}, but too few other tagged photos to compare with; nothing is tagged yet"
    if trained.state == "inconsistent":
        alike = (
            f"; {lookalikes} other photo(s) look as much like them as they do each other: if those show {keyword},"
            " teach them too (else teach them with --not)"
            if lookalikes
            else ""
        )
        return (
            f"{keyword}: {examples}, but they do not set {keyword} apart from other photos (estimated precision at"
            f" best {trained.best_precision or 0:.2f}); nothing is tagged: check the examples, or add more{alike}"
        )
    advice = "; add a few more examples to improve" if trained.positives < classifier.WELL_TAUGHT else ""
    return f"{keyword}: {examples}, estimated precision {trained.precision:.2f}, would tag {would_tag} photos{advice}"
