"""The sensitive-content analyzer: open_nsfw's probability on probe's reduced copy; over the threshold, a keyword.

With `[sensitive] action = "separate"` the rename stage files such a photo under the private folder (rename/planner.py).
"""

from __future__ import annotations

from typing import Any

from daemon.analyzers import Analyzer, Findings, Photo
from daemon.config import SensitiveConfig
from daemon.ml import nsfw


class SensitiveAnalyzer(Analyzer):
    name = "sensitive"
    model = nsfw.MODEL_NAME

    def __init__(self, config: SensitiveConfig):
        self.config = config
        self.classifier = nsfw.NsfwClassifier()

    def available(self) -> str | None:
        return nsfw.available()

    def analyze(self, photo: Photo) -> Findings:
        score = round(self.classifier.scores([photo.reduced()])[0], 4)
        flagged = score >= self.config.threshold
        keyword = {"keyword": self.config.keyword, "score": score, "hierarchy": f"Photo|{self.config.keyword}"}
        keywords = [keyword] if flagged else []
        return Findings(keywords=keywords, fields={"score": score, "flagged": flagged})

    def close(self) -> None:
        self.classifier.close()


def flagged(analyze_result: dict[str, Any]) -> bool:
    """True when the analyze stage's result says the sensitive analyzer flagged the photo."""
    found = (analyze_result.get("analyzers") or {}).get("sensitive") or {}
    return bool((found.get("fields") or {}).get("flagged"))
