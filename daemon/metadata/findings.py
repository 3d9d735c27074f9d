"""What the analyze stage found, as the metadata stage wants it: OCR text and every analyzer's keywords.

Read from the stage's result (absent = nothing), cleaned the way plan.py cleans the tagger's.
"""

from __future__ import annotations

from typing import Any

from daemon.metadata.plan import Keyword, clean_hierarchy, clean_text


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
