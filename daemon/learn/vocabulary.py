"""Learning from corrections of the model's own keywords: when the user rejects a keyword often, raise its threshold
above the scores they rejected, or stop proposing it when no threshold separates what they kept from what they didn't.

Pure policy (verdicts in, a decision out); the learner (daemon/learn/service.py) stores it and updates the library.
"""

from __future__ import annotations

from dataclasses import dataclass

MIN_REJECTIONS = 3  # one or two rejections say something about those photos, not about the keyword
MAX_REJECTED_SHARE = 0.25  # above a raised threshold, at most this share of the judged proposals were rejected


@dataclass(frozen=True)
class Decision:
    state: str  # "raised" | "muted"
    threshold: float | None
    accepted: int
    rejected: int
    reason: str


def decide(keyword: str, verdicts: list[tuple[str, float]]) -> Decision | None:
    """What the user's verdicts (("accepted" | "rejected", model score)) say about proposing `keyword`; None: as is."""
    rejected = sorted(score for verdict, score in verdicts if verdict == "rejected")
    accepted = sorted(score for verdict, score in verdicts if verdict == "accepted")
    if len(rejected) < MIN_REJECTIONS:
        return None
    scores = sorted(set(rejected + accepted))
    for position, cut in enumerate(scores[1:], start=1):
        rejected_above = sum(1 for score in rejected if score >= cut)
        accepted_above = sum(1 for score in accepted if score >= cut)
        if accepted_above and rejected_above <= MAX_REJECTED_SHARE * (rejected_above + accepted_above):
            threshold = round((cut + scores[position - 1]) / 2, 4)
            below = len(rejected) - rejected_above
            return Decision(
                "raised",
                threshold,
                len(accepted),
                len(rejected),
                f"threshold raised to {threshold:.2f}: you rejected {below} of its proposals scored below that"
                f" and kept {accepted_above} of {accepted_above + rejected_above} above it",
            )
    if len(rejected) > len(accepted):
        return Decision(
            "muted",
            None,
            len(accepted),
            len(rejected),
            f"not proposed any more: you rejected it {len(rejected)} times and kept it {len(accepted)} times,"
            " at scores no threshold tells apart",
        )
    return None
