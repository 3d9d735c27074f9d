"""What the analyze stage found, as the metadata stage wants it: OCR text and every analyzer's keywords.

Read from the stage's result (absent = nothing), cleaned the way text.py cleans the tagger's.
"""

from __future__ import annotations

from typing import Any

from daemon.metadata.text import clean_hierarchy, clean_text
from daemon.metadata.wanted import Keyword


def ocr_text(analyze: dict[str, Any]) -> str | None:
    """The OCR analyzer's text from the analyze stage's result: None when it did not run or failed."""
    found = (analyze.get("analyzers") or {}).get("ocr")
    if not found or "error" in found:
        return None
    return clean_text(found.get("text") or "", multiline=True)


def analyzer_keywords(analyze: dict[str, Any]) -> list[Keyword]:
    """The keywords every analyzer that ran found (OCR's and plugins'), with their scores and hierarchy."""
    found = []
    for result in (analyze.get("analyzers") or {}).values():
        for entry in result.get("keywords") or []:
            text = clean_text(entry.get("keyword") or "")
            score = entry.get("score")
            if text:
                found.append(
                    Keyword(
                        text,
                        float(score) if isinstance(score, int | float) else None,
                        clean_hierarchy(entry.get("hierarchy")),
                    )
                )
    return found


BEST_OF_BURST = ("best of burst", "Photo|Quality|Best of Burst")


def burst_marks(burst: dict[str, Any]) -> tuple[list[Keyword], list[str]]:
    """(keywords to add, keywords to take back) from a frame's burst mark (store/scores.py): the best frame of a
    burst carries `best of burst`; a frame that lost the mark has it withdrawn (only where the engine wrote it)."""
    if not burst:
        return [], []
    if burst.get("best"):
        return [Keyword(BEST_OF_BURST[0], None, BEST_OF_BURST[1])], []
    return [], [BEST_OF_BURST[0]]
